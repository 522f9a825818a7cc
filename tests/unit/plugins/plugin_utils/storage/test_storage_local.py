"""The local storage rules: volume checks, the wipe guard, and the objects published."""

import copy

import pytest

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.storage import local as sl

DISK = "/dev/disk/by-id/virtio-xc-data0"


def test_good_volumes_have_no_problems():
    volumes = [{"name": "db", "path": "/data/db", "capacity": "50Gi", "device": DISK, "fstype": "xfs",
                "mount_options": ["noatime"]},
               {"name": "logs", "path": "/data/logs", "capacity": "500M", "owner": "kingbase", "mode": "0700"}]
    assert sl.volume_problems(volumes, "node-1", [DISK]) == []


@pytest.mark.parametrize("volume, word", [
    ({"name": "db", "path": "/d", "capacity": "1Gi", "device": "/dev/sdb"}, "device '/dev/sdb'"),
    ({"name": "db", "path": "/d", "capacity": "1Gi", "device": DISK, "fstype": "btrfs"}, "fstype 'btrfs'"),
    ({"name": "db", "path": "/d", "capacity": "1Gi", "fstype": "xfs"}, "need a device"),
    ({"name": "db", "path": "/", "capacity": "1Gi"}, "path '/'"),
    ({"name": "db", "path": "/d", "capacity": "0"}, "capacity '0'"),
    ({"name": "db", "path": "/d"}, "capacity None"),
    ({"name": "Db_1", "path": "/d", "capacity": "1Gi"}, "name 'Db_1'"),
    ({"name": "db", "path": "/d", "capacity": "1Gi", "size": "1Gi"}, "unknown key(s) size"),
    ({"name": "db", "path": "/d", "capacity": "1Gi", "storage_class": "Local Storage"}, "storage_class 'Local Storage'"),
    ({"name": "db", "path": "/d", "capacity": "1Gi", "storage_class": "fast..local"}, "storage_class 'fast..local'"),
    ({"name": "d" * 64, "path": "/d", "capacity": "1Gi"}, "name '%s'" % ("d" * 64)),
    ("db", "must be a dict"),
])
def test_each_bad_volume_is_named(volume, word):
    problems = sl.volume_problems([volume], "node-1")
    assert len(problems) == 1 and word in problems[0], problems
    assert "node-1" in problems[0]


def test_names_and_paths_are_unique_per_node():
    problems = sl.volume_problems([{"name": "db", "path": "/d", "capacity": "1Gi"},
                                   {"name": "db", "path": "/d", "capacity": "1Gi"}], "n")
    assert any("name 'db' is used twice" in p for p in problems)
    assert any("path /d is used twice" in p for p in problems)


@pytest.mark.parametrize("entry", ["/dev/sdb", "/dev/disk/by-id/", "/dev/disk/by-id/../../sda", "sdb", 3])
def test_wipe_entries_must_be_exact_by_id_paths(entry):
    problems = sl.wipe_problems([entry])
    assert len(problems) == 1 and "is not a /dev/disk/by-id/<id> path" in problems[0]


@pytest.mark.parametrize("signatures, decision", [
    ([], "format"),
    ([{"type": "ext4"}], "keep"),
])
def test_a_blank_disk_is_formatted_and_one_of_the_wanted_type_kept(signatures, decision):
    assert sl.format_decision(DISK, signatures, "ext4") == decision


@pytest.mark.parametrize("signatures, held", [
    ([{"type": "xfs"}], "xfs"),
    ([{"type": "gpt"}, {"type": "PMBR"}], "PMBR, gpt"),
    ([{"type": "LVM2_member"}], "LVM2_member"),
    ([{"type": "linux_raid_member"}], "linux_raid_member"),
    ([{"type": "ext4"}, {"type": "dos"}], "dos, ext4"),
])
def test_a_disk_holding_anything_else_is_refused_unless_named_exactly(signatures, held):
    with pytest.raises(sl.StorageError) as err:
        sl.format_decision(DISK, signatures, "ext4", wipe=[DISK + "-other", "/dev/sdb"])
    assert DISK in str(err.value) and held in str(err.value)
    assert "storage_local_wipe" in str(err.value) and "nothing was changed" in str(err.value)
    assert sl.format_decision(DISK, signatures, "ext4", wipe=[DISK]) == "wipe"


def test_pvs_are_retained_local_volumes_of_their_node():
    objects = sl.cluster_objects({"Node_1.lab": [{"name": "db", "path": "/data/db", "capacity": "50Gi"}],
                                  "node-2": [{"name": "db", "path": "/data/db", "capacity": "10Gi",
                                              "storage_class": "fast-local"}]}, default=True)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert kinds == [("StorageClass", "local-storage"), ("StorageClass", "fast-local"),
                     ("PersistentVolume", "local-node-1-lab-db"), ("PersistentVolume", "local-node-2-db")]
    local, fast = objects[0], objects[1]
    assert local["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert "annotations" not in fast["metadata"]
    pv = objects[2]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["Node_1.lab"]
    assert objects[3]["spec"]["storageClassName"] == "fast-local"


def test_two_nodes_giving_one_pv_name_are_refused():
    with pytest.raises(sl.StorageError, match="local-node-1-db is given by node-1 and node.1"):
        sl.cluster_objects({"node-1": [{"name": "db", "path": "/a", "capacity": "1Gi"}],
                            "node.1": [{"name": "db", "path": "/b", "capacity": "1Gi"}]})


def test_no_volumes_still_gives_the_storage_class():
    assert [o["kind"] for o in sl.cluster_objects({"n": []})] == ["StorageClass"]


def test_a_volume_without_a_class_takes_the_roles_class():
    objects = sl.cluster_objects({"n": [{"name": "db", "path": "/a", "capacity": "1Gi"}]}, "local-fast")
    assert [o["metadata"]["name"] for o in objects] == ["local-fast", "local-n-db"]
    assert objects[1]["spec"]["storageClassName"] == "local-fast"


PROBE = (
    "missing mkfs.xfs\n"
    "disk /dev/disk/by-id/virtio-xc-data0 \n"
    'disk /dev/disk/by-id/virtio-xc-data1 {   "signatures": [      {"device": "vdd", "offset": "0x1fe", '
    '"type": "dos", "uuid": null, "label": null}   ]}\n'
)


def test_the_probe_gives_missing_tools_their_packages_and_each_disks_signatures():
    probe = sl.parse_probe(PROBE)
    assert probe["missing"] == ["mkfs.xfs"] and probe["packages"] == ["xfsprogs"]
    assert probe["signatures"] == {DISK: [], "/dev/disk/by-id/virtio-xc-data1": [
        {"device": "vdd", "offset": "0x1fe", "type": "dos", "uuid": None, "label": None}]}


def test_an_absent_disk_is_named():
    with pytest.raises(sl.StorageError, match="virtio-nope does not exist on this node"):
        sl.parse_probe("absent /dev/disk/by-id/virtio-nope\n")


def test_every_disk_is_decided_before_any_is_touched():
    probe = sl.parse_probe(PROBE)
    volumes = [{"name": "a", "path": "/a", "capacity": "1Gi", "device": DISK},
               {"name": "b", "path": "/b", "capacity": "1Gi", "device": "/dev/disk/by-id/virtio-xc-data1"},
               {"name": "c", "path": "/c", "capacity": "1Gi"}]
    with pytest.raises(sl.StorageError, match="virtio-xc-data1 holds dos"):
        sl.disk_plan(probe, volumes)
    plan = sl.disk_plan(probe, volumes, wipe=["/dev/disk/by-id/virtio-xc-data1"])
    assert [(p["volume"]["name"], p["action"]) for p in plan] == [("a", "format"), ("b", "wipe")]


def test_tools_follow_the_file_systems_asked_for():
    assert sl.tools_needed([{"name": "c", "path": "/c", "capacity": "1Gi"}]) == []
    assert sl.tools_needed([{"device": DISK}, {"device": DISK, "fstype": "xfs"}]) == [
        "wipefs", "blkid", "mkfs.ext4", "mkfs.xfs"]


# --- what the cluster already holds under our names (clash_problems) ---------------------------

def _ours():
    return sl.cluster_objects({"node-1": [{"name": "db", "path": "/data/db", "capacity": "5Gi"}]})


def test_the_same_objects_in_the_cluster_are_no_clash():
    objects = _ours()
    classes = [o for o in objects if o["kind"] == "StorageClass"]
    volumes = [o for o in objects if o["kind"] == "PersistentVolume"]
    assert sl.clash_problems(objects, classes, volumes) == []
    assert sl.clash_problems(objects, [], []) == []


def test_a_volume_of_our_name_at_another_path_or_node_or_kind_is_named_with_the_fix():
    objects = _ours()
    theirs = copy.deepcopy([o for o in objects if o["kind"] == "PersistentVolume"][0])
    theirs["spec"]["local"]["path"] = "/other"
    msg = sl.clash_problems(objects, [], [theirs])
    assert msg == ["PersistentVolume local-node-1-db already exists as the local volume /other on node-1 (ours: "
                   "/data/db on node-1): rename the volume in storage_local_volumes, or delete that "
                   "PersistentVolume when no claim uses it"]
    moved = copy.deepcopy(theirs)
    moved["spec"]["local"]["path"] = "/data/db"
    moved["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] = ["node-2"]
    assert "the local volume /data/db on node-2" in sl.clash_problems(objects, [], [moved])[0]
    nfs = {"metadata": {"name": "local-node-1-db"}, "spec": {"nfs": {"server": "nas", "path": "/x"}}}
    assert "already exists as a volume of another kind" in sl.clash_problems(objects, [], [nfs])[0]


def test_a_class_of_our_name_with_another_provisioner_is_the_one_clash_rule():
    objects = _ours()
    theirs = {"metadata": {"name": "local-storage"}, "provisioner": "example.com/other",
              "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Retain"}
    msg = sl.clash_problems(objects, [theirs], [])
    assert len(msg) == 1 and msg[0].startswith("StorageClass local-storage already exists and is another class: "
                                               'provisioner "example.com/other"')
    assert "set storage_local_storage_class (or the volume's storage_class) to another name" in msg[0]
