"""The NFS rules of xinchuang.cloud.storage_nfs: exports checked, the server's tables, the
CSI driver's objects and the StorageClasses."""

import pytest

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.storage import nfs

LAB = {"name": "lab", "path": "/srv/nfs/lab", "clients": ["172.29.0.0/24"]}


def test_a_good_export_has_no_problem():
    assert nfs.export_problems([LAB]) == []


@pytest.mark.parametrize("export, words", [
    (dict(LAB, name="Lab_1"), ["'Lab_1'", "DNS label"]),
    (dict(LAB, name="x" * 60), ["at most 59"]),
    (dict(LAB, path="srv/nfs"), ["'srv/nfs'", "absolute"]),
    (dict(LAB, path="/"), ["absolute directory other than /"]),
    (dict(LAB, clients=[]), ["no clients"]),
    (dict(LAB, clients=["*"]), ["'*'", "every host"]),
    (dict(LAB, clients=["10.0.0.0/8", "0.0.0.0/0"]), ["'0.0.0.0/0'"]),
    (dict(LAB, clients=["bad host!"]), ["'bad host!'", "neither a network"]),
    (dict(LAB, options=["rw", "sync", "root_sqash"]), ["unknown option 'root_sqash'"]),
    (dict(LAB, options=["rw", "ro"]), ["'rw' and 'ro' contradict"]),
    (dict(LAB, reclaim_policy="Recycle"), ["reclaim_policy 'Recycle'"]),
])
def test_bad_exports_are_named_with_the_fix(export, words):
    problems = nfs.export_problems([export])
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0]


def test_every_problem_is_reported_at_once():
    problems = nfs.export_problems([LAB, dict(LAB, path="/srv/other"), dict(LAB, name="b", clients=["*"])],
                                   backend="nfsd", reclaim_policy="Keep", default_class="nope")
    text = " | ".join(problems)
    for word in ("'lab' is given twice", "'*'", "storage_nfs_backend 'nfsd'", "'Keep'", "'nope'"):
        assert word in text


def test_two_exports_of_one_directory_are_refused():
    problems = nfs.export_problems([LAB, dict(LAB, name="other", path="/srv/nfs/lab/")])
    assert problems == ["exports 'lab' and 'other' share the path /srv/nfs/lab/: one directory, one export"]


def test_the_kernel_exports_file_is_safe_by_default():
    text = nfs.exports_file([dict(LAB, clients=["172.29.0.0/24", "node-1"])])
    assert "/srv/nfs/lab 172.29.0.0/24(rw,sync,root_squash,no_subtree_check) node-1(rw,sync,root_squash,no_subtree_check)" in text


def test_ganesha_exports_the_same_path_with_the_squash_and_access_asked():
    text = nfs.ganesha_config([LAB, {"name": "ro", "path": "/srv/ro", "clients": ["10.0.0.1"],
                                     "options": ["ro", "no_root_squash"]}], grace_time=0)
    assert "Pseudo = /srv/nfs/lab;" in text and "Squash = Root_Squash;" in text
    assert "Clients = 172.29.0.0/24;" in text
    assert "Export_Id = 2;" in text and "Squash = No_Root_Squash;" in text and "Access_Type = RO;" in text
    assert "Graceless = true;" in text


def test_storage_classes_one_per_export():
    classes = nfs.storage_classes([LAB, dict(LAB, name="db", path="/srv/db", reclaim_policy="Retain",
                                             mount_options=["nfsvers=4.2"])], "10.0.0.5", default_class="lab")
    assert [c["metadata"]["name"] for c in classes] == ["nfs-lab", "nfs-db"]
    assert classes[0]["provisioner"] == "nfs.csi.k8s.io"
    assert classes[0]["parameters"] == {"server": "10.0.0.5", "share": "/srv/nfs/lab"}
    assert classes[0]["mountOptions"] == ["nfsvers=4.1", "hard"]
    assert classes[0]["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert classes[1]["reclaimPolicy"] == "Retain" and classes[1]["mountOptions"] == ["nfsvers=4.2"]
    with pytest.raises(nfs.NfsError, match="storage_nfs_server"):
        nfs.storage_classes([LAB], "")


def test_a_class_of_another_provisioner_clashes():
    wanted = nfs.storage_classes([LAB], "10.0.0.5")
    same = [dict(wanted[0])]
    other = [{"metadata": {"name": "nfs-lab"}, "provisioner": "example.com/nfs", "parameters": {}}]
    assert nfs.class_clash_problems(wanted, same) == []
    problems = nfs.class_clash_problems(wanted, other)
    assert len(problems) == 1 and "StorageClass nfs-lab already exists" in problems[0] and "example.com/nfs" in problems[0]


IMAGES = {"nfsplugin": "r/sig-storage/nfsplugin:v4", "csi_provisioner": "r/sig-storage/csi-provisioner:v5",
          "node_driver_registrar": "r/sig-storage/csi-node-driver-registrar:v2",
          "livenessprobe": "r/sig-storage/livenessprobe:v2"}


def test_the_driver_runs_only_on_the_nodes_architectures():
    objects = nfs.csi_objects(IMAGES, node_arches=["x86_64", "aarch64", "amd64"], kubelet_dir="/data/kubelet")
    kinds = [o["kind"] for o in objects]
    assert kinds[0] == "CSIDriver" and "Deployment" in kinds and "DaemonSet" in kinds
    ds = next(o for o in objects if o["kind"] == "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["amd64", "arm64"]
    assert {c["image"] for c in spec["containers"]} == {IMAGES["nfsplugin"], IMAGES["node_driver_registrar"],
                                                        IMAGES["livenessprobe"]}
    paths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"]}
    assert paths == {"socket-dir": "/data/kubelet/plugins/csi-nfsplugin", "pods-mount-dir": "/data/kubelet/pods",
                     "registration-dir": "/data/kubelet/plugins_registry"}


def test_missing_images_are_named():
    with pytest.raises(nfs.NfsError, match="livenessprobe"):
        nfs.csi_objects(dict(IMAGES, livenessprobe=""))


def test_server_packages_per_family():
    assert nfs.server_packages("kernel", "deb") == ["nfs-kernel-server"]
    assert nfs.server_packages("kernel", "rpm") == ["nfs-utils"]
    with pytest.raises(nfs.NfsError, match="'apk'"):
        nfs.server_packages("kernel", "apk")


def test_grace_time_per_backend():
    assert "Grace_Period = 15;" in nfs.ganesha_config([LAB], grace_time=15)
    assert "Grace" not in nfs.ganesha_config([LAB])
    assert "grace-time=15\nlease-time=15" in nfs.nfs_conf(15)
    assert "grace-time" not in nfs.nfs_conf(None)
    assert nfs.export_problems([LAB], backend="ganesha", grace_time=0) == []
    problems = nfs.export_problems([LAB], backend="kernel", grace_time=5)
    assert len(problems) == 1 and "storage_nfs_grace_time 5" in problems[0]


def test_reclaim_policy_defaults_per_provisioner():
    assert nfs.reclaim_policy_of(LAB) == "Delete"
    assert nfs.reclaim_policy_of(LAB, "", "static") == "Retain"
    assert nfs.reclaim_policy_of(LAB, "Retain") == "Retain"
    assert nfs.reclaim_policy_of(dict(LAB, reclaim_policy="Retain"), "Delete") == "Retain"


def test_static_classes_have_no_provisioner_and_keep_data():
    [sc] = nfs.storage_classes([LAB], "10.0.0.5", reclaim_policy="", provisioner="static")
    assert sc["provisioner"] == "kubernetes.io/no-provisioner"
    assert sc["reclaimPolicy"] == "Retain" and "parameters" not in sc
    assert "allowVolumeExpansion" not in sc and sc["mountOptions"] == ["nfsvers=4.1", "hard"]


def test_static_volumes_each_mount_their_own_directory():
    exports = [dict(LAB, volumes=2, capacity="5Gi"), dict(LAB, name="db", path="/srv/db/", mount_options=["nfsvers=4.2"])]
    assert [d["path"] for d in nfs.static_directories(exports)] == [
        "/srv/nfs/lab/nfs-lab-01", "/srv/nfs/lab/nfs-lab-02", "/srv/db/nfs-db-01"]
    pvs = nfs.static_volumes(exports, "10.0.0.5", default_capacity="1Gi")
    assert [p["metadata"]["name"] for p in pvs] == ["nfs-lab-01", "nfs-lab-02", "nfs-db-01"]
    first, last = pvs[0]["spec"], pvs[2]["spec"]
    assert first["nfs"] == {"server": "10.0.0.5", "path": "/srv/nfs/lab/nfs-lab-01"}
    assert (first["storageClassName"], first["persistentVolumeReclaimPolicy"]) == ("nfs-lab", "Retain")
    assert first["accessModes"] == ["ReadWriteMany"] and first["capacity"] == {"storage": "5Gi"}
    assert last["capacity"] == {"storage": "1Gi"} and last["mountOptions"] == ["nfsvers=4.2"]
    assert pvs[2]["metadata"]["labels"]["xinchuang.cloud/nfs-export"] == "db"
    with pytest.raises(nfs.NfsError, match="storage_nfs_server"):
        nfs.static_volumes(exports, "")


@pytest.mark.parametrize("export, reclaim, expected", [
    (LAB, "Delete", ["reclaim_policy Delete with storage_nfs_provisioner static", "Retain"]),
    (dict(LAB, reclaim_policy="Delete"), "", ["export 'lab': reclaim_policy Delete"]),
    (dict(LAB, volumes=0), "", ["volumes 0 must be a whole number from 1 to 99"]),
    (dict(LAB, volumes="many"), "", ["volumes 'many'"]),
    (dict(LAB, volumes=True), "", ["volumes True"]),
    (dict(LAB, capacity="lots"), "", ["capacity 'lots' is not a size"]),
    (dict(LAB, capacity="0"), "", ["capacity '0'"]),
])
def test_static_exports_are_checked(export, reclaim, expected):
    problems = nfs.export_problems([export], reclaim_policy=reclaim, provisioner="static")
    assert len(problems) == 1, problems
    for text in expected:
        assert text in problems[0], problems


def test_static_limits_do_not_apply_to_the_csi_driver_and_a_bad_provisioner_is_named():
    assert nfs.export_problems([dict(LAB, volumes=0)], reclaim_policy="") == []
    assert nfs.export_problems([LAB], reclaim_policy="", provisioner="static") == []
    problems = nfs.export_problems([LAB], provisioner="dynamic")
    assert problems == ["storage_nfs_provisioner 'dynamic' is not one of csi, static"]


def test_a_static_volume_name_held_by_another_volume_clashes():
    ours = nfs.static_volumes([LAB], "10.0.0.5")
    same = [{"metadata": {"name": "nfs-lab-01"}, "spec": dict(ours[0]["spec"])}]
    moved = [{"metadata": {"name": "nfs-lab-01"}, "spec": {"nfs": {"server": "10.0.0.9", "path": "/x"}}}]
    local = [{"metadata": {"name": "nfs-lab-01"}, "spec": {"local": {"path": "/mnt"}}}]
    unrelated = [{"metadata": {"name": "other"}, "spec": {"local": {"path": "/mnt"}}}]
    assert nfs.static_volume_clashes(same + unrelated, ours) == []
    [problem] = nfs.static_volume_clashes(moved, ours)
    assert "nfs-lab-01 already exists as NFS 10.0.0.9:/x" in problem and "10.0.0.5:/srv/nfs/lab/nfs-lab-01" in problem
    [problem] = nfs.static_volume_clashes(local, ours)
    assert "a volume of another kind" in problem


def test_client_packages_per_family():
    assert nfs.client_packages("deb") == ["nfs-common"]
    assert nfs.client_packages("rpm") == ["nfs-utils"]
    with pytest.raises(nfs.NfsError, match="'apk'"):
        nfs.client_packages("apk")


DATABASE = {"name": "database", "path": "/srv/nfs/database", "clients": ["172.29.0.21/32"],
            "options": ["rw", "sync", "no_root_squash", "no_subtree_check"], "storage_class": False}


def test_an_export_without_a_storage_class_is_served_but_makes_no_class_nor_volume():
    exports = [LAB, DATABASE]
    assert nfs.export_problems(exports, provisioner="static", reclaim_policy="") == []
    assert "/srv/nfs/database 172.29.0.21/32(" in nfs.exports_file(exports)
    assert [c["metadata"]["name"] for c in nfs.storage_classes(exports, "10.0.0.1", provisioner="static")] == ["nfs-lab"]
    assert [d["name"] for d in nfs.static_directories(exports, 2)] == ["nfs-lab-01", "nfs-lab-02"]
    assert [v["metadata"]["name"] for v in nfs.static_volumes(exports, "10.0.0.1")] == ["nfs-lab-01"]


@pytest.mark.parametrize("exports, default_class, words", [
    ([dict(DATABASE, storage_class="no")], None, ["storage_class 'no'", "true", "false"]),
    ([LAB, DATABASE], "database", ["storage_nfs_default_class", "'database'", "storage_class: false"]),
])
def test_a_bad_storage_class_flag_is_named(exports, default_class, words):
    problems = nfs.export_problems(exports, default_class=default_class)
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0]


def test_a_host_mounts_an_export_with_the_options_of_the_entry_the_export_or_the_default():
    exports = [LAB, dict(DATABASE, mount_options=["nfsvers=4.2", "hard"])]
    mounts = nfs.host_mounts([{"export": "database", "path": "/mnt/nas/database/"},
                              {"export": "lab", "path": "/mnt/lab"},
                              {"export": "lab", "path": "/mnt/lab-soft", "options": ["nfsvers=4.1", "soft"]}],
                             exports, "172.29.0.21")
    assert mounts == [
        {"export": "database", "src": "172.29.0.21:/srv/nfs/database", "path": "/mnt/nas/database",
         "fstype": "nfs", "opts": "nfsvers=4.2,hard"},
        {"export": "lab", "src": "172.29.0.21:/srv/nfs/lab", "path": "/mnt/lab", "fstype": "nfs",
         "opts": "nfsvers=4.1,hard"},
        {"export": "lab", "src": "172.29.0.21:/srv/nfs/lab", "path": "/mnt/lab-soft", "fstype": "nfs",
         "opts": "nfsvers=4.1,soft"},
    ]
    assert nfs.host_mounts([], exports, "") == []


def test_bad_host_mounts_are_all_named_and_nothing_is_mounted():
    with pytest.raises(nfs.NfsError) as err:
        nfs.host_mounts([{"export": "nas", "path": "/mnt/a"},
                         {"export": "lab", "path": "mnt/b"},
                         {"export": "lab", "path": "/mnt/a"},
                         {"export": "lab", "path": "/mnt/c", "options": "hard", "owner": "x"},
                         "lab"],
                        [LAB], "10.0.0.1")
    text = str(err.value)
    for words in ("#1: export 'nas' is not in storage_nfs_exports (known: lab)",
                  "#2: path 'mnt/b' must be an absolute directory",
                  "#3: path /mnt/a is already the mount point of #1",
                  "#4: unknown keys owner", "#4: options 'hard' must be a list",
                  "#5 'lab' must be a mapping", "nothing was mounted"):
        assert words in text
    with pytest.raises(nfs.NfsError, match="storage_nfs_server"):
        nfs.host_mounts([{"export": "lab", "path": "/mnt/lab"}], [LAB], "")
