"""The kubernetes role's ``xinchuang-kubelet-cgroup-root`` script on this machine's real cgroup
hierarchies: the lab's container nodes share them, and their kubelets start at the same moment
(issue 34: two fresh rollouts failed with ``mkdir: ... File exists``). Several runs at once must
all succeed and leave every level of the root in every hierarchy, with CPUs and memory nodes in
each v1 cpuset level."""

import os
import subprocess
import uuid

import jinja2
import pytest

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "kubernetes")
TEMPLATE = os.path.join(ROLE, "templates", "kubelet-cgroup-root.sh.j2")
RUNS_AT_ONCE = 8
ROUNDS = 5


def hierarchies():
    with open("/proc/self/mounts") as fh:
        return [line.split()[1] for line in fh if line.split()[2] in ("cgroup", "cgroup2")]


@pytest.fixture
def script(tmp_path):
    if os.geteuid() != 0 or not hierarchies():
        pytest.fail("this test makes cgroups: it needs root and a mounted cgroup hierarchy")
    path = tmp_path / "xinchuang-kubelet-cgroup-root"
    with open(TEMPLATE) as fh:
        path.write_text(jinja2.Template(fh.read()).render(ansible_managed="test"))
    path.chmod(0o755)
    return str(path)


def remove_tree(root):
    """Removes ROOT's levels deepest first in every hierarchy (a cgroup is removed by rmdir)."""
    parts = root.strip("/").split("/")
    for mp in hierarchies():
        for depth in range(len(parts), 0, -1):
            path = os.path.join(mp, *parts[:depth])
            if os.path.isdir(path):
                os.rmdir(path)


@pytest.mark.timeout(120)
def test_runs_at_once_all_succeed_and_each_cpuset_level_has_cpus(script):
    for round_number in range(ROUNDS):
        root = "/xc-test-%s-%d/kubepods/burstable" % (uuid.uuid4().hex[:8], round_number)
        try:
            procs = [subprocess.Popen([script, root], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                     for _run in range(RUNS_AT_ONCE)]
            results = [(p.wait(timeout=60), p.stdout.read().decode()) for p in procs]
            assert [r for r in results if r[0] != 0] == [], results
            parts = root.strip("/").split("/")
            for mp in hierarchies():
                for depth in range(1, len(parts) + 1):
                    path = os.path.join(mp, *parts[:depth])
                    assert os.path.isdir(path), path
                    for name in ("cpuset.cpus", "cpuset.mems"):
                        if os.path.exists(os.path.join(path, name)):
                            with open(os.path.join(path, name)) as fh:
                                assert fh.read().strip(), "%s/%s is empty" % (path, name)
        finally:
            remove_tree(root)
