"""The storage roles on a fresh amd64 machine with Debian's amd64 kernel: this machine's kernel
has no nfsd, no NFS client and no iSCSI, so a lab machine carries them (topology
hack/lab/topologies/storage-machines.hosts, on a network of its own). Unlike the e2e lab, whose
machine images hold the storage packages already, every package here comes offline from a
Debian repository this machine serves on the lab network (the site's mirror), installed by the
roles themselves.

The cross-architecture cases (an arm64 kernel server and LIO target, a mips64el kernel client
and initiator, mounted by Pods) run in the e2e stage on the lab cluster
(tests/e2e/test_cluster.py); this module keeps what only it covers: installation from the
mirror on a fresh machine, and the amd64 kernel as server and client.

- NFS: storage_nfs's server part with the kernel backend; the machine's own kernel client
  mounts the export over the lab network (NFSv4.1, hard), writes as root: the file lands
  squashed (65534), and reads it back. A rerun changes nothing.
- iSCSI: storage_iscsi's target part (LIO: the kernel has it) with a file LUN and CHAP, and its
  initiator part on the same machine with the node's CHAP settings; the kernel initiator
  (iscsiadm, iscsi_tcp) logs in to the portal's lab address and sees the 64 MiB disk; with a
  wrong CHAP secret the login is refused. A rerun changes nothing.
The machine proves its architecture by `uname -m`.
"""

import contextlib
import functools
import hashlib
import http.server
import json
import os
import subprocess
import tempfile
import threading

import pytest

from tests.integration.ansible_run import ROOT, ansible_playbook
from tests.integration.registry_role.lab_host import debian_repository

pytestmark = pytest.mark.slow

TOPOLOGY = "storage-machines"
GATEWAY = "172.30.10.1"
NETWORK = {
    "XC_LAB_TOPO_NETWORK": "xc-lab-nas",
    "XC_LAB_TOPO_BRIDGE": "xc-labn0",
    "XC_LAB_SUBNET": "172.30.10.0/24",
    "XC_LAB_GATEWAY": GATEWAY,
    "XC_LAB_IP_RANGE": "172.30.10.128/25",
}
MACHINE = ("xc-lab-nas-amd64", "172.30.10.30", "amd64")
LAB = os.path.join(ROOT, "hack", "lab.sh")
KEY = os.path.join(ROOT, ".lab", "ssh", "id_ed25519")
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]


def lab(*args):
    return subprocess.run([LAB] + list(args) + ["--topology", TOPOLOGY], env=dict(os.environ, **NETWORK),
                          capture_output=True, text=True, timeout=3600, check=False)


def ssh(address, command, check=True, timeout=600):
    proc = subprocess.run(["ssh", "-i", KEY] + SSH_OPTS + ["root@" + address, command],
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s: %s failed (%d): %s%s"
                             % (address, command, proc.returncode, proc.stdout[-1500:], proc.stderr[-1500:]))
    return proc


@contextlib.contextmanager
def mirror(directory):
    """The site's mirror: ``directory`` over HTTP on the lab network's gateway address."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer((GATEWAY, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://%s:%d" % (GATEWAY, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def use_mirror(address, arch, packages, serve_root, url):
    """A repository of ``packages`` for the machine (against its own dpkg status), linked
    under the served directory, as the machine's only apt source."""
    status = ssh(address, "cat /var/lib/dpkg/status").stdout
    repo = debian_repository(arch, packages, status_text=status,
                             flavour="machine-" + hashlib.sha256(status.encode()).hexdigest()[:12])
    os.symlink(repo, os.path.join(serve_root, arch))
    ssh(address, "echo 'deb [trusted=yes] %s/%s ./' >/etc/apt/sources.list && rm -f /etc/apt/sources.list.d/* "
                 "&& apt-get -qq update" % (url, arch), timeout=900)


def run_play(tasks, role_vars, groups, host_vars=None, check=False):
    """A play of ``tasks`` on the machine (SSH), with ``groups`` {group: [machine names]} and
    ``host_vars`` {machine name: {variable: value}}."""
    hosts = {}
    for name, address, _arch in (MACHINE,):
        connection = {"ansible_host": address, "ansible_user": "root", "ansible_connection": "ssh",
                      "ansible_ssh_private_key_file": KEY, "ansible_ssh_common_args": " ".join(SSH_OPTS[:-2]),
                      "ansible_python_interpreter": "/usr/bin/python3", "ansible_timeout": 60}
        hosts[name] = dict((host_vars or {}).get(name, {}), **connection)
    inventory = {"all": {"hosts": hosts, "children": {
        g: {"hosts": {n: {} for n in members}} for g, members in groups.items()}}}
    play = [{"hosts": ":".join(groups), "gather_facts": False, "tasks": tasks}]
    with tempfile.TemporaryDirectory() as tmp:
        inv, book = os.path.join(tmp, "inventory.json"), os.path.join(tmp, "play.yml")
        with open(inv, "w") as fh:
            json.dump(inventory, fh)
        with open(book, "w") as fh:
            json.dump(play, fh)
        # Ansible's own strategy: on this fresh machine the apt module first installs python3-apt
        # and starts itself again under it, which Mitogen's in-process modules cannot do.
        report, proc = ansible_playbook(["-i", inv, book], extra_vars=role_vars, check=check, timeout=2400,
                                        extra_env={"ANSIBLE_STRATEGY": "linear"})
    results = [(t["task"]["name"], h, r) for p in report["plays"] for t in p["tasks"] for h, r in t["hosts"].items()]
    failed = [(n, h, r.get("msg")) for n, h, r in results if r.get("failed")]
    changed = [(n, h) for n, h, r in results if r.get("changed")]
    return proc, failed, changed


def run_server_role(check=False):
    tasks = [{"name": "NFS server", "ansible.builtin.include_role": {
        "name": "xinchuang.cloud.storage_nfs", "tasks_from": "server"}}]
    role_vars = {"storage_nfs_backend": "kernel", "storage_nfs_grace_time": 10, "storage_nfs_cluster_side": False,
                 "storage_nfs_exports": [{"name": "lab", "path": "/srv/nfs/lab",
                                          "clients": [NETWORK["XC_LAB_SUBNET"]]}]}
    return run_play(tasks, role_vars, {"nfs_server": [MACHINE[0]]}, check=check)


IQN = "iqn.2026-11.cloud.xinchuang.lab:nas-data"
CHAP_USER, CHAP_SECRET = "labnode", "Lab-Chap-1234"  # 13 characters


def run_iscsi_role(check=False):
    """storage_iscsi's main entry point on the machine: the target part (its LUN in its host
    variables) and the initiator part (it is a node too), no cluster objects."""
    tasks = [{"name": "iSCSI", "ansible.builtin.include_role": {"name": "xinchuang.cloud.storage_iscsi"}}]
    role_vars = {"storage_iscsi_publish": False,
                 "storage_iscsi_initiator_chap_user": CHAP_USER, "storage_iscsi_initiator_chap_secret": CHAP_SECRET}
    target = {"storage_iscsi_targets": [{
        "iqn": IQN, "chap_user": CHAP_USER, "chap_secret": CHAP_SECRET,
        "luns": [{"lun": 1, "backing": "file", "path": "/srv/iscsi/nas-data-1.img", "size": "64Mi"}]}]}
    return run_play(tasks, role_vars, {"iscsi_target": [MACHINE[0]], "kube_node": [MACHINE[0]]},
                    host_vars={MACHINE[0]: target}, check=check)


@pytest.fixture(scope="module")
def machines():
    up = lab("up")
    try:
        assert up.returncode == 0, "hack/lab.sh up --topology %s failed:\n%s" % (TOPOLOGY, up.stderr[-3000:])
        with tempfile.TemporaryDirectory() as serve_root, mirror(serve_root) as url:
            use_mirror(MACHINE[1], "amd64", ["nfs-kernel-server", "nfs-common", "targetcli-fb", "open-iscsi",
                                             "python3-apt"], serve_root, url)
            yield url
    finally:
        lab("down")


def test_the_machine_runs_its_own_architecture(machines):
    assert ssh(MACHINE[1], "uname -m").stdout.strip() == "x86_64"


def test_the_kernel_server_squashes_root_and_its_kernel_client_reads_back(machines):
    proc, failed, _changed = run_server_role()
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert ssh(MACHINE[1], "systemctl is-active nfs-server").stdout.strip() == "active"
    # Through the lab address, not loopback: the export's clients are the lab subnet.
    export = "%s:/srv/nfs/lab" % MACHINE[1]
    ssh(MACHINE[1], "mkdir -p /mnt/lab && mount -t nfs4 -o nfsvers=4.1,hard,timeo=100 %s /mnt/lab "
                    "&& echo 'written by an amd64 kernel client' >/mnt/lab/from-amd64 && sync "
                    "&& umount /mnt/lab" % export, timeout=900)
    assert ssh(MACHINE[1], "stat -c %u /srv/nfs/lab/from-amd64").stdout.strip() == "65534", "root was not squashed"
    read = ssh(MACHINE[1], "mount -t nfs4 -o nfsvers=4.1,hard %s /mnt/lab "
                           "&& cat /mnt/lab/from-amd64; umount /mnt/lab" % export, timeout=600)
    assert read.stdout == "written by an amd64 kernel client\n"


def test_a_rerun_on_the_machine_changes_nothing(machines):
    proc, failed, changed = run_server_role()
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert changed == []


def iscsiadm(command, check=True):
    return ssh(MACHINE[1], command, check=check, timeout=300)


def test_the_kernel_initiator_logs_in_to_the_lio_target_with_chap(machines):
    proc, failed, _changed = run_iscsi_role()
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    # The kernel's own target (LIO, in configfs), chosen because the kernel has it.
    assert IQN in ssh(MACHINE[1], "ls /sys/kernel/config/target/iscsi").stdout
    portal = MACHINE[1] + ":3260"
    found = iscsiadm("iscsiadm -m discovery -t sendtargets -p %s" % portal).stdout
    assert IQN in found, found
    try:
        iscsiadm("iscsiadm -m node -T %s -p %s --login" % (IQN, portal))
        size = iscsiadm("for i in $(seq 30); do d=$(ls /dev/disk/by-path/*%s-lun-1 2>/dev/null) && break; sleep 1; done; "
                        "blockdev --getsize64 $d" % IQN).stdout.strip()
        assert size == str(64 * 1024 * 1024)
    finally:
        iscsiadm("iscsiadm -m node -T %s -p %s --logout" % (IQN, portal), check=False)
    iscsiadm("iscsiadm -m node -T %s -p %s -o update -n node.session.auth.password -v Wrong-Secret-99" % (IQN, portal))
    refused = iscsiadm("iscsiadm -m node -T %s -p %s --login" % (IQN, portal), check=False)
    iscsiadm("iscsiadm -m node -T %s -p %s --logout" % (IQN, portal), check=False)
    assert refused.returncode != 0, "a wrong CHAP secret logged in: %s" % refused.stdout
    assert "authorization failure" in (refused.stdout + refused.stderr).lower(), refused.stdout + refused.stderr


def test_a_rerun_of_the_iscsi_role_changes_nothing(machines):
    proc, failed, changed = run_iscsi_role()
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert changed == []
