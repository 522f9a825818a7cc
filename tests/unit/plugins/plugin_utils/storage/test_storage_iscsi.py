"""The iSCSI storage rules: names, CHAP, targets and LUNs, the backend choice, tgt's and LIO's
configuration, tgtd's live state, the initiator settings, and the objects published."""

import hashlib
import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.xinchuang.cloud.plugins.filter import storage_iscsi as filters
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.storage import iscsi as si

IQN = "iqn.2026-11.cloud.example:data"
SECRET = "Abcdef-12345"  # 12 characters


def target(**more):
    lun = dict({"lun": 1, "backing": "file", "path": "/srv/iscsi/a.img", "size": "1Gi", "pv_name": "iscsi-a"},
               **more.pop("lun", {}))
    return dict({"iqn": IQN, "chap_user": "site", "chap_secret": SECRET, "luns": [lun]}, **more)


@pytest.mark.parametrize("name", [
    IQN, "iqn.2026-11.cloud.example", "iqn.1993-08.org.debian:01:abcdef", "eui.02004567A425678D",
    "iqn.2001-04.com.example:storage:diskarrays-sn-a8675309",
])
def test_valid_iscsi_names_pass(name):
    assert si.iqn_problem(name, "iqn") is None


@pytest.mark.parametrize("name, word", [
    ("IQN.2026-11.cloud.example:data", "lower case"),
    ("iqn.2026-11.Cloud.example:data", "lower case"),
    ("iqn.2026-13.cloud.example:data", "month 13"),
    ("iqn.26-11.cloud.example:data", "not an iSCSI name"),
    ("iqn.2026-11.cloud_example:data", "not an iSCSI name"),
    ("iqn.2026-11.cloud.example:da ta", "not an iSCSI name"),
    ("eui.02004567a425678d", "not an iSCSI name"),
    ("iqn.2026-11.c:" + "a" * 220, "longer than 223 bytes"),
    ("", "not an iSCSI name"),
    (None, "not an iSCSI name"),
])
def test_bad_iscsi_names_are_named(name, word):
    problem = si.iqn_problem(name, "iqn")
    assert problem and word in problem and repr(name) in problem


@pytest.mark.parametrize("length, ok", [(11, False), (12, True), (16, True), (17, False)])
def test_chap_secret_length_is_12_to_16(length, ok):
    secret = ("Ab1-" * 5)[:length]
    problems = si.chap_problems("user", secret, "t")
    assert (problems == []) is ok
    if not ok:
        assert "has %d characters" % length in problems[0] and "12 to 16" in problems[0]
        assert secret not in problems[0]


@pytest.mark.parametrize("secret", ["Abcdef 123456", "Abcdef#123456", 'Abcdef"123456', "Abcdef\\123456"])
def test_chap_secret_characters_that_break_config_files_are_refused(secret):
    problems = si.chap_problems("user", secret, "t")
    assert len(problems) == 1 and "character" in problems[0] and secret not in problems[0]


def test_a_good_target_has_no_problems_and_passes_the_check():
    targets = [target(initiators=["iqn.2026-11.cloud.example.node:n1"]),
               target(iqn=IQN + "2", lun={"lun": 3, "backing": "block", "path": "/dev/disk/by-id/xc-1",
                                          "capacity": "100Gi", "size": None, "pv_name": "iscsi-b",
                                          "fs_type": "xfs"})]
    targets[1]["luns"][0].pop("size")
    assert si.target_problems(targets) == []
    assert si.check_targets(targets) is targets


@pytest.mark.parametrize("targets, words", [
    ([target(chap_secret="short")], ["chap_secret has 5 characters"]),
    ([target(lun={"backing": "nvme"})], ["backing 'nvme' is unknown", "'file'", "'block'"]),
    ([target(iqn="iqn.bad")], ["iqn 'iqn.bad' is not an iSCSI name"]),
    ([target(lun={"lun": 0})], ["lun 0 must be a number from 1 to 255"]),
    ([target(lun={"lun": True})], ["lun True"]),
    ([dict(target(), luns=[target()["luns"][0], dict(target()["luns"][0], path="/srv/b", pv_name="b")])],
     ["lun 1 is used twice"]),
    ([dict(target(), luns=[target()["luns"][0], dict(target()["luns"][0], lun=2, pv_name="b")])],
     ["path '/srv/iscsi/a.img' is already exported"]),
    ([target(), target(iqn=IQN + "2", lun={"path": "/srv/b"})], ["pv_name 'iscsi-a' is already the PersistentVolume"]),
    ([target(), target()], ["iqn %r is given twice" % IQN]),
    ([target(lun={"backing": "block", "path": "/srv/x", "capacity": "1Gi"})], ["must be a device under /dev"]),
    ([target(lun={"path": "/dev/sdb"})], ["use backing 'block'"]),
    ([target(lun={"size": "lots"})], ["size 'lots' is not a size"]),
    ([target(lun={"pv_name": "Big_PV"})], ["pv_name 'Big_PV'"]),
    ([target(lun={"pv_name": "iscsi..a"})], ["pv_name 'iscsi..a'"]),
    ([target(lun={"pv_name": "iscsi.-a"})], ["pv_name 'iscsi.-a'"]),
    ([target(lun={"fs_type": "btrfs"})], ["fs_type 'btrfs'"]),
    ([target(lun={"colour": "red"})], ["unknown key(s) colour"]),
    ([target(initiators=["InitiatorOne"])], ["initiator 'InitiatorOne' is not an iSCSI name"]),
    ([dict(target(), luns=[])], ["has no luns"]),
    ("nope", ["must be a list"]),
])
def test_each_bad_target_is_named(targets, words):
    problems = si.target_problems(targets)
    text = "; ".join(problems)
    for word in words:
        assert word in text, text
    with pytest.raises(si.IscsiError, match="nothing was changed"):
        si.check_targets(targets)


def test_a_block_lun_needs_capacity_and_no_size():
    lun = {"backing": "block", "path": "/dev/disk/by-id/x"}
    text = "; ".join(si.target_problems([target(lun=lun)]))
    assert "a block LUN needs capacity" in text and "size is for file LUNs" in text


@pytest.mark.parametrize("requested, probe, chosen", [
    ("auto", "lio yes\n", "lio"), ("auto", "lio no\n", "tgt"), ("auto", "", "tgt"),
    ("tgt", "lio yes", "tgt"), ("lio", "lio yes", "lio"),
])
def test_the_backend_follows_the_kernel_probe(requested, probe, chosen):
    assert si.choose_backend(requested, probe) == chosen


def test_lio_on_a_kernel_without_it_and_an_unknown_backend_are_refused():
    with pytest.raises(si.IscsiError, match="no LIO target core"):
        si.choose_backend("lio", "lio no")
    with pytest.raises(si.IscsiError, match="'scst' is unknown"):
        si.choose_backend("scst", "lio yes")


@pytest.mark.parametrize("backend, family, packages, service", [
    ("tgt", "deb", ["tgt"], "tgt"), ("tgt", "rpm", ["scsi-target-utils"], "tgtd"),
    ("lio", "deb", ["targetcli-fb"], "rtslib-fb-targetctl"), ("lio", "rpm", ["targetcli"], "target"),
])
def test_target_packages_and_service_per_family(backend, family, packages, service):
    plan = si.target_plan(backend, family)
    assert (plan["packages"], plan["service"]) == (packages, service)


def test_initiator_packages_per_family_and_multipath():
    assert si.initiator_packages("deb") == ["open-iscsi"]
    assert si.initiator_packages("rpm", True) == ["iscsi-initiator-utils", "device-mapper-multipath"]
    assert si.initiator_packages("deb", True) == ["open-iscsi", "multipath-tools"]
    with pytest.raises(si.IscsiError):
        si.initiator_packages("apk")


def test_tgt_config_numbers_each_lun_and_binds_the_chap_account():
    two = dict(target(initiators=["iqn.2026-11.cloud.example.node:n1"]),
               luns=[dict(target()["luns"][0], lun=7, path="/srv/b", pv_name="b", read_only=True),
                     target()["luns"][0]])
    text = si.tgt_config([two])
    assert text.splitlines()[1:] == [
        "<target %s>" % IQN,
        "    <backing-store /srv/iscsi/a.img>", "        lun 1", "    </backing-store>",
        "    <backing-store /srv/b>", "        lun 7", "        readonly 1", "    </backing-store>",
        "    incominguser site %s" % SECRET,
        "    initiator-name iqn.2026-11.cloud.example.node:n1",
        "</target>"]


def test_tgt_config_refuses_bad_targets():
    with pytest.raises(si.IscsiError, match="chap_secret"):
        si.tgt_config([target(chap_secret="x")])


def test_lio_config_generates_acls_with_tpg_chap_or_names_the_initiators():
    open_target = si.lio_config([target()])
    (obj,) = open_target["storage_objects"]
    assert (obj["plugin"], obj["dev"], obj["size"]) == ("fileio", "/srv/iscsi/a.img", 1 << 30)
    tpg = open_target["targets"][0]["tpgs"][0]
    assert open_target["targets"][0]["wwn"] == IQN
    assert tpg["attributes"]["authentication"] == 1 and tpg["attributes"]["generate_node_acls"] == 1
    assert (tpg["chap_userid"], tpg["chap_password"]) == ("site", SECRET)
    assert tpg["luns"] == [{"index": 1, "storage_object": "/backstores/fileio/" + obj["name"]}]
    assert tpg["portals"] == [{"ip_address": "0.0.0.0", "port": 3260}]

    node = "iqn.2026-11.cloud.example.node:n1"
    closed = si.lio_config([target(initiators=[node])])["targets"][0]["tpgs"][0]
    assert closed["attributes"]["generate_node_acls"] == 0 and "chap_userid" not in closed
    (acl,) = closed["node_acls"]
    assert (acl["node_wwn"], acl["chap_userid"], acl["chap_password"]) == (node, "site", SECRET)
    assert acl["mapped_luns"] == [{"index": 1, "tpg_lun": 1, "write_protect": False}]


def test_lio_block_storage_object():
    lun = {"backing": "block", "path": "/dev/disk/by-id/x", "capacity": "1Gi"}
    t = target(lun=lun)
    t["luns"][0].pop("size")
    (obj,) = si.lio_config([t])["storage_objects"]
    assert (obj["plugin"], obj["dev"]) == ("block", "/dev/disk/by-id/x")


# As tgtadm 1.0.85 prints it (Debian bookworm), trimmed.
SHOW = """Target 1: %s
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
        LUN: 1
            Type: disk
            Size: 67 MB, Block size: 512
            Backing store type: rdwr
            Backing store path: /srv/iscsi/a.img
            Backing store flags:
    Account information:
        site
    ACL information:
        ALL
""" % IQN


def test_tgtadm_show_is_read():
    assert si.parse_tgt_show(SHOW) == {IQN: {"luns": {1: "/srv/iscsi/a.img"}, "accounts": ["site"]}}


def test_drift_names_missing_targets_other_luns_and_accounts():
    assert si.tgt_drift(SHOW, [target()]) == []
    assert si.tgt_drift("", [target()]) == [IQN]
    assert si.tgt_drift(SHOW, [target(chap_user="other")]) == [IQN]
    assert si.tgt_drift(SHOW, [target(lun={"path": "/srv/other.img"})]) == [IQN]
    assert si.tgt_drift(SHOW, [target(lun={"lun": 2})]) == [IQN]


def test_backing_files_are_the_file_luns_in_bytes():
    assert si.backing_files([target(lun={"size": "64Mi"})]) == [{"path": "/srv/iscsi/a.img", "bytes": 64 << 20}]


def test_initiator_name_is_stable_per_node_and_checked():
    assert si.initiator_name("", "iqn.2026-11.cloud.example.node", "Node_1") == "iqn.2026-11.cloud.example.node:node-1"
    assert si.initiator_name("iqn.1993-08.org.debian:01:ab", "x", "n") == "iqn.1993-08.org.debian:01:ab"
    with pytest.raises(si.IscsiError, match="storage_iscsi_initiator_name 'Bad'"):
        si.initiator_name("Bad", "iqn.2026-11.cloud.example", "n")
    with pytest.raises(si.IscsiError, match="storage_iscsi_initiator_prefix"):
        si.initiator_name("", "iqn.x", "n")


def test_two_nodes_with_one_initiator_name_are_named():
    assert si.initiator_name_clashes({"a": "iqn.2026-11.x:a", "b": "iqn.2026-11.x:b"}) == []
    (problem,) = si.initiator_name_clashes({"a": "iqn.2026-11.x:a", "b": "iqn.2026-11.x:a"})
    assert "hosts a and b" in problem and "storage_iscsi_initiator_name" in problem


def test_iscsid_settings_with_and_without_chap():
    assert si.iscsid_settings() == [{"key": "node.startup", "value": "manual"}]
    settings = {s["key"]: s["value"] for s in si.iscsid_settings("node", SECRET)}
    assert settings["node.session.auth.authmethod"] == "CHAP"
    assert (settings["node.session.auth.username"], settings["node.session.auth.password"]) == ("node", SECRET)
    with pytest.raises(si.IscsiError) as err:
        si.iscsid_settings("node", "short")
    assert "short" not in str(err.value).split("chap_secret", maxsplit=1)[0] and "5 characters" in str(err.value)


@pytest.mark.parametrize("namespace", ["Kube_System", "k" * 64, None])
def test_a_secret_namespace_that_is_no_namespace_name_is_refused(namespace):
    with pytest.raises(si.IscsiError, match="storage_iscsi_secret_namespace .* is not a namespace name"):
        si.cluster_objects([target()], "192.0.2.10", namespace)


def test_objects_are_a_chap_secret_then_retained_iscsi_pvs():
    t = dict(target(), luns=[target()["luns"][0], dict(target()["luns"][0], lun=2, path="/srv/b", pv_name=None)])
    t["luns"][1].pop("pv_name")
    secret, pv = si.cluster_objects([t], "192.0.2.10", "kube-system", "iscsi")
    assert secret["kind"] == "Secret" and secret["type"] == "kubernetes.io/iscsi-chap"
    name = "iscsi-chap-cloud-example-data-" + hashlib.sha1(IQN.encode()).hexdigest()[:8]
    assert secret["metadata"] == {"name": name, "namespace": "kube-system",
                                  "labels": {"xinchuang.cloud/storage": "iscsi"}}
    assert secret["stringData"] == {"node.session.auth.username": "site", "node.session.auth.password": SECRET}
    assert pv["metadata"]["name"] == "iscsi-a"
    spec = pv["spec"]
    assert spec["persistentVolumeReclaimPolicy"] == "Retain" and spec["capacity"] == {"storage": "1Gi"}
    assert spec["storageClassName"] == "iscsi"
    assert spec["iscsi"] == {"targetPortal": "192.0.2.10:3260", "iqn": IQN, "lun": 1, "fsType": "ext4",
                             "readOnly": False, "chapAuthSession": True, "chapAuthDiscovery": False,
                             "secretRef": {"name": name, "namespace": "kube-system"}}


@pytest.mark.parametrize("portal, expected", [
    ("san-01", "san-01:3260"), ("192.0.2.1:3261", "192.0.2.1:3261"), ("2001:db8::1", "[2001:db8::1]:3260"),
])
def test_target_portal_forms(portal, expected):
    pv = si.cluster_objects([target()], portal)[1]
    assert pv["spec"]["iscsi"]["targetPortal"] == expected
    assert "storageClassName" not in pv["spec"]


def test_a_block_lun_pv_takes_its_capacity():
    t = target(lun={"backing": "block", "path": "/dev/disk/by-id/x", "capacity": "100Gi"})
    t["luns"][0].pop("size")
    assert si.cluster_objects([t], "h")[1]["spec"]["capacity"] == {"storage": "100Gi"}


def test_pv_name_clashes_with_other_volumes_are_named_and_our_own_pv_is_not():
    objects = si.cluster_objects([target()], "h")
    ours = {"metadata": {"name": "iscsi-a", "labels": {"xinchuang.cloud/storage": "iscsi"}},
            "spec": {"iscsi": {"iqn": IQN, "lun": 1}}}
    assert si.pv_clashes([ours, {"metadata": {"name": "unrelated"}}], objects) == []
    (problem,) = si.pv_clashes([{"metadata": {"name": "iscsi-a"}, "spec": {"hostPath": {"path": "/x"}}}], objects)
    assert "'iscsi-a' already exists as a volume of another kind" in problem and "choose another pv_name" in problem
    other = {"metadata": {"name": "iscsi-a", "labels": {"xinchuang.cloud/storage": "iscsi"}},
             "spec": {"iscsi": {"iqn": IQN + "x", "lun": 1}}}
    assert "as iSCSI %sx LUN 1" % IQN in si.pv_clashes([other], objects)[0]


def test_secret_names_of_two_targets_never_meet():
    a = si.secret_name({"iqn": "iqn.2026-11.cn.example.san-01:data"})
    b = si.secret_name({"iqn": "iqn.2026-11.cn.example.san-02:data"})
    c = si.secret_name({"iqn": "iqn.2026-11.cn.example:" + "x" * 60 + "a"})
    d = si.secret_name({"iqn": "iqn.2026-11.cn.example:" + "x" * 60 + "b"})
    assert len({a, b, c, d}) == 4
    assert all(len(n) <= 63 and n[-1] != "-" for n in (a, b, c, d))


def test_the_filters_fail_with_the_rules_message_and_each_has_its_doc():
    table = filters.FilterModule().filters()
    with pytest.raises(AnsibleFilterError, match="chap_secret has 5 characters"):
        table["storage_iscsi_tgt_config"]([target(chap_secret="short")])
    with pytest.raises(AnsibleFilterError, match="no LIO target core"):
        table["storage_iscsi_target_plan"]("lio no", "lio", "deb")
    assert table["storage_iscsi_target_plan"]("lio no", "auto", "rpm")["packages"] == ["scsi-target-utils"]
    here = os.path.dirname(filters.__file__)
    assert [name for name in table if not os.path.isfile(os.path.join(here, name + ".yml"))] == []
