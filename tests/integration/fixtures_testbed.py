"""pytest fixtures for the Kubernetes testbed (hack/testbed.sh, docs/testbed.md).

``testbed`` builds (cached) and starts the control plane once per test session and returns a
:class:`Testbed`; ``testbed_metrics`` also starts metrics-server, so ``kubectl top`` and the
HPA controller see the Pod usage kwok simulates from annotations.

The fixtures stop the testbed at the end of the session only if this session started it and
TESTBED_KEEP=1 is not set: a testbed started by hand, or by another pytest process still
running (pytest-xdist workers share one), is left alone. A start that fails fails the test
with the failing component's log tail (printed by hack/testbed.sh).
"""

import contextlib
import fcntl
import json
import os
import subprocess
import uuid

import pytest
import yaml

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.storage import local as storage_local

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "hack", "testbed.sh")
USER_NAMESPACE = "team-a"
USER_NAME = "team-a-user"


def _state_dir():
    return os.environ.get("TB_STATE") or os.path.join(ROOT, ".testbed")


def _server_of(kubeconfig):
    with open(kubeconfig) as fh:
        config = yaml.safe_load(fh) or {}
    servers = [c["cluster"]["server"] for c in config.get("clusters", []) if c.get("cluster", {}).get("server")]
    if not servers:
        raise AssertionError("no server in %s" % kubeconfig)
    return servers[0]


class Testbed:
    """A running testbed: where its kubeconfigs are, and kubectl bound to them."""

    def __init__(self, state_dir, metrics=False):
        self.state_dir = state_dir
        self.kubeconfig = os.path.join(state_dir, "admin.kubeconfig")
        self.user_kubeconfig = os.path.join(state_dir, "user.kubeconfig")
        self.user = USER_NAME
        self.user_namespace = USER_NAMESPACE
        self.kubectl_path = os.path.join(state_dir, "bin", "kubectl")
        self.server = _server_of(self.kubeconfig)
        self.ca_file = os.path.join(state_dir, "pki", "ca.crt")
        self.metrics = metrics

    def kubectl(self, *args, **kwargs):
        """Run kubectl as the admin; returns the CompletedProcess (text). Keywords:
        ``input`` (stdin), ``check`` (raise on failure, default False), ``timeout`` (s),
        ``kubeconfig`` (another kubeconfig, e.g. ``self.user_kubeconfig``)."""
        kubeconfig = kwargs.pop("kubeconfig", self.kubeconfig)
        check = kwargs.pop("check", False)
        timeout = kwargs.pop("timeout", 120)
        proc = subprocess.run([self.kubectl_path, "--kubeconfig", kubeconfig] + list(args),
                              capture_output=True, text=True, timeout=timeout, check=False,
                              **kwargs)
        if check and proc.returncode != 0:
            raise AssertionError("kubectl %s failed (exit %s):\n%s%s" % (
                " ".join(args), proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
        return proc

    def user_kubectl(self, *args, **kwargs):
        """kubectl as the non-admin user (admin of ``user_namespace`` only)."""
        kwargs["kubeconfig"] = self.user_kubeconfig
        return self.kubectl(*args, **kwargs)

    def apply(self, obj, **kwargs):
        """``kubectl apply`` one object or a v1 List given as a dict."""
        kwargs.setdefault("check", True)
        return self.kubectl("apply", "-f", "-", input=json.dumps(obj), **kwargs)

    def get_json(self, *args, **kwargs):
        kwargs.setdefault("check", True)
        return json.loads(self.kubectl("get", "-o", "json", *args, **kwargs).stdout)

    def log_tail(self, component, lines=40):
        path = os.path.join(self.state_dir, "logs", component + ".log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])


def run_script(*args, env=None, timeout=3600):
    """hack/testbed.sh with args; returns the CompletedProcess (stdout and stderr as text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([SCRIPT] + list(args), capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT, check=False)


def _fail(what, proc):
    pytest.fail("hack/testbed.sh %s failed (exit %s):\n%s\n%s" % (
        what, proc.returncode, proc.stdout[-3000:], proc.stderr[-6000:]), pytrace=False)


@contextlib.contextmanager
def _locked(state_dir):
    """One pytest process at a time builds, starts or stops the testbed."""
    os.makedirs(state_dir, exist_ok=True)
    with open(os.path.join(state_dir, ".fixture.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sessions(state_dir, change=None):
    """The shared record of pytest sessions using the testbed: {'users': n, 'started': bool}."""
    path = os.path.join(state_dir, ".fixture-sessions.json")
    try:
        with open(path) as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        record = {"users": 0, "started": False}
    if change:
        change(record)
        with open(path, "w") as fh:
            json.dump(record, fh)
    return record


@pytest.fixture(scope="session")
def testbed():
    state_dir = _state_dir()
    with _locked(state_dir):
        was_up = run_script("status").returncode == 0
        build = run_script("build")
        if build.returncode != 0:
            _fail("build", build)
        up = run_script("up")
        if up.returncode != 0:
            _fail("up", up)

        def join(record):
            if record["users"] <= 0:
                record["started"] = not was_up
                record["users"] = 0
            record["users"] += 1

        _sessions(state_dir, join)
    bed = Testbed(state_dir)
    yield bed
    with _locked(state_dir):
        left = {}

        def leave(record):
            record["users"] = max(0, record["users"] - 1)
            left.update(record)

        _sessions(state_dir, leave)
        if left["users"] == 0 and left["started"] and os.environ.get("TESTBED_KEEP") != "1":
            run_script("down")


@pytest.fixture(scope="session")
def testbed_metrics(testbed):
    with _locked(testbed.state_dir):
        up = run_script("up", "--metrics")
        if up.returncode != 0:
            _fail("up --metrics", up)
    testbed.metrics = True
    return testbed


@contextlib.contextmanager
def local_site(testbed, prefix, nodes, capacity="10Gi"):
    """One test's own place on the test bed, for a role that claims storage: a namespace name, a
    StorageClass and a local PV (storage_local's objects, as the storage_local role makes them) on
    each of nodes, all named after prefix and a random tag; deleted afterwards, the namespace with
    whatever the role made in it. Yields {"namespace", "class", "pvs" (node: PV name), "tag"}."""
    tag = uuid.uuid4().hex[:6]
    namespace, klass, volume = "%s-%s" % (prefix, tag), "local-%s-%s" % (prefix, tag), "%s-%s" % (prefix, tag)
    objects = storage_local.cluster_objects(
        dict((node, [{"name": volume, "path": "/srv/" + volume, "capacity": capacity}]) for node in nodes), klass)
    testbed.apply({"apiVersion": "v1", "kind": "List", "items": objects})
    pvs = dict((node, storage_local.pv_name(node, volume)) for node in nodes)
    try:
        yield {"namespace": namespace, "class": klass, "pvs": pvs, "tag": tag}
    finally:
        testbed.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")
        testbed.kubectl("delete", "pv", *pvs.values(), "--ignore-not-found", "--wait=false")
        testbed.kubectl("delete", "storageclass", klass, "--ignore-not-found")
