"""The storage_local role on this machine (directories under a temp dir) against the test bed's
real API server: the PersistentVolumes and the StorageClass it publishes, a rerun and check
mode that change nothing, and bad input refused before anything is made.

The wipe guard's decisions are unit tests (tests/unit/plugins/plugin_utils/storage/test_storage_local.py) and lab e2e tests; a disk of this
machine is never touched here.
"""

import uuid

import pytest

from tests.integration.ansible_run import run_playbook

pytestmark = pytest.mark.slow


def run_role(testbed, role_vars, check=False):
    tasks = [{"name": "storage_local", "ansible.builtin.include_role": {"name": "xinchuang.cloud.storage_local"},
              "vars": dict({"storage_local_kubeconfig": testbed.kubeconfig,
                            "storage_local_delegate_to": "localhost"}, **role_vars)}]
    report, proc = run_playbook(tasks, check=check)
    stats = report["stats"]["localhost"]
    failures = [t["hosts"]["localhost"].get("msg") for t in report["plays"][0]["tasks"]
                if t["hosts"].get("localhost", {}).get("failed")]
    return stats, failures, proc


@pytest.fixture
def site(testbed, tmp_path):
    """A node name and a StorageClass of this test's own; their objects removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    node, klass = "xc-node-" + tag, "local-" + tag
    yield node, klass, tmp_path
    testbed.kubectl("delete", "pv", "-l", "xinchuang.cloud/storage=local", "--ignore-not-found",
                    "--field-selector", "spec.storageClassName=" + klass, check=False)
    testbed.kubectl("delete", "storageclass", klass, "--ignore-not-found", check=False)


def test_volumes_become_retained_local_pvs_of_their_node_once(testbed, site):
    node, klass, tmp = site
    volumes = [{"name": "db", "path": str(tmp / "db"), "capacity": "5Gi", "owner": "root", "mode": "0700"},
               {"name": "logs", "path": str(tmp / "logs"), "capacity": "1Gi"}]
    role_vars = {"storage_local_volumes": volumes, "storage_local_node_name": node,
                 "storage_local_storage_class": klass}
    stats, failures, proc = run_role(testbed, role_vars)
    assert not failures and stats["failures"] == 0, (failures, proc.stdout[-2000:])
    assert (tmp / "db").is_dir() and oct((tmp / "db").stat().st_mode & 0o777) == "0o700"

    sc = testbed.get_json("storageclass", klass)
    assert (sc["provisioner"], sc["volumeBindingMode"], sc["reclaimPolicy"]) == (
        "kubernetes.io/no-provisioner", "WaitForFirstConsumer", "Retain")
    pv = testbed.get_json("pv", "local-%s-db" % node)
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["local"]["path"] == str(tmp / "db")
    assert pv["spec"]["capacity"]["storage"] == "5Gi"
    assert pv["spec"]["storageClassName"] == klass
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert (term["key"], term["values"]) == ("kubernetes.io/hostname", [node])
    assert pv["status"]["phase"] == "Available"

    again, failures, _proc = run_role(testbed, role_vars)
    assert (again["changed"], failures) == (0, [])
    checked, failures, _proc = run_role(testbed, role_vars, check=True)
    assert (checked["changed"], failures) == (0, [])


def test_a_new_volume_in_check_mode_is_reported_and_not_made(testbed, site):
    node, klass, tmp = site
    role_vars = {"storage_local_volumes": [{"name": "db", "path": str(tmp / "db"), "capacity": "5Gi"}],
                 "storage_local_node_name": node, "storage_local_storage_class": klass}
    stats, failures, _proc = run_role(testbed, role_vars, check=True)
    assert not failures and stats["changed"] >= 1
    assert not (tmp / "db").exists()
    assert testbed.kubectl("get", "pv", "local-%s-db" % node, check=False).returncode != 0


@pytest.mark.parametrize("volumes, wipe, words", [
    ([{"name": "db", "path": "/srv/db", "capacity": "5Gi", "device": "/dev/sdb"}], [],
     ["device '/dev/sdb'", "/dev/disk/by-id/"]),
    ([{"name": "db", "path": "/srv/db", "capacity": "5Gi"}], ["/dev/sdb"],
     ["storage_local_wipe entry '/dev/sdb'"]),
    ([{"name": "DB", "path": "relative", "capacity": "lots"}], [],
     ["name 'DB'", "path 'relative'", "capacity 'lots'"]),
    ([{"name": "db", "path": "/srv/a", "capacity": "1Gi"}, {"name": "db", "path": "/srv/b", "capacity": "1Gi"}], [],
     ["name 'db' is used twice"]),
])
def test_bad_input_is_named_and_nothing_is_made(testbed, site, volumes, wipe, words):
    node, klass, _tmp = site
    stats, failures, _proc = run_role(testbed, {"storage_local_volumes": volumes, "storage_local_wipe": wipe,
                                                "storage_local_node_name": node,
                                                "storage_local_storage_class": klass})
    assert stats["failures"] == 1 and failures
    for word in words:
        assert word in failures[0], failures[0]
    assert "nothing was changed" in failures[0]
    assert testbed.kubectl("get", "storageclass", klass, check=False).returncode != 0


@pytest.mark.parametrize("held", ["volume", "class"])
def test_a_name_the_cluster_holds_as_something_else_is_refused_and_nothing_changes(testbed, site, held):
    """A PersistentVolume of our name at another path, or a StorageClass of our name with another
    provisioner, made by someone else: the role names it and changes nothing, neither their
    object nor the node's directory (no force_conflicts taking their fields)."""
    node, klass, tmp = site
    pv_name = "local-%s-db" % node
    if held == "volume":
        testbed.apply({"apiVersion": "v1", "kind": "PersistentVolume",
                       "metadata": {"name": pv_name, "labels": {"xinchuang.cloud/storage": "local"}},
                       "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                "persistentVolumeReclaimPolicy": "Retain", "storageClassName": klass,
                                "local": {"path": "/srv/theirs"},
                                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}})
        words = ["PersistentVolume %s already exists as the local volume /srv/theirs on %s" % (pv_name, node),
                 "rename the volume in storage_local_volumes"]
    else:
        testbed.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": klass},
                       "provisioner": "example.com/theirs", "reclaimPolicy": "Retain"})
        words = ["StorageClass %s already exists and is another class" % klass, "example.com/theirs",
                 "set storage_local_storage_class"]
    before = testbed.get_json("pv" if held == "volume" else "storageclass", pv_name if held == "volume" else klass)
    role_vars = {"storage_local_volumes": [{"name": "db", "path": str(tmp / "db"), "capacity": "5Gi"}],
                 "storage_local_node_name": node, "storage_local_storage_class": klass}
    stats, failures, _proc = run_role(testbed, role_vars)
    assert stats["failures"] == 1 and failures, failures
    for word in words:
        assert word in failures[0], failures[0]
    assert failures[0].endswith("nothing was changed")
    assert not (tmp / "db").exists()
    after = testbed.get_json("pv" if held == "volume" else "storageclass", pv_name if held == "volume" else klass)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
