"""The storage_nfs role's kernel backend, and kernel NFS clients, on real kernels: this
machine's kernel has neither nfsd nor an NFS client, so the lab's full-system machines carry
them (topology hack/lab/topologies/storage-nfs.hosts, on a network of its own):

- xc-lab-nas-amd64 (an amd64 machine, Debian's amd64 kernel) gets the role's server part with
  the kernel backend, its packages installed offline from a Debian repository this machine
  serves on the lab network (the site's mirror);
- xc-lab-nas-arm64 (an arm64 machine, Debian's arm64 kernel) mounts the export with the kernel
  client (NFSv4.1, hard) and writes a file as root: it lands squashed (65534) on the server;
- the amd64 machine mounts its own export with its kernel client and reads the file back;
- a rerun of the role changes nothing.
Each machine proves its architecture by `uname -m`.
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

TOPOLOGY = "storage-nfs"
GATEWAY = "172.30.10.1"
NETWORK = {
    "XC_LAB_TOPO_NETWORK": "xc-lab-nas",
    "XC_LAB_TOPO_BRIDGE": "xc-labn0",
    "XC_LAB_SUBNET": "172.30.10.0/24",
    "XC_LAB_GATEWAY": GATEWAY,
    "XC_LAB_IP_RANGE": "172.30.10.128/25",
}
SERVER = ("xc-lab-nas-amd64", "172.30.10.30", "amd64")
CLIENT = ("xc-lab-nas-arm64", "172.30.10.31", "arm64")
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
        raise AssertionError("%s: %s failed (%d): %s%s" % (address, command, proc.returncode,
                                                          proc.stdout[-1500:], proc.stderr[-1500:]))
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


def run_server_role(check=False):
    name, address, _arch = SERVER
    inventory = {"all": {"children": {"nfs_server": {"hosts": {name: {
        "ansible_host": address, "ansible_user": "root", "ansible_connection": "ssh",
        "ansible_ssh_private_key_file": KEY, "ansible_ssh_common_args": " ".join(SSH_OPTS[:-2]),
        "ansible_python_interpreter": "/usr/bin/python3", "ansible_timeout": 60}}}}}}
    play = [{"hosts": "nfs_server", "gather_facts": False, "tasks": [{
        "name": "NFS server", "ansible.builtin.include_role": {
            "name": "xinchuang.cloud.storage_nfs", "tasks_from": "server"}}]}]
    role_vars = {"storage_nfs_backend": "kernel", "storage_nfs_grace_time": 10, "storage_nfs_csi": False,
                 "storage_nfs_exports": [{"name": "lab", "path": "/srv/nfs/lab",
                                          "clients": [NETWORK["XC_LAB_SUBNET"]]}]}
    with tempfile.TemporaryDirectory() as tmp:
        inv, book = os.path.join(tmp, "inventory.json"), os.path.join(tmp, "play.yml")
        with open(inv, "w") as fh:
            json.dump(inventory, fh)
        with open(book, "w") as fh:
            json.dump(play, fh)
        report, proc = ansible_playbook(["-i", inv, book], extra_vars=role_vars, check=check, timeout=2400)
    results = [(t["task"]["name"], t["hosts"].get(name, {})) for p in report["plays"] for t in p["tasks"]]
    failed = [(n, r.get("msg")) for n, r in results if r.get("failed")]
    changed = [n for n, r in results if r.get("changed")]
    return proc, failed, changed


@pytest.fixture(scope="module")
def machines():
    up = lab("up")
    try:
        assert up.returncode == 0, "hack/lab.sh up --topology %s failed:\n%s" % (TOPOLOGY, up.stderr[-3000:])
        with tempfile.TemporaryDirectory() as serve_root, mirror(serve_root) as url:
            use_mirror(SERVER[1], "amd64", ["nfs-kernel-server", "python3-apt"], serve_root, url)
            use_mirror(CLIENT[1], "arm64", ["nfs-common"], serve_root, url)
            ssh(CLIENT[1], "DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends nfs-common",
                timeout=1200)
            yield url
    finally:
        lab("down")


def test_each_machine_runs_its_own_architecture(machines):
    assert ssh(SERVER[1], "uname -m").stdout.strip() == "x86_64"
    assert ssh(CLIENT[1], "uname -m").stdout.strip() == "aarch64"


def test_the_kernel_server_serves_an_arm64_writer_and_an_amd64_reader(machines):
    proc, failed, _changed = run_server_role()
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert ssh(SERVER[1], "systemctl is-active nfs-server").stdout.strip() == "active"
    export = "%s:/srv/nfs/lab" % SERVER[1]
    ssh(CLIENT[1], "mkdir -p /mnt/lab && mount -t nfs4 -o nfsvers=4.1,hard,timeo=100 %s /mnt/lab "
                   "&& echo 'written by an arm64 kernel client' >/mnt/lab/from-arm64 && sync "
                   "&& umount /mnt/lab" % export, timeout=900)
    assert ssh(SERVER[1], "stat -c %u /srv/nfs/lab/from-arm64").stdout.strip() == "65534", "root was not squashed"
    read = ssh(SERVER[1], "mkdir -p /mnt/lab && mount -t nfs4 -o nfsvers=4.1,hard %s:/srv/nfs/lab /mnt/lab "
                          "&& cat /mnt/lab/from-arm64; umount /mnt/lab" % SERVER[1], timeout=600)
    assert read.stdout == "written by an arm64 kernel client\n"


def test_a_rerun_on_the_machine_changes_nothing(machines):
    proc, failed, changed = run_server_role()
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert changed == []
