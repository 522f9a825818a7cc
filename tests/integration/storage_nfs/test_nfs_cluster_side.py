"""The storage_nfs role's cluster side against real servers: the test bed's API server and the
session's CNCF registry (tests/integration/fixtures_registry.py), which holds the driver's four
images as indexes of amd64 and arm64 children.

- nodes of a platform the images lack (loong64) stop the run before anything is applied, the
  message naming the image, the platform and the node;
- with amd64 and arm64 nodes, check mode says what it would apply and applies nothing; then the CSIDriver, the controller, the node DaemonSet (affinity on
  those architectures) and the StorageClass nfs-<export> are applied once; a rerun changes
  nothing;
- a StorageClass of that name held by another provisioner stops the run, naming it, and is
  left as it was;
- static volumes (storage_nfs_provisioner: static, no image involved): check mode applies
  nothing; then a class of no provisioner (Retain) and the export's volumes, each its own
  directory, with no CSI driver; a rerun changes nothing; a volume name another PersistentVolume
  holds, or a Delete reclaim policy, stops the run before anything is applied.
"""

import json
import os
import sys
import tempfile
import uuid

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from tests.integration.ansible_run import ansible_playbook
from tests.integration.fixtures_registry import make_image, push_index

pytestmark = pytest.mark.slow

NAMES = {"nfsplugin": "nfsplugin", "csi_provisioner": "csi-provisioner",
         "node_driver_registrar": "csi-node-driver-registrar", "livenessprobe": "livenessprobe"}
DRIVER_OBJECTS = [("deployment", "csi-nfs-controller", "kube-system"), ("daemonset", "csi-nfs-node", "kube-system"),
                  ("serviceaccount", "csi-nfs-controller-sa", "kube-system"),
                  ("serviceaccount", "csi-nfs-node-sa", "kube-system"),
                  ("clusterrolebinding", "nfs-csi-provisioner-binding", None),
                  ("clusterrole", "nfs-external-provisioner-role", None), ("csidriver", "nfs.csi.k8s.io", None)]


@pytest.fixture(scope="module")
def images(registry):
    """The driver's images, amd64 and arm64 only, in the session registry."""
    tag = "v0-" + uuid.uuid4().hex[:6]
    client = registry.client()
    refs = {}
    for key, name in NAMES.items():
        children = [make_image(arch.platform_dict(a), content="%s %s\n" % (name, a)) for a in ("amd64", "arm64")]
        push_index(client, "sig-storage/" + name, tag, children)
        refs[key] = "%s/sig-storage/%s:%s" % (registry.host, name, tag)
    return refs


@pytest.fixture
def cluster(testbed):
    yield testbed
    for kind, name, namespace in DRIVER_OBJECTS:
        args = ["delete", kind, name, "--ignore-not-found", "--wait=false"]
        testbed.kubectl(*(args + (["-n", namespace] if namespace else [])), check=False)
    testbed.kubectl("delete", "storageclass", "-l", "app.kubernetes.io/managed-by=xinchuang.cloud",
                    "--field-selector", "provisioner=nfs.csi.k8s.io", "--ignore-not-found", check=False)


def run_cluster_side(testbed, registry, images, node_arches, exports, check=False, extra=None):
    """The role's `cluster` entry point from localhost, for inventory nodes of these architectures."""
    nodes = {"node-%d" % i: {"xinchuang_goarch": a} for i, a in enumerate(node_arches)}
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                 "ansible_python_interpreter": sys.executable}},
                         "children": {"kube_node": {"hosts": nodes}}}}
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "NFS cluster side",
        "ansible.builtin.include_role": {"name": "xinchuang.cloud.storage_nfs", "tasks_from": "cluster"}}]}]
    role_vars = {"storage_nfs_exports": exports, "storage_nfs_server": "192.0.2.10",
                 "storage_nfs_images": images, "storage_nfs_kubeconfig": testbed.kubeconfig,
                 "storage_nfs_registry": {"url": registry.host, "ca_file": registry.ca,
                                          "username": registry.username, "password": registry.password}}
    role_vars.update(extra or {})
    with tempfile.TemporaryDirectory() as tmp:
        inv, book = os.path.join(tmp, "inventory.json"), os.path.join(tmp, "play.yml")
        with open(inv, "w") as fh:
            json.dump(inventory, fh)
        with open(book, "w") as fh:
            json.dump(play, fh)
        report, proc = ansible_playbook(["-i", inv, book], extra_vars=role_vars, check=check)
    results = [t["hosts"].get("localhost", {}) for p in report["plays"] for t in p["tasks"]]
    failed = " ".join(r.get("msg", "") for r in results if r.get("failed"))
    return proc, report["stats"]["localhost"], failed


def export(name):
    return [{"name": name, "path": "/srv/nfs/" + name, "clients": ["192.0.2.0/24"]}]


def test_a_node_platform_the_images_lack_stops_the_run_before_anything_is_applied(cluster, registry, images):
    name = "t" + uuid.uuid4().hex[:6]
    proc, _stats, failed = run_cluster_side(cluster, registry, images, ["amd64", "arm64", "loong64"], export(name))
    assert proc.returncode != 0
    assert "linux/loong64" in failed and "node-2" in failed and images["nfsplugin"].split("/", 1)[1] in failed, failed
    assert "nothing was applied" in failed
    assert cluster.kubectl("get", "csidriver", "nfs.csi.k8s.io").returncode != 0
    assert cluster.kubectl("get", "storageclass", "nfs-" + name).returncode != 0


def test_driver_and_class_applied_once_for_the_nodes_architectures(cluster, registry, images):
    name = "t" + uuid.uuid4().hex[:6]
    proc, stats, failed = run_cluster_side(cluster, registry, images, ["amd64", "arm64"], export(name), check=True)
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert stats["changed"] >= 1, "check mode did not say the driver would be applied"
    assert cluster.kubectl("get", "storageclass", "nfs-" + name).returncode != 0, "check mode applied something"
    proc, stats, failed = run_cluster_side(cluster, registry, images, ["amd64", "arm64", "x86_64"], export(name))
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert stats["changed"] >= 1
    sc = json.loads(cluster.kubectl("get", "storageclass", "nfs-" + name, "-o", "json", check=True).stdout)
    assert sc["provisioner"] == "nfs.csi.k8s.io"
    assert sc["parameters"] == {"server": "192.0.2.10", "share": "/srv/nfs/" + name}
    assert sc["mountOptions"] == ["nfsvers=4.1", "hard"] and sc["reclaimPolicy"] == "Delete"
    ds = json.loads(cluster.kubectl("get", "daemonset", "csi-nfs-node", "-n", "kube-system", "-o", "json",
                                    check=True).stdout)
    terms = ds["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["amd64", "arm64"]
    assert cluster.kubectl("get", "csidriver", "nfs.csi.k8s.io").returncode == 0
    proc, stats, failed = run_cluster_side(cluster, registry, images, ["amd64", "arm64", "x86_64"], export(name))
    assert proc.returncode == 0, failed
    assert stats["changed"] == 0, "a rerun changed something"


def test_a_class_name_held_by_another_provisioner_is_refused(cluster, registry, images):
    name = "t" + uuid.uuid4().hex[:6]
    cluster.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": "nfs-" + name, "labels": {"app.kubernetes.io/managed-by": "someone-else"}},
                   "provisioner": "example.com/nfs"})
    try:
        proc, _stats, failed = run_cluster_side(cluster, registry, images, ["amd64"], export(name))
        assert proc.returncode != 0
        assert "StorageClass nfs-%s already exists" % name in failed and "example.com/nfs" in failed, failed
        sc = json.loads(cluster.kubectl("get", "storageclass", "nfs-" + name, "-o", "json", check=True).stdout)
        assert sc["provisioner"] == "example.com/nfs"
        assert cluster.kubectl("get", "csidriver", "nfs.csi.k8s.io").returncode != 0
    finally:
        cluster.kubectl("delete", "storageclass", "nfs-" + name, "--ignore-not-found", check=False)


STATIC = {"storage_nfs_provisioner": "static", "storage_nfs_static_volume_count": 2, "storage_nfs_static_capacity": "2Gi"}


@pytest.fixture
def static_cluster(testbed):
    yield testbed
    testbed.kubectl("delete", "pv", "-l", "xinchuang.cloud/nfs-export", "--ignore-not-found", "--wait=false", check=False)
    testbed.kubectl("delete", "storageclass", "-l", "app.kubernetes.io/managed-by=xinchuang.cloud",
                    "--field-selector", "provisioner=kubernetes.io/no-provisioner", "--ignore-not-found", check=False)


def test_static_volumes_and_their_class_applied_once_without_a_driver(static_cluster, registry, images):
    cluster, name = static_cluster, "s" + uuid.uuid4().hex[:6]
    proc, stats, failed = run_cluster_side(cluster, registry, images, ["loong64"], export(name), check=True, extra=STATIC)
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert stats["changed"] >= 1, "check mode did not say the volumes would be applied"
    assert cluster.kubectl("get", "storageclass", "nfs-" + name).returncode != 0, "check mode applied something"
    # loong64 nodes: no image is involved, so no platform can be missing.
    proc, stats, failed = run_cluster_side(cluster, registry, images, ["loong64"], export(name), extra=STATIC)
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    sc = json.loads(cluster.kubectl("get", "storageclass", "nfs-" + name, "-o", "json", check=True).stdout)
    assert (sc["provisioner"], sc["reclaimPolicy"]) == ("kubernetes.io/no-provisioner", "Retain")
    pvs = json.loads(cluster.kubectl("get", "pv", "-l", "xinchuang.cloud/nfs-export=" + name, "-o", "json",
                                     check=True).stdout)["items"]
    assert sorted(p["metadata"]["name"] for p in pvs) == ["nfs-%s-01" % name, "nfs-%s-02" % name]
    for pv in pvs:
        spec = pv["spec"]
        assert spec["nfs"] == {"server": "192.0.2.10", "path": "/srv/nfs/%s/%s" % (name, pv["metadata"]["name"])}
        assert (spec["storageClassName"], spec["persistentVolumeReclaimPolicy"]) == ("nfs-" + name, "Retain")
        assert spec["capacity"] == {"storage": "2Gi"} and spec["accessModes"] == ["ReadWriteMany"]
        assert spec["mountOptions"] == ["nfsvers=4.1", "hard"]
    assert cluster.kubectl("get", "csidriver", "nfs.csi.k8s.io").returncode != 0, "the driver was applied"
    proc, stats, failed = run_cluster_side(cluster, registry, images, ["loong64"], export(name), extra=STATIC)
    assert proc.returncode == 0, failed
    assert stats["changed"] == 0, "a rerun changed something"


def test_a_static_volume_name_held_elsewhere_or_a_delete_policy_is_refused(static_cluster, registry, images):
    cluster, name = static_cluster, "s" + uuid.uuid4().hex[:6]
    cluster.apply({"apiVersion": "v1", "kind": "PersistentVolume",
                   "metadata": {"name": "nfs-%s-02" % name, "labels": {"xinchuang.cloud/nfs-export": "someone-else"}},
                   "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                            "nfs": {"server": "192.0.2.99", "path": "/elsewhere"}}})
    proc, _stats, failed = run_cluster_side(cluster, registry, images, ["amd64"], export(name), extra=STATIC)
    assert proc.returncode != 0
    assert "nfs-%s-02 already exists as NFS 192.0.2.99:/elsewhere" % name in failed, failed
    assert cluster.kubectl("get", "storageclass", "nfs-" + name).returncode != 0
    assert cluster.kubectl("get", "pv", "nfs-%s-01" % name).returncode != 0
    proc, _stats, failed = run_cluster_side(cluster, registry, images, ["amd64"], export(name + "x"),
                                            extra=dict(STATIC, storage_nfs_reclaim_policy="Delete"))
    assert proc.returncode != 0
    assert "reclaim_policy Delete with storage_nfs_provisioner static" in failed and "Retain" in failed, failed
    assert cluster.kubectl("get", "storageclass", "nfs-%sx" % name).returncode != 0
