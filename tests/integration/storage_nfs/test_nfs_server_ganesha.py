"""The storage_nfs role's server part with the NFS-Ganesha backend on a real systemd host (a lab
container; this machine's kernel has no nfsd, so the kernel backend runs on the lab's machines
instead), installed offline from a local Debian repository standing for the site's mirror, and a
real NFSv4 client (libnfs's nfs-cp/nfs-cat/nfs-ls on this machine, user space as well):

- check mode on the fresh host reports the install and changes nothing;
- the first run serves the export: a file written as root lands squashed (root_squash) and is
  read back; an export whose clients do not include this machine is refused;
- a rerun changes nothing; bad input (an export open to every host) fails naming it, with the
  server's configuration untouched.
"""

import os
import subprocess
import tempfile

import pytest

from tests.integration.registry_role.lab_host import (
    LabHost, changed_tasks, debian_repository, failures, network, run_play, sh,
)

pytestmark = pytest.mark.slow

CONF = "/etc/ganesha/ganesha.conf"


def subnet():
    return sh(["docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
               network()]).stdout.strip()


def exports():
    return [{"name": "lab", "path": "/srv/nfs/lab", "clients": [subnet()]},
            {"name": "closed", "path": "/srv/nfs/closed", "clients": ["10.254.0.0/16"]}]


def play(host, role_vars, check=False):
    tasks = [{"name": "NFS server", "ansible.builtin.include_role": {
        "name": "xinchuang.cloud.storage_nfs", "tasks_from": "server"}}]
    return run_play([host], {"tasks": tasks}, check=check, groups=("nfs_server",), extra_vars=dict({
        "storage_nfs_backend": "ganesha", "storage_nfs_grace_time": 0,
        "storage_nfs_cluster_side": False}, **role_vars))


def nfs(tool, *args, check=True):
    return subprocess.run([tool] + list(args), capture_output=True, text=True, timeout=60, check=check)


@pytest.fixture(scope="module")
def server():
    repo = debian_repository("amd64", ["nfs-ganesha", "nfs-ganesha-vfs", "python3-apt"])
    # Ganesha's VFS backend opens files by handle (open_by_handle_at): CAP_DAC_READ_SEARCH.
    host = LabHost("xc-reg-nfs", "amd64", repo, extra_args=["--cap-add", "DAC_READ_SEARCH", "--tmpfs", "/srv/nfs"]).start()
    yield host
    host.remove()


def test_check_mode_on_a_fresh_host_changes_nothing(server):
    report, proc = play(server, {"storage_nfs_exports": exports()}, check=True)
    assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
    assert any(t.startswith("OS packages | Say which packages would be installed") for t in changed_tasks(report, server.name))
    assert server.run(["dpkg-query", "-W", "nfs-ganesha"], check=False).returncode != 0
    assert server.run(["test", "-e", CONF], check=False).returncode != 0


def test_the_export_serves_this_machine_with_root_squashed(server):
    report, proc = play(server, {"storage_nfs_exports": exports()})
    assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
    assert server.run(["systemctl", "is-active", "nfs-ganesha"]).stdout.strip() == "active"
    url = "nfs://%s/srv/nfs/lab/hello.txt?version=4" % server.address
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "hello.txt")
        with open(src, "w") as fh:
            fh.write("written over NFSv4\n")
        nfs("nfs-cp", src, url)
    owner = server.run(["stat", "-c", "%u", "/srv/nfs/lab/hello.txt"]).stdout.strip()
    assert owner == "65534", "root was not squashed: the file belongs to uid %s" % owner
    assert nfs("nfs-cat", url).stdout == "written over NFSv4\n"
    closed = nfs("nfs-ls", "nfs://%s/srv/nfs/closed?version=4" % server.address, check=False)
    assert closed.returncode != 0, "an export for 10.254.0.0/16 answered this machine: %s" % closed.stdout


def test_a_rerun_changes_nothing(server):
    report, proc = play(server, {"storage_nfs_exports": exports()})
    assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
    assert changed_tasks(report, server.name) == []


def test_an_export_open_to_every_host_is_refused_and_nothing_changes(server):
    before = server.run(["sha256sum", CONF]).stdout
    bad = exports() + [{"name": "world", "path": "/srv/nfs/world", "clients": ["*"]}]
    report, proc = play(server, {"storage_nfs_exports": bad})
    assert proc.returncode != 0
    text = " ".join(msg for _name, msg in failures(report, server.name))
    assert "'world'" in text and "'*'" in text and "nothing was changed" in text
    assert server.run(["sha256sum", CONF]).stdout == before
    assert server.run(["test", "-e", "/srv/nfs/world"], check=False).returncode != 0
