"""xinchuang.cloud.storage_iscsi on real parts: two systemd lab containers of the amd64 lab
image on the role tests' internal network, installing Debian's tgt, open-iscsi and python3-apt
from a local Debian repository (the site's mirror; the hosts have no route out).

- xc-iscsi-target (group iscsi_target): the role's target part with the tgt backend (the
  kernel probe finds no LIO in a container, so auto must choose tgt) exports a file-backed LUN
  behind CHAP. This machine's userspace initiator (libiscsi-bin: iscsi-ls, iscsi-inq; the
  kernel initiator cannot work here) logs in with the right CHAP and sees the LUN, and is
  refused with a wrong secret.
- xc-iscsi-node (group kube_node): the initiator part; the package is installed and the
  initiator name is written once and kept on a rerun.
- The CHAP Secret and the static PersistentVolume are applied into the test bed's real API
  server (delegated to this machine) and read back.

The tests run in file order on the same hosts: bad inputs first (the hosts must stay
untouched), check mode on the fresh hosts, the first run, the proofs, the rerun and check
mode again.
"""

import base64
import json
import os
import subprocess
import tempfile
import uuid

import pytest

from tests.integration.ansible_run import ansible_playbook
from tests.integration.registry_role import lab_host
from tests.integration.registry_role.lab_host import LabHost, debian_repository

pytestmark = pytest.mark.slow

PACKAGES = ["tgt", "open-iscsi", "python3-apt"]
TAG = uuid.uuid4().hex[:6]
IQN = "iqn.2026-11.cloud.xinchuang.test:lab-data-" + TAG
USER = "labuser"
SECRET = "Lab-Secret-123"  # 14 characters
PV = "iscsi-lab-data-" + TAG
LUN_FILE = "/srv/iscsi/lab-data-1.img"
TGT_CONF = "/etc/tgt/conf.d/xinchuang-storage-iscsi.conf"
NAME_FILE = "/etc/iscsi/initiatorname.iscsi"


def target(**more):
    lun = dict({"lun": 1, "backing": "file", "path": LUN_FILE, "size": "64Mi", "pv_name": PV}, **more.pop("lun", {}))
    return dict({"iqn": IQN, "chap_user": USER, "chap_secret": SECRET, "luns": [lun]}, **more)


@pytest.fixture(scope="module")
def hosts():
    repo = debian_repository("amd64", PACKAGES)
    lab_host.network()
    made = []
    try:
        for name in ("xc-iscsi-target", "xc-iscsi-node"):
            made.append(LabHost(name, "amd64", repo).start())
        yield made[0], made[1]
    finally:
        for host in made:
            host.remove()


def run(hosts, testbed, targets, check=False, entry=None, node_vars=None, diff=False):
    """The role on both hosts (the target's variables as its host vars): (report, process)."""
    target_host, node = hosts
    common = {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3",
              "ansible_docker_timeout": 120}
    inventory = {"all": {
        "hosts": {
            target_host.name: dict(common, storage_iscsi_targets=targets, storage_iscsi_portal=target_host.address),
            node.name: dict(common, **(node_vars or {})),
        },
        "children": {"iscsi_target": {"hosts": {target_host.name: {}}}, "kube_node": {"hosts": {node.name: {}}}},
    }}
    role = {"role": "xinchuang.cloud.storage_iscsi"}
    play = {"hosts": "kube_node" if entry == "initiator" else "all", "gather_facts": False, "roles": [role],
            "vars": {"storage_iscsi_kubeconfig": testbed.kubeconfig, "storage_iscsi_delegate_to": "localhost"}}
    if entry:
        play = dict(play, roles=[], tasks=[{"ansible.builtin.include_role": {"name": role["role"], "tasks_from": entry}}])
    with tempfile.TemporaryDirectory() as tmp:
        inv, book = os.path.join(tmp, "inventory.json"), os.path.join(tmp, "play.yml")
        with open(inv, "w") as fh:
            json.dump(inventory, fh)
        with open(book, "w") as fh:
            json.dump([play], fh)
        return ansible_playbook(["-i", inv, book], check=check, diff=diff,
                                extra_env={"ANSIBLE_PIPELINING": "true"})


def stats(report):
    return {host: (s["changed"], s["failures"]) for host, s in report["stats"].items()}


def failures(report):
    return [result.get("msg", "") for play in report["plays"] for task in play["tasks"]
            for result in task["hosts"].values() if result.get("failed")]


def changed(report, host):
    return [name for name, result in lab_host.task_results(report, host) if result.get("changed")]


def untouched(hosts, testbed):
    target_host, node = hosts
    for host, package in ((target_host, "tgt"), (node, "open-iscsi")):
        status = host.run(["dpkg-query", "-W", "-f", "${Status}", package], check=False)
        assert "install ok installed" not in status.stdout, host.name
    assert target_host.run(["sh", "-c", "ls %s %s 2>/dev/null; true" % (TGT_CONF, LUN_FILE)]).stdout.strip() == ""
    assert node.run(["sh", "-c", "grep -s xinchuang %s; true" % NAME_FILE]).stdout.strip() == ""
    assert testbed.kubectl("get", "pv", PV, check=False).returncode != 0


HOST_INITIATOR = "iqn.2026-11.cloud.xinchuang.test:host-side"


def url(address, user, secret, *path):
    """A libiscsi URL with CHAP user and secret."""
    return "iscsi://%s%%%s@%s:3260/%s" % (user, secret, address, "/".join(str(p) for p in path))


def initiator(argv):
    """This machine's userspace initiator (libiscsi-bin) as HOST_INITIATOR."""
    return subprocess.run(argv + ["-i", HOST_INITIATOR], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def foreign_pv(testbed):
    """A PersistentVolume of another kind holding a name the role is asked to use."""
    name = "iscsi-clash-" + TAG
    testbed.apply({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                   "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                            "hostPath": {"path": "/tmp/" + name}}})
    yield name
    testbed.kubectl("delete", "pv", name, "--ignore-not-found", check=False)


@pytest.fixture(scope="module", autouse=True)
def cleanup(testbed):
    yield
    testbed.kubectl("delete", "pv", PV, "--ignore-not-found", check=False)
    testbed.kubectl("delete", "secret", "-n", "kube-system", "-l", "xinchuang.cloud/storage=iscsi",
                    "--ignore-not-found", check=False)


@pytest.mark.parametrize("case, words", [
    ("short_secret", ["chap_secret has 11 characters", "12 to 16"]),
    ("long_secret", ["chap_secret has 17 characters"]),
    ("unknown_backing", ["backing 'nvme' is unknown", "'file'", "'block'"]),
    ("bad_iqn", ["iqn 'IQN.2026-11.Cloud:Data' is not an iSCSI name", "lower case"]),
    ("duplicate_lun", ["lun 1 is used twice", "number each LUN"]),
    ("pv_clash", ["already exists as a volume of another kind", "choose another pv_name"]),
    ("missing_device", ["/dev/disk/by-id/xc-absent", "do not exist"]),
    ("bad_initiator_secret", ["storage_iscsi_initiator_chap: chap_secret has 5 characters"]),
])
def test_bad_input_is_named_and_nothing_is_changed(hosts, testbed, foreign_pv, case, words):
    targets = {
        "short_secret": [target(chap_secret="Short-12345")],
        "long_secret": [target(chap_secret="Much-Too-Long-123")],
        "unknown_backing": [target(lun={"backing": "nvme"})],
        "bad_iqn": [target(iqn="IQN.2026-11.Cloud:Data")],
        "duplicate_lun": [dict(target(), luns=target()["luns"] + [
            dict(target()["luns"][0], path="/srv/iscsi/b.img", pv_name=PV + "-b")])],
        "pv_clash": [target(lun={"pv_name": foreign_pv})],
        "missing_device": [target(lun={"backing": "block", "path": "/dev/disk/by-id/xc-absent", "capacity": "1Gi",
                                       "size": None})],
    }.get(case, [target()])
    if case == "missing_device":
        targets[0]["luns"][0].pop("size")
    node_vars = {"storage_iscsi_initiator_chap_user": "node", "storage_iscsi_initiator_chap_secret": "short"} \
        if case == "bad_initiator_secret" else None
    report, proc = run(hosts, testbed, targets, node_vars=node_vars)
    problems = failures(report)
    assert problems, proc.stdout[-3000:]
    text = " ".join(problems)
    for word in words:
        assert word in text, text
    assert "nothing was changed" in text
    assert SECRET not in proc.stdout + proc.stderr
    untouched(hosts, testbed)


def test_check_mode_on_fresh_hosts_reports_changes_and_changes_nothing(hosts, testbed):
    report, proc = run(hosts, testbed, [target()], check=True, diff=True)
    target_host, node = hosts
    assert not failures(report), (failures(report), proc.stdout[-3000:])
    assert report["stats"][target_host.name]["changed"] > 0
    assert report["stats"][node.name]["changed"] > 0
    # --diff shows the initiator name that would be written; the secrets' files show nothing.
    results = dict(lab_host.task_results(report, node.name))
    name_diff = results["Storage iSCSI | Write this node's initiator name"]["diff"]
    after = name_diff[0]["after"] if isinstance(name_diff, list) else name_diff["after"]
    assert "InitiatorName=iqn.2026-11.cloud.xinchuang.node:xc-iscsi-node" in after
    assert SECRET not in proc.stdout + proc.stderr
    untouched(hosts, testbed)


def test_target_exports_the_lun_behind_chap_once(hosts, testbed):
    target_host, node = hosts
    report, proc = run(hosts, testbed, [target()])
    assert not failures(report), (failures(report), proc.stdout[-3000:])
    assert SECRET not in proc.stdout + proc.stderr
    # auto chose tgt: the container's kernel has no LIO
    assert target_host.run(["systemctl", "is-active", "tgt"]).stdout.strip() == "active"
    mode = target_host.run(["stat", "-c", "%a %U", TGT_CONF]).stdout.split()
    assert mode == ["600", "root"]

    good = initiator(["iscsi-ls", "-s", url(target_host.address, USER, SECRET)])
    assert good.returncode == 0 and IQN in good.stdout and "Lun:1" in good.stdout.replace(" ", ""), (
        good.stdout, good.stderr)
    inquiry = initiator(["iscsi-inq", url(target_host.address, USER, SECRET, IQN, 1)])
    assert inquiry.returncode == 0 and "IET" in inquiry.stdout, (inquiry.stdout, inquiry.stderr)
    capacity = initiator(["iscsi-readcapacity16", url(target_host.address, USER, SECRET, IQN, 1)])
    assert capacity.returncode == 0 and "Total size:%d" % (64 << 20) in capacity.stdout, (
        capacity.stdout, capacity.stderr)

    wrong = initiator(["iscsi-inq", url(target_host.address, USER, "Wrong-Secret-99", IQN, 1)])
    assert wrong.returncode != 0 and "IET" not in wrong.stdout, (wrong.stdout, wrong.stderr)
    stranger = initiator(["iscsi-inq", url(target_host.address, "someone", SECRET, IQN, 1)])
    assert stranger.returncode != 0, stranger.stdout

    again, proc = run(hosts, testbed, [target()])
    assert not failures(again), failures(again)
    assert changed(again, target_host.name) == [] and changed(again, node.name) == [], proc.stdout[-2000:]
    checked, _proc = run(hosts, testbed, [target()], check=True)
    assert stats(checked)[target_host.name] == (0, 0) and stats(checked)[node.name] == (0, 0)


def test_tgtd_restarted_without_the_role_serves_the_lun_again(hosts, testbed):
    """The live state is read, not assumed: a tgtd that lost its targets gets them back."""
    target_host, _node = hosts
    target_host.run(["tgt-admin", "--delete", IQN])
    assert IQN not in initiator(["iscsi-ls", "-s", url(target_host.address, USER, SECRET)]).stdout
    report, _proc = run(hosts, testbed, [target()])
    assert "Storage iSCSI | Bring tgtd's targets to the configuration" in changed(report, target_host.name)
    assert IQN in initiator(["iscsi-ls", "-s", url(target_host.address, USER, SECRET)]).stdout


def test_the_static_pv_and_chap_secret_are_in_the_api_server(hosts, testbed):
    target_host, _node = hosts
    pv = testbed.get_json("pv", PV)
    spec = pv["spec"]
    assert spec["persistentVolumeReclaimPolicy"] == "Retain"
    assert spec["capacity"]["storage"] == "64Mi"
    assert spec["accessModes"] == ["ReadWriteOnce"]
    source = spec["iscsi"]
    assert source["targetPortal"] == "%s:3260" % target_host.address
    assert (source["iqn"], source["lun"], source["fsType"]) == (IQN, 1, "ext4")
    assert source["chapAuthSession"] is True
    name = source["secretRef"]["name"]
    assert source["secretRef"]["namespace"] == "kube-system"
    assert pv["status"]["phase"] == "Available"
    secret = testbed.get_json("secret", name, "-n", "kube-system")
    assert secret["type"] == "kubernetes.io/iscsi-chap"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == {"node.session.auth.username": USER, "node.session.auth.password": SECRET}


def test_the_node_keeps_its_initiator_name(hosts, testbed):
    _target, node = hosts
    status = node.run(["dpkg-query", "-W", "-f", "${Status}", "open-iscsi"]).stdout
    assert "install ok installed" in status
    first = node.run(["cat", NAME_FILE]).stdout
    assert "InitiatorName=iqn.2026-11.cloud.xinchuang.node:xc-iscsi-node\n" in first
    stamp = node.run(["stat", "-c", "%Y %i", NAME_FILE]).stdout
    report, _proc = run(hosts, testbed, [target()], entry="initiator")
    assert stats(report) == {node.name: (0, 0)}, changed(report, node.name)
    assert node.run(["cat", NAME_FILE]).stdout == first
    assert node.run(["stat", "-c", "%Y %i", NAME_FILE]).stdout == stamp
