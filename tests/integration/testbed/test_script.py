"""hack/testbed.sh itself: idempotent `up`, `status`, and what it says on bad inputs.

The failure cases run a second, throw-away testbed (its own state directory and ports) so
the session's testbed keeps running beside them.
"""

import os
import re
import shutil
import socket
import time

import pytest

from tests.integration.fixtures_testbed import run_script

pytestmark = pytest.mark.slow

# Ports of the throw-away testbed: the defaults + 1000, clear of the session's testbed.
ALT_PORTS = {
    "TESTBED_PORT_ETCD": 13379,
    "TESTBED_PORT_ETCD_PEER": 13380,
    "TESTBED_PORT_APISERVER": 17443,
    "TESTBED_PORT_CONTROLLER_MANAGER": 17257,
    "TESTBED_PORT_SCHEDULER": 17259,
    "TESTBED_PORT_KWOK": 17250,
    "TESTBED_PORT_METRICS_SERVER": 17444,
}


@pytest.fixture
def alt_env(tmp_path, testbed):  # testbed: the binaries are built
    env = {k: str(v) for k, v in ALT_PORTS.items()}
    env["TB_STATE"] = str(tmp_path / "testbed")
    yield env
    run_script("down", env=env)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_when_already_up_returns_quickly(testbed):
    start = time.monotonic()
    proc = run_script("up")
    assert proc.returncode == 0, proc.stderr
    assert "already up" in proc.stderr
    assert time.monotonic() - start < 10


def test_status_names_every_component_and_its_log(testbed):
    proc = run_script("status")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"):
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith(component + " ")]
        assert line and "running" in line[0], proc.stdout
        assert os.path.join(testbed.state_dir, "logs", component + ".log") in line[0]


def test_up_refuses_a_taken_port_and_names_it_and_its_process(alt_env):
    port = ALT_PORTS["TESTBED_PORT_APISERVER"]
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        proc = run_script("up", env=alt_env)
    assert proc.returncode != 0
    assert "port %d (kube-apiserver) is already taken" % port in proc.stderr, proc.stderr
    assert "pid %d" % os.getpid() in proc.stderr, proc.stderr
    assert "TESTBED_PORT_APISERVER" in proc.stderr
    # Nothing was started.
    run_dir = os.path.join(alt_env["TB_STATE"], "run")
    assert not os.path.isdir(run_dir) or not os.listdir(run_dir)


def test_half_started_control_plane_is_stopped_and_the_failing_log_shown(alt_env):
    env = dict(alt_env, TESTBED_APISERVER_ARGS="--no-such-flag")
    proc = run_script("up", env=env)
    assert proc.returncode != 0
    assert "kube-apiserver: exited during start-up" in proc.stderr, proc.stderr
    assert "unknown flag: --no-such-flag" in proc.stderr, proc.stderr
    stopped = re.search(r"stopped etcd \(pid (\d+)\)", proc.stderr)
    assert stopped, proc.stderr
    assert not _pid_alive(int(stopped.group(1)))
    assert run_script("status", env=env).returncode != 0


def _empty_cache(tmp_path):
    # A cache of its own holds no binary, so `build` has to reach for Go and the proxy.
    return str(tmp_path / "cache")


def test_build_without_go_says_so_and_how_to_fix(tmp_path):
    go = shutil.which("go")
    drop = {os.path.dirname(go), os.path.dirname(os.path.realpath(go))} if go else set()
    path = ":".join(d for d in os.environ["PATH"].split(":") if d and d not in drop)
    if shutil.which("go", path=path):
        pytest.skip("a second Go toolchain is on PATH: %s" % shutil.which("go", path=path))
    proc = run_script("build", env={"PATH": path, "XC_CACHE": _empty_cache(tmp_path)})
    assert proc.returncode != 0
    assert "no Go toolchain" in proc.stderr, proc.stderr
    assert "PATH" in proc.stderr


@pytest.mark.parametrize("proxy, message", [
    ("http://127.0.0.1:9", "the Go module proxy did not answer"),
    ("off", "GOPROXY is 'off'"),
])
def test_build_with_unreachable_proxy_says_which_and_how_to_fix(tmp_path, proxy, message):
    proc = run_script("build", env={"GOPROXY": proxy, "XC_CACHE": _empty_cache(tmp_path)})
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert "GOPROXY" in proc.stderr
