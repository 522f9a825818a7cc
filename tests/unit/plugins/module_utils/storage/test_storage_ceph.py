"""The Ceph storage rules: settings checks, what the CLI's failures mean, the preflight's verdict,
StorageClass clashes, and the ceph-csi objects applied."""

import base64
import json
import os

import pytest
from hypothesis import given, strategies as st

from ansible_collections.xinchuang.cloud.plugins.module_utils.storage import ceph as sc

KEY = base64.b64encode(b"\x01\x00" + os.urandom(26)).decode()
FS_KEY = base64.b64encode(b"\x01\x00" + os.urandom(26)).decode()
FSID = "4439eacf-54c6-4dd6-9822-3ef56bfad6e2"


def settings(**change):
    out = {"monitors": ["192.0.2.11:6789", "192.0.2.12"], "cluster_id": FSID, "pool": "kubernetes",
           "user": "kube", "key": KEY, "cephfs_enabled": True, "cephfs_fs_name": "cephfs",
           "cephfs_user": "kubefs", "cephfs_key": FS_KEY, "cephfs_subvolume_group": "csi",
           "namespace": "ceph-csi", "rbd_storage_class": "ceph-rbd", "cephfs_storage_class": "cephfs",
           "reclaim_policy": "Delete", "default_class": "", "provisioner_replicas": 2,
           "node_selector": {}, "kubelet_dir": "/var/lib/kubelet",
           "images": {r: "registry.local/x/%s:1" % r for r in sc.IMAGE_ROLES}}
    out.update(change)
    return out


def test_good_settings_have_no_problems():
    assert sc.settings_problems(settings()) == []


@pytest.mark.parametrize("entry, parsed", [
    ("192.0.2.11:6789", ("192.0.2.11", 6789)),
    ("192.0.2.11", ("192.0.2.11", 6789)),
    ("mon-a.example.com:3300", ("mon-a.example.com", 3300)),
    ("[2001:db8::1]:6789", ("2001:db8::1", 6789)),
    ("[2001:db8::1]", ("2001:db8::1", 6789)),
])
def test_monitor_addresses_are_read(entry, parsed):
    assert sc.parse_monitor(entry) == parsed


@pytest.mark.parametrize("entry", ["10.0.0.300:6789", "192.0.2.1:0", "192.0.2.1:70000", "192.0.2.1:", "",
                                   " 192.0.2.1", "v1:192.0.2.1:6789", "[v2:192.0.2.1:3300]", "2001:db8::1",
                                   "[2001:db8::zz]:6789", "mon_a:6789", "-mon:6789", 6789, None])
def test_malformed_monitors_are_named_with_the_fix(entry):
    problems = sc.settings_problems(settings(monitors=[entry]))
    assert len(problems) == 1, problems
    assert "storage_ceph_monitors entry %r is not a monitor address" % (entry,) in problems[0]
    assert "host:port" in problems[0]


@pytest.mark.parametrize("monitors", [[], None, "192.0.2.1:6789"])
def test_an_empty_monitor_list_is_refused(monitors):
    problems = sc.settings_problems(settings(monitors=monitors))
    assert problems and "storage_ceph_monitors is empty" in problems[0] and "ceph mon dump" in problems[0]


def test_a_monitor_given_twice_is_named():
    problems = sc.settings_problems(settings(monitors=["192.0.2.1", "192.0.2.1:6789"]))
    assert problems == ["storage_ceph_monitors lists 192.0.2.1:6789 twice: give each monitor once"]


def test_the_cli_is_told_each_monitors_protocol():
    assert sc.cli_monitors(["192.0.2.1", "192.0.2.2:3300", "[2001:db8::1]:6790"]) == (
        "v1:192.0.2.1:6789,v2:192.0.2.2:3300,v1:[2001:db8::1]:6790")
    assert sc.monitors_of(["192.0.2.1", "[2001:db8::1]"]) == ["192.0.2.1:6789", "[2001:db8::1]:6789"]


@pytest.mark.parametrize("key, word", [
    ("", "storage_ceph_key is missing"),
    (None, "storage_ceph_key is missing"),
    ("   ", "storage_ceph_key is missing"),
    ("not base64!", "is not a cephx key"),
    (base64.b64encode(b"x" * 16).decode(), "is not a cephx key"),
])
def test_a_missing_or_malformed_key_is_named_but_never_shown(key, word):
    problems = sc.settings_problems(settings(key=key))
    assert len(problems) == 1 and word in problems[0], problems
    assert "ceph auth get-key client.kube" in problems[0]
    if key and key.strip():
        assert key not in problems[0]


@given(st.binary(min_size=28, max_size=28))
def test_any_28_byte_secret_is_a_key(raw):
    assert sc.key_problem(base64.b64encode(raw).decode(), "kube") is None


@pytest.mark.parametrize("change, word", [
    ({"user": "client.kube"}, "storage_ceph_user 'client.kube' has the client. prefix: give 'kube'"),
    ({"user": ""}, "storage_ceph_user is missing"),
    ({"cephfs_user": "a b"}, "storage_ceph_cephfs_user 'a b' is not a Ceph user name"),
    ({"cephfs_key": ""}, "storage_ceph_cephfs_key is missing"),
    ({"pool": ""}, "storage_ceph_pool '' is not a pool name"),
    ({"cephfs_fs_name": "a/b"}, "storage_ceph_cephfs_fs_name 'a/b'"),
    ({"namespace": "Ceph"}, "storage_ceph_namespace 'Ceph' must be a DNS label"),
    ({"rbd_storage_class": "Ceph RBD"}, "storage_ceph_rbd_storage_class 'Ceph RBD' must be a DNS name"),
    ({"cephfs_storage_class": "ceph-rbd"}, "are both 'ceph-rbd'"),
    ({"reclaim_policy": "Recycle"}, "storage_ceph_reclaim_policy 'Recycle' must be Delete or Retain"),
    ({"default_class": "nfs"}, "storage_ceph_default_class 'nfs'"),
    ({"cluster_id": "a b"}, "storage_ceph_cluster_id 'a b'"),
    ({"provisioner_replicas": 0}, "storage_ceph_provisioner_replicas 0"),
    ({"images": {"cephcsi": "x:1"}}, "storage_ceph_images.provisioner is missing"),
])
def test_each_bad_setting_is_named(change, word):
    problems = sc.settings_problems(settings(**change))
    assert any(word in p for p in problems), problems


def test_cephfs_settings_are_not_checked_when_cephfs_is_off():
    assert sc.settings_problems(settings(cephfs_enabled=False, cephfs_key="", cephfs_fs_name="",
                                         cephfs_storage_class="ceph-rbd")) == []


@pytest.mark.parametrize("stderr, words", [
    ("[errno 13] RADOS permission denied (error connecting to the cluster)",
     ["refused client.kube's key", "storage_ceph_key"]),
    ("monclient(hunting): authenticate timed out after 10\n[errno 110] RADOS timed out (error connecting to the cluster)",
     ["no monitor of 192.0.2.1:6789 answered within 10s", "storage_ceph_monitors"]),
    ("timed out", ["no monitor of"]),
    ("Error EACCES: access denied", ["client.kube may not run this command (Error EACCES: access denied)"]),
    ("something else\n", ["ceph failed (exit 1): something else"]),
])
def test_cli_failures_are_worded_for_the_user(stderr, words):
    message = sc.connect_error(1, stderr, "kube", ["192.0.2.1:6789"], 10)
    for word in words:
        assert word in message, message


def test_a_missing_pool_names_the_pools_and_how_to_make_it():
    info = {"fsid": FSID, "pools": ["rbd", "device_health_metrics"], "pool_access": {}, "filesystems": None}
    problems = sc.cluster_problems(info, settings(cephfs_enabled=False))
    assert problems == ["storage_ceph_pool 'kubernetes' is not a pool of the Ceph cluster %s (its pools: "
                        "rbd, device_health_metrics): create it (ceph osd pool create kubernetes; rbd pool "
                        "init kubernetes) or name an existing one" % FSID]


def test_a_pool_the_user_cannot_read_is_named():
    info = {"fsid": FSID, "pools": ["kubernetes"], "pool_access": {"kubernetes": "denied"}}
    problems = sc.cluster_problems(info, settings(cephfs_enabled=False))
    assert len(problems) == 1 and "client.kube cannot read pool 'kubernetes' (denied)" in problems[0]


def test_the_cephfs_file_system_and_cluster_are_checked():
    info = {"fsid": FSID, "pools": ["kubernetes"], "pool_access": {"kubernetes": True}}
    assert sc.cluster_problems(info, settings(), {"fsid": FSID, "filesystems": ["cephfs"]}) == []
    problems = sc.cluster_problems(info, settings(), {"fsid": "other", "filesystems": ["fs2"]})
    assert "storage_ceph_cephfs_fs_name 'cephfs' is not a CephFS file system of the cluster (ceph fs ls: fs2)" in problems[0]
    assert "reached different clusters" in problems[1]


def by_kind(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_objects_carry_the_cluster_and_the_images_but_never_a_key():
    objects = sc.cluster_objects(settings(node_selector={"xinchuang.cloud/storage": "ceph"}))
    assert KEY not in json.dumps(objects) and FS_KEY not in json.dumps(objects)
    config = json.loads(by_kind(objects, "ConfigMap")["ceph-csi-config"]["data"]["config.json"])
    assert config == [{"clusterID": FSID, "monitors": ["192.0.2.11:6789", "192.0.2.12:6789"],
                       "cephFS": {"subvolumeGroup": "csi"}}]
    assert set(by_kind(objects, "CSIDriver")) == {"rbd.csi.ceph.com", "cephfs.csi.ceph.com"}
    assert by_kind(objects, "CSIDriver")["rbd.csi.ceph.com"]["spec"]["attachRequired"] is True
    for workload in list(by_kind(objects, "Deployment").values()) + list(by_kind(objects, "DaemonSet").values()):
        spec = workload["spec"]["template"]["spec"]
        assert spec["nodeSelector"] == {"xinchuang.cloud/storage": "ceph"}
        for container in spec["containers"]:
            assert container["image"] in settings()["images"].values()
        assert workload["metadata"]["namespace"] == "ceph-csi"
    assert [o["kind"] for o in objects][:2] == ["Namespace", "ConfigMap"]
    assert [o["kind"] for o in objects][-2:] == ["StorageClass", "StorageClass"]


def test_storage_classes_name_the_secrets_pool_and_file_system():
    classes = by_kind(sc.cluster_objects(settings(default_class="rbd", reclaim_policy="Retain")), "StorageClass")
    rbd, fs = classes["ceph-rbd"], classes["cephfs"]
    assert (rbd["provisioner"], rbd["parameters"]["pool"], rbd["parameters"]["clusterID"]) == (
        "rbd.csi.ceph.com", "kubernetes", FSID)
    assert rbd["parameters"]["csi.storage.k8s.io/provisioner-secret-name"] == "csi-rbd-secret"
    assert rbd["parameters"]["csi.storage.k8s.io/node-stage-secret-namespace"] == "ceph-csi"
    assert rbd["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert rbd["reclaimPolicy"] == fs["reclaimPolicy"] == "Retain"
    assert (fs["provisioner"], fs["parameters"]["fsName"]) == ("cephfs.csi.ceph.com", "cephfs")
    assert fs["parameters"]["csi.storage.k8s.io/controller-expand-secret-name"] == "csi-cephfs-secret"
    assert "annotations" not in fs["metadata"]


def test_without_cephfs_only_the_rbd_driver_is_made():
    objects = sc.cluster_objects(settings(cephfs_enabled=False))
    assert set(by_kind(objects, "StorageClass")) == {"ceph-rbd"}
    assert set(by_kind(objects, "DaemonSet")) == {"csi-rbdplugin"}
    assert [s["metadata"]["name"] for s in sc.secrets(settings(cephfs_enabled=False))] == ["csi-rbd-secret"]


def test_secrets_hold_the_users_and_keys():
    rbd, fs = sc.secrets(settings())
    assert rbd["stringData"] == {"userID": "kube", "userKey": KEY}
    assert fs["stringData"]["userID"] == "kubefs" and fs["stringData"]["adminKey"] == FS_KEY


def test_objects_are_refused_with_every_problem_and_without_a_cluster_id():
    with pytest.raises(sc.CephSettingsError) as err:
        sc.cluster_objects(settings(monitors=[], key="", cluster_id=""))
    text = str(err.value)
    assert "storage_ceph_monitors is empty" in text and "storage_ceph_key is missing" in text
    assert "the cluster id is unknown" in text and text.endswith("nothing was changed")


def test_a_class_of_our_name_with_another_provisioner_clashes_and_ours_does_not():
    ours = by_kind(sc.cluster_objects(settings()), "StorageClass")["ceph-rbd"]
    existing = [dict(ours, metadata={"name": "ceph-rbd", "uid": "1"}),
                {"metadata": {"name": "cephfs"}, "provisioner": "nfs.csi.k8s.io", "parameters": {"server": "x"}},
                {"metadata": {"name": "local-storage"}, "provisioner": "kubernetes.io/no-provisioner"}]
    problems = sc.class_clashes(existing, settings())
    assert len(problems) == 1
    assert problems[0].startswith("StorageClass cephfs already exists and is another class: provisioner "
                                  '"nfs.csi.k8s.io" (ours: "cephfs.csi.ceph.com")')
    assert "storage_ceph_cephfs_storage_class" in problems[0]
    assert "kubectl delete storageclass cephfs" in problems[0]


def test_a_class_of_ours_for_another_pool_clashes():
    ours = by_kind(sc.cluster_objects(settings(pool="old")), "StorageClass")["ceph-rbd"]
    problems = sc.class_clashes([ours], settings())
    assert len(problems) == 1 and "parameters" in problems[0] and '"pool": "old"' in problems[0]


def test_images_are_listed_once():
    images = {r: "registry.local/cephcsi/cephcsi:v3.9.0" if r == "cephcsi" else "registry.local/s/%s:1" % r
              for r in sc.IMAGE_ROLES}
    assert sc.images_of(settings(images=images)) == sorted(set(images.values()))
    assert len(sc.images_of(settings(images=dict(images, attacher=images["cephcsi"])))) == 4
