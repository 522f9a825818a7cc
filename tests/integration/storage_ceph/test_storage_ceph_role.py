"""The storage_ceph role and the ceph_info module against real parts: a single-node Ceph from
Debian's packages (tests/integration/fixtures_ceph.py), the test bed's kube-apiserver, and the
session registry holding the ceph-csi image names (arm64 images only, made by the test).

What runs: the preflight against the cluster (good credentials; a wrong key; an absent pool),
the settings checks, the platform check of every image against the nodes' architectures, the
StorageClass clash check, the objects applied for real into the test bed (check mode, apply,
rerun, check rerun), and ``rbd create`` with the user and key the role put into its Secret.
What does not run here: the ceph-csi containers themselves (kwok plays the kubelets, and this
machine's kernel has no RBD client), so no volume is provisioned or mounted.
"""

import base64
import json
import uuid

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from tests.integration.ansible_run import run_module, run_playbook
from tests.integration.fixtures_registry import client_push, make_image
from tests.proof.secrets import leaks

pytestmark = pytest.mark.slow

WRONG_KEY = "AQBz0ZBlAAAAABAAb7OIsM/ZTR0ORVNWkyi5vQ=="
IMAGES = {"cephcsi": "cephcsi/cephcsi:v3.9.0", "provisioner": "sig-storage/csi-provisioner:v3.5.0",
          "attacher": "sig-storage/csi-attacher:v4.3.0", "resizer": "sig-storage/csi-resizer:v1.8.0",
          "registrar": "sig-storage/csi-node-driver-registrar:v2.8.0"}
_RBAC_NAMES = ("rbd-csi-provisioner", "rbd-csi-nodeplugin", "cephfs-csi-provisioner", "cephfs-csi-nodeplugin")
CLUSTER_WIDE = [("clusterrolebinding", n) for n in _RBAC_NAMES] + \
               [("clusterrole", n) for n in _RBAC_NAMES] + \
               [("csidriver", "rbd.csi.ceph.com"), ("csidriver", "cephfs.csi.ceph.com")]


@pytest.fixture(scope="module")
def users(ceph):
    """The users ceph-csi's documentation gives the drivers, with their keys."""
    rbd = ceph.add_user("xc-kube", ["mon", "profile rbd", "osd", "profile rbd pool=" + ceph.pool,
                                    "mgr", "profile rbd pool=" + ceph.pool])
    fs = ceph.add_user("xc-kubefs", ["mon", "allow r", "mgr", "allow rw", "mds", "allow rw",
                                     "osd", "allow rw tag cephfs *=*"])
    return {"rbd": ("xc-kube", rbd), "cephfs": ("xc-kubefs", fs)}


@pytest.fixture(scope="module")
def arm64_images(registry):
    """Every ceph-csi reference in the session registry, for linux/arm64 only."""
    client = registry.client()
    image = make_image(arch.platform_dict("arm64"), content="ceph-csi stand-in\n")
    for ref in IMAGES.values():
        repository, tag = ref.rsplit(":", 1)
        client_push(client, image, repository, tag)
    return {role: "%s/%s" % (registry.host, ref) for role, ref in IMAGES.items()}


@pytest.fixture
def site(testbed, ceph, users, registry, arm64_images):
    """The role's variables for this test (a namespace and classes of its own, the arm64 test bed
    node), and every object the role could make removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    role_vars = {
        "storage_ceph_monitors": ceph.monitors, "storage_ceph_pool": ceph.pool,
        "storage_ceph_user": users["rbd"][0], "storage_ceph_key": users["rbd"][1],
        "storage_ceph_cephfs_fs_name": ceph.fs_name,
        "storage_ceph_cephfs_user": users["cephfs"][0], "storage_ceph_cephfs_key": users["cephfs"][1],
        "storage_ceph_namespace": "ceph-csi-" + tag,
        "storage_ceph_rbd_storage_class": "ceph-rbd-" + tag,
        "storage_ceph_cephfs_storage_class": "cephfs-" + tag,
        "storage_ceph_node_selector": {"kubernetes.io/arch": "arm64"},
        "storage_ceph_registry": registry.host,
        "storage_ceph_registry_username": registry.username,
        "storage_ceph_registry_password": registry.password,
        "storage_ceph_registry_ca_path": registry.ca,
        "storage_ceph_images": dict(arm64_images),
        "storage_ceph_install_client": False,
        "storage_ceph_kubeconfig": testbed.kubeconfig,
    }
    yield role_vars
    testbed.kubectl("delete", "namespace", role_vars["storage_ceph_namespace"], "--ignore-not-found",
                    "--wait=false", check=False)
    testbed.kubectl("delete", "storageclass", role_vars["storage_ceph_rbd_storage_class"],
                    role_vars["storage_ceph_cephfs_storage_class"], "--ignore-not-found", check=False)
    for kind, name in CLUSTER_WIDE:
        testbed.kubectl("delete", kind, name, "--ignore-not-found", check=False)


def run_role(role_vars, check=False, tasks_from="main", diff=False):
    tasks = [{"name": "storage_ceph", "ansible.builtin.include_role": {
        "name": "xinchuang.cloud.storage_ceph", "tasks_from": tasks_from}, "vars": role_vars}]
    report, proc = run_playbook(tasks, check=check, diff=diff)
    stats = report["stats"]["localhost"]
    failures = [t["hosts"]["localhost"].get("msg") for t in report["plays"][0]["tasks"]
                if t["hosts"].get("localhost", {}).get("failed")]
    return stats, failures, proc


def assert_nothing_made(testbed, role_vars):
    assert testbed.kubectl("get", "namespace", role_vars["storage_ceph_namespace"], check=False).returncode != 0
    assert testbed.kubectl("get", "storageclass", role_vars["storage_ceph_rbd_storage_class"],
                           check=False).returncode != 0


def test_ceph_info_reads_the_cluster_with_the_users_key(ceph, users):
    user, key = users["rbd"]
    args = {"monitors": ceph.monitors, "user": user, "key": key, "pools": [ceph.pool, "absent"]}
    for check in (False, True):
        result = run_module("xinchuang.cloud.ceph_info", args, check=check)
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] is False
        assert result["fsid"] == ceph.fsid
        assert ceph.pool in result["pools"] and "absent" not in result["pools"]
        assert result["pool_access"] == {ceph.pool: True}
        assert result["filesystems"] is None
        assert key not in str(result)
    fs_user, fs_key = users["cephfs"]
    result = run_module("xinchuang.cloud.ceph_info", {"monitors": ceph.monitors, "user": fs_user,
                                                      "key": fs_key, "filesystems": True})
    assert result["filesystems"] == [ceph.fs_name], result


def test_ceph_info_names_a_refused_key_and_silent_monitors(ceph, users):
    user, key = users["rbd"]
    refused = run_module("xinchuang.cloud.ceph_info", {"monitors": ceph.monitors, "user": user,
                                                       "key": WRONG_KEY})
    assert refused.get("failed") and "refused client.%s's key" % user in refused["msg"], refused
    assert WRONG_KEY not in refused["msg"]
    silent = run_module("xinchuang.cloud.ceph_info", {"monitors": ["127.0.0.1:1"], "user": user,
                                                      "key": key, "timeout": 3})
    assert silent.get("failed") and "no monitor of 127.0.0.1:1 answered within 3s" in silent["msg"], silent


def test_preflight_passes_against_the_cluster_and_changes_nothing(testbed, site):
    stats, failures, proc = run_role(site, tasks_from="preflight")
    assert not failures and stats["failures"] == 0, (failures, proc.stdout[-3000:])
    assert stats["changed"] == 0
    assert_nothing_made(testbed, site)


@pytest.mark.parametrize("change, words", [
    ({"storage_ceph_key": WRONG_KEY},
     ["RBD user (storage_ceph_monitors, storage_ceph_user, storage_ceph_key)", "refused client.xc-kube's key"]),
    ({"storage_ceph_pool": "xc-absent"},
     ["storage_ceph_pool 'xc-absent' is not a pool of the Ceph cluster", "ceph osd pool create xc-absent"]),
    ({"storage_ceph_cephfs_fs_name": "xc-nofs"},
     ["storage_ceph_cephfs_fs_name 'xc-nofs' is not a CephFS file system", "xcfs"]),
])
def test_preflight_refuses_what_the_cluster_does_not_accept(testbed, site, change, words):
    stats, failures, _proc = run_role(dict(site, **change))
    assert stats["failures"] == 1 and failures, failures
    for word in words:
        assert word in failures[0], failures[0]
    assert "nothing was changed" in failures[0]
    assert WRONG_KEY not in failures[0] and site["storage_ceph_key"] not in failures[0]
    assert_nothing_made(testbed, site)


@pytest.mark.parametrize("change, words", [
    ({"storage_ceph_monitors": []}, ["storage_ceph_monitors is empty"]),
    ({"storage_ceph_monitors": ["10.0.0.300:6789"]},
     ["storage_ceph_monitors entry '10.0.0.300:6789' is not a monitor address", "host:port"]),
    ({"storage_ceph_monitors": ["v2:10.0.0.1:3300"]}, ["without the v1:/v2: prefix"]),
    ({"storage_ceph_key": ""}, ["storage_ceph_key is missing", "ceph auth get-key client.xc-kube"]),
    ({"storage_ceph_user": "client.kube"}, ["storage_ceph_user 'client.kube' has the client. prefix"]),
])
def test_bad_settings_are_named_before_any_change(testbed, site, change, words):
    stats, failures, _proc = run_role(dict(site, **change))
    assert stats["failures"] == 1 and failures, failures
    for word in words:
        assert word in failures[0], failures[0]
    assert "nothing was changed" in failures[0]
    assert_nothing_made(testbed, site)


def test_a_node_selector_that_matches_no_node_is_refused(testbed, site):
    stats, failures, _proc = run_role(dict(site, storage_ceph_node_selector={"xinchuang.cloud/none": "x"}))
    assert stats["failures"] == 1 and failures, failures
    assert 'storage_ceph_node_selector {"xinchuang.cloud/none": "x"} matches no node' in failures[0]
    assert_nothing_made(testbed, site)


def test_an_image_without_a_nodes_platform_stops_the_run(testbed, site):
    stats, failures, _proc = run_role(dict(site, storage_ceph_node_selector={"type": "kwok"}))
    assert stats["failures"] == 1 and failures, failures
    assert "cephcsi/cephcsi:v3.9.0 has no linux/loong64 image, which nodes kwok-loongarch-0 need" in failures[0]
    assert "storage_ceph_images" in failures[0] and "nothing was changed" in failures[0]
    assert_nothing_made(testbed, site)


def test_a_storage_class_of_our_name_that_is_another_class_is_refused(testbed, site):
    name = site["storage_ceph_rbd_storage_class"]
    testbed.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
                   "provisioner": "example.com/other"})
    stats, failures, _proc = run_role(site)
    assert stats["failures"] == 1 and failures, failures
    assert "StorageClass %s already exists and is another class" % name in failures[0]
    assert 'provisioner "example.com/other" (ours: "rbd.csi.ceph.com")' in failures[0]
    assert "storage_ceph_rbd_storage_class" in failures[0] and "nothing was changed" in failures[0]
    assert testbed.kubectl("get", "namespace", site["storage_ceph_namespace"], check=False).returncode != 0
    assert testbed.get_json("storageclass", name)["provisioner"] == "example.com/other"


def test_role_applies_the_drivers_once_and_its_secret_creates_an_rbd_image(testbed, ceph, site):
    ns = site["storage_ceph_namespace"]
    checked, failures, proc = run_role(site, check=True)
    assert not failures and checked["changed"] >= 1, (failures, proc.stdout[-3000:])
    assert_nothing_made(testbed, site)

    stats, failures, proc = run_role(site, diff=True)
    assert not failures and stats["failures"] == 0 and stats["changed"] >= 1, (failures, proc.stdout[-3000:])
    assert not leaks(proc.stdout + proc.stderr, {"the RBD key": site["storage_ceph_key"],
                                                 "the CephFS key": site["storage_ceph_cephfs_key"]})

    rbd = testbed.get_json("storageclass", site["storage_ceph_rbd_storage_class"])
    assert rbd["provisioner"] == "rbd.csi.ceph.com"
    assert rbd["parameters"]["clusterID"] == ceph.fsid and rbd["parameters"]["pool"] == ceph.pool
    assert rbd["parameters"]["csi.storage.k8s.io/node-stage-secret-name"] == "csi-rbd-secret"
    assert rbd["parameters"]["csi.storage.k8s.io/node-stage-secret-namespace"] == ns
    fs = testbed.get_json("storageclass", site["storage_ceph_cephfs_storage_class"])
    assert (fs["provisioner"], fs["parameters"]["fsName"]) == ("cephfs.csi.ceph.com", ceph.fs_name)
    config = testbed.get_json("configmap", "ceph-csi-config", "-n", ns)
    entry = json.loads(config["data"]["config.json"])[0]
    assert (entry["clusterID"], entry["monitors"]) == (ceph.fsid, ceph.monitors)
    ds = testbed.get_json("daemonset", "csi-rbdplugin", "-n", ns)
    images = {c["name"]: c["image"] for c in ds["spec"]["template"]["spec"]["containers"]}
    assert images == {"driver-registrar": site["storage_ceph_images"]["registrar"],
                      "csi-rbdplugin": site["storage_ceph_images"]["cephcsi"]}
    assert ds["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    for kind, name in (("deployment", "csi-rbdplugin-provisioner"), ("deployment", "csi-cephfsplugin-provisioner"),
                       ("daemonset", "csi-cephfsplugin"), ("serviceaccount", "rbd-csi-provisioner")):
        testbed.kubectl("get", kind, name, "-n", ns, check=True)
    for kind, name in CLUSTER_WIDE:
        testbed.kubectl("get", kind, name, check=True)

    # The credentials the role put into its Secret make an RBD image in the pool.
    secret = testbed.get_json("secret", "csi-rbd-secret", "-n", ns)
    user = base64.b64decode(secret["data"]["userID"]).decode()
    key = base64.b64decode(secret["data"]["userKey"]).decode()
    image = "xc-%s" % uuid.uuid4().hex[:8]
    ceph.as_user("rbd", user, key, "create", "--size", "16", "%s/%s" % (ceph.pool, image))
    listed = ceph.as_user("rbd", user, key, "ls", "--pool", ceph.pool).stdout.split()
    assert image in listed
    ceph.as_user("rbd", user, key, "rm", "--no-progress", "%s/%s" % (ceph.pool, image))

    again, failures, _proc = run_role(site)
    assert (again["changed"], failures) == (0, [])
    checked, failures, _proc = run_role(site, check=True)
    assert (checked["changed"], failures) == (0, [])
