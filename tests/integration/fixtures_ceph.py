"""pytest fixture ``ceph``: a real single-node Ceph cluster from Debian's packages.

One monitor, one manager and one OSD on memstore (the objects live in the OSD's memory, so no
disk or loop device of this machine is used), all on 127.0.0.1 with free ports, under a
private directory of the test session; every pool has size 1. Started once per test module
that asks for it (``tests/integration/storage_ceph/``), stopped and removed after it. The
start prints its duration (12 to 20 s on two cores).

Programs: ceph-authtool, monmaptool, ceph-mon (ceph-mon), ceph-mgr (ceph-mgr), ceph-osd
(ceph-osd), ceph, rbd (ceph-common).
"""

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CONF = """[global]
fsid = {fsid}
mon_host = [v2:127.0.0.1:{v2},v1:127.0.0.1:{v1}]
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = {dir}/$name.keyring
run_dir = {dir}/run
admin_socket = {dir}/run/$name.asok
log_file = {dir}/log/$name.log
pid_file = {dir}/run/$name.pid
ms_bind_ipv6 = false
public_network = 127.0.0.0/8
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_data = {dir}/mon/$cluster-$id
mgr_data = {dir}/mgr/$cluster-$id
osd_data = {dir}/osd/$cluster-$id
# Nothing but the modules a manager always runs: no dashboard, no prometheus.
mgr_initial_modules =
osd_objectstore = memstore
memstore_device_bytes = 1073741824
osd_max_object_name_len = 256
osd_max_object_namespace_len = 64
"""


def _run(argv, check=True, timeout=60, context=None, **kwargs):
    """Run ``argv``; on failure (with ``check``) raise with its output and ``context()``."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (exit %s):\n%s%s\n%s" % (
            " ".join(argv), proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:],
            context() if context else ""))
    return proc


def _start(argv, log_path):
    """Start a daemon in the foreground of its own session, its output to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


class CephCluster(object):
    """The running cluster: its fsid, monitor addresses, admin config, and ``ceph``/``rbd`` as
    the admin or as any user with a key."""

    pool = "xc-rbd"
    fs_name = "xcfs"

    def __init__(self, workdir):
        self.dir = workdir
        self.fsid = str(uuid.uuid4())
        self.v1, self.v2 = free_port(), free_port()
        self.conf = os.path.join(workdir, "ceph.conf")
        self.procs = {}
        self.start_seconds = None

    @property
    def monitors(self):
        """The monitors as ceph-csi and the role take them: v1 addresses, host:port."""
        return ["127.0.0.1:%d" % self.v1]

    def run(self, argv, check=True, timeout=60, **kwargs):
        """_run with this cluster's logs in the failure message."""
        return _run(argv, check=check, timeout=timeout, context=self.log_tail, **kwargs)

    def ceph(self, *args, **kwargs):
        """``ceph`` as client.admin, through the cluster's ceph.conf."""
        return _run(["ceph", "-c", self.conf, "--connect-timeout", "20"] + list(args), context=self.log_tail,
                    **kwargs)

    def as_user(self, program, user, key, *args, **kwargs):
        """``program`` (ceph, rbd, rados) as client.<user> with only the monitors and ``key``:
        no ceph.conf, as a client of another machine would connect."""
        keyring = os.path.join(self.dir, "keyring-%s" % uuid.uuid4().hex[:8])
        with open(os.open(keyring, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
            fh.write("[client.%s]\n\tkey = %s\n" % (user, key))
        try:
            return self.run([program, "--conf", "/dev/null", "-m", ",".join("v1:" + m for m in self.monitors),
                             "--id", user, "--keyring", keyring] + list(args), **kwargs)
        finally:
            os.unlink(keyring)

    def _daemon(self, name, argv):
        self.procs[name] = _start(argv + ["-c", self.conf, "-f"], os.path.join(self.dir, "log", name + ".out"))

    def _wait(self, what, test, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError("%s exited (%s) while waiting for %s:\n%s"
                                         % (name, proc.returncode, what, self.log_tail()))
            if test():
                return
            time.sleep(1)
        raise AssertionError("Ceph: %s not within %ss:\n%s" % (what, timeout, self.log_tail()))

    def start(self):
        began = time.monotonic()
        for sub in ("run", "log", "mon", "mgr/ceph-x", "osd/ceph-0"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(self.conf, "w") as fh:
            fh.write(CONF.format(fsid=self.fsid, v1=self.v1, v2=self.v2, dir=self.dir))
        mon_keyring = os.path.join(self.dir, "mon..keyring")
        admin_keyring = os.path.join(self.dir, "client.admin.keyring")
        ctx = {"context": self.log_tail}
        _run(["ceph-authtool", "--create-keyring", mon_keyring, "--gen-key", "-n", "mon.",
              "--cap", "mon", "allow *"], **ctx)
        _run(["ceph-authtool", "--create-keyring", admin_keyring, "--gen-key", "-n", "client.admin",
              "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *",
              "--cap", "mds", "allow *"], **ctx)
        _run(["ceph-authtool", mon_keyring, "--import-keyring", admin_keyring], **ctx)
        monmap = os.path.join(self.dir, "monmap")
        _run(["monmaptool", "--create", "--addv", "a",
              "[v2:127.0.0.1:%d,v1:127.0.0.1:%d]" % (self.v2, self.v1), "--fsid", self.fsid, monmap], **ctx)
        _run(["ceph-mon", "-c", self.conf, "--mkfs", "-i", "a", "--monmap", monmap,
              "--keyring", mon_keyring], **ctx)
        self._daemon("mon", ["ceph-mon", "-i", "a"])
        self._wait("the monitor", lambda: self.ceph("mon", "stat", check=False).returncode == 0)

        self.ceph("auth", "get-or-create", "mgr.x", "mon", "allow profile mgr", "osd", "allow *",
                  "mds", "allow *", "-o", os.path.join(self.dir, "mgr.x.keyring"))
        self._daemon("mgr", ["ceph-mgr", "-i", "x"])

        osd_uuid = str(uuid.uuid4())
        osd_id = self.ceph("osd", "new", osd_uuid).stdout.strip()
        assert osd_id == "0", osd_id
        _run(["ceph-osd", "-c", self.conf, "-i", "0", "--mkfs", "--mkkey", "--no-mon-config",
              "--osd-uuid", osd_uuid], timeout=120, **ctx)
        self.ceph("auth", "add", "osd.0", "osd", "allow *", "mon", "allow profile osd", "mgr",
                  "allow profile osd", "-i", os.path.join(self.dir, "osd.0.keyring"))
        self._daemon("osd", ["ceph-osd", "-i", "0"])
        self._wait("the OSD up", lambda: '"num_up_osds":1' in self.ceph(
            "osd", "stat", "-f", "json", check=False).stdout.replace(" ", ""))

        self.ceph("osd", "pool", "create", self.pool, "8")
        self.ceph("osd", "pool", "set", self.pool, "size", "1", "--yes-i-really-mean-it")
        self.ceph("osd", "pool", "application", "enable", self.pool, "rbd")
        # A CephFS file system (no MDS: ceph-csi's checks read it, nothing mounts it here).
        for pool in ("xc-cephfs-meta", "xc-cephfs-data"):
            self.ceph("osd", "pool", "create", pool, "8")
            self.ceph("osd", "pool", "set", pool, "size", "1", "--yes-i-really-mean-it")
        self.ceph("fs", "new", self.fs_name, "xc-cephfs-meta", "xc-cephfs-data")
        self._wait("the pool's placement groups active", self._pgs_active)
        self.start_seconds = time.monotonic() - began

    def _pgs_active(self):
        out = self.ceph("pg", "stat", check=False).stdout
        # "8 pgs: 8 active+clean; ..."
        words = out.split()
        return len(words) > 2 and words[1] == "pgs:" and "%s active+clean" % words[0] in out

    def add_user(self, name, caps):
        """client.<name> with ``caps`` ([entity, cap, ...]); returns its key."""
        self.ceph("auth", "get-or-create", "client." + name, *caps)
        return self.ceph("auth", "print-key", "client." + name).stdout.strip()

    def log_tail(self, lines=20):
        out = []
        for name in ("mon.a", "mgr.x", "osd.0"):
            path = os.path.join(self.dir, "log", "%s.log" % name)
            if not os.path.exists(path):
                path = os.path.join(self.dir, "log", name.split(".", maxsplit=1)[0] + ".out")
            try:
                with open(path, "rb") as fh:
                    tail = fh.read().splitlines()[-lines:]
            except OSError:
                continue
            out.append("== %s\n%s" % (path, b"\n".join(tail).decode("utf-8", "replace")))
        return "\n".join(out)

    def stop(self):
        for name in ("osd", "mgr", "mon"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def ceph(tmp_path_factory):
    """A started single-node Ceph (:class:`CephCluster`) for one test module, stopped and removed
    when the module is done (its OSD holds every object in memory)."""
    found = {"ceph": shutil.which("ceph"), "rbd": shutil.which("rbd"), "ceph-authtool": shutil.which("ceph-authtool"),
             "monmaptool": shutil.which("monmaptool"), "ceph-mon": shutil.which("ceph-mon"),
             "ceph-mgr": shutil.which("ceph-mgr"), "ceph-osd": shutil.which("ceph-osd")}
    missing = sorted(tool for tool, path in found.items() if path is None)
    if missing:
        pytest.fail("Ceph needs %s (Debian: ceph-mon ceph-mgr ceph-osd ceph-common)" % ", ".join(missing))
    workdir = str(tmp_path_factory.mktemp("ceph"))
    cluster = CephCluster(workdir)
    try:
        cluster.start()
        print("\nCeph single node (1 mon, 1 mgr, 1 memstore OSD) started in %.1f s" % cluster.start_seconds)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
