"""containerd 2.x of the build matrix, run on the host for the container_runtime role's tests.

Session fixture ``containerd_bundle``: the offline bundle for the host's GOARCH laid out by
``hack/bundle.sh`` (containerd and CNI sets of the component table, bundle_policy.py; Debian's runc).
``run_role``: runs the role on localhost through ansible-playbook (ansible.posix.json
callback) and returns the per-task results and the play's stats.
``ContainerdProcess``: a containerd with its own root, state and socket under a temp dir, so
the host's own containerd (Debian's 1.6 under dockerd) is never touched.
"""

import fcntl
import os
import platform
import subprocess
import time

import pytest

from tests.integration.ansible_run import ROOT, run_playbook
from tests.integration.server_process import LoggedProcess

XC_CACHE = os.environ.get("XC_CACHE", "/var/cache/xinchuang")


def host_goarch():
    from ansible_collections.xinchuang.cloud.plugins.module_utils.model.arch import goarch
    return goarch(platform.machine())


def run_bundle_sh(args, env, timeout=3600):
    """hack/bundle.sh ARGS, one at a time across the pytest processes of this machine (xdist
    workers): two lay-outs of one GOARCH at once share its MANIFEST.tsv temporary files."""
    os.makedirs(XC_CACHE, exist_ok=True)
    with open(os.path.join(XC_CACHE, ".bundle-tests.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.run([os.path.join(ROOT, "hack", "bundle.sh")] + list(args), env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def containerd_bundle():
    """(bundle root, kubernetes version, goarch dir) for the host, built when missing."""
    goarch = host_goarch()
    env = dict(os.environ, XC_BUNDLE_SETS="containerd,cni")
    proc = run_bundle_sh([goarch], env)
    if proc.returncode != 0:
        pytest.fail("hack/bundle.sh %s failed (exit %d):\n%s"
                    % (goarch, proc.returncode, proc.stderr[-3000:]))
    version_dir = proc.stdout.strip().splitlines()[-1]
    return os.path.dirname(version_dir), os.path.basename(version_dir), \
        os.path.join(version_dir, goarch)


def run_role(role_vars, check=False, tasks_from=None, timeout=900):
    """Run xinchuang.cloud.container_runtime on localhost; return (results, stats, proc)."""
    include = {"name": "xinchuang.cloud.container_runtime"}
    if tasks_from:
        include["tasks_from"] = tasks_from
    tasks = [{"name": "container_runtime role", "ansible.builtin.include_role": include}]
    report, proc = run_playbook(tasks, check=check, extra_vars=role_vars, timeout=timeout)
    results = []
    for task in report["plays"][0]["tasks"]:
        res = task["hosts"].get("localhost", {})
        res["_task"] = task["task"]["name"]
        results.append(res)
    return results, report["stats"]["localhost"], proc


def role_failure(results):
    failed = [r for r in results if r.get("failed")]
    return "\n".join("%s: %s" % (r["_task"], r.get("msg")) for r in failed)


class ContainerdProcess(LoggedProcess):
    """containerd started with the role's config.toml (paths all under a temp dir)."""

    def __init__(self, binary, config, socket, log_path):
        super(ContainerdProcess, self).__init__(log_path)
        self.stop_timeout, self.tail_lines = 20, 40
        self.binary, self.config, self.socket = binary, config, socket

    def start(self, timeout=60):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "--config", self.config, "--log-level", "debug"],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        ctr = os.path.join(os.path.dirname(self.binary), "ctr")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.socket) and subprocess.run(
                    [ctr, "--address", self.socket, "version"], capture_output=True,
                    timeout=10, check=False).returncode == 0:
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("containerd did not answer on %s; log tail:\n%s"
                           % (self.socket, self.log_tail()))
