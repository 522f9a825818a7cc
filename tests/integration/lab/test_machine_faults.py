"""Bad inputs of the lab's machines (hack/lab/machines.sh): the lab stops with a message that
names the machine, where to look and the fix, and leaves nothing half-started running.

The topology hack/lab/topologies/machine-faults.hosts (one arm64 machine) runs on a docker
network of its own (172.30.9.0/24, bridge xc-labf0), so the cluster topology is never touched.
The arm64 machine image is the lab's (built when missing, as `hack/lab.sh up` does).
- A machine that does not answer SSH in time (XC_LAB_BOOT_TIMEOUT): the message names the
  machine, its console log and the setting; QEMU is stopped and its tap device removed. A
  machine whose SSH refuses the lab's key ends on the same wait.
- No /dev/net/tun (hidden by a tmpfs in a mount namespace of its own): the message names the
  machine and the fix; no QEMU, no tap device.
"""

import hashlib
import os
import subprocess

import pytest

from tests.integration.ansible_run import ROOT

pytestmark = pytest.mark.slow

MACHINE = "xc-lab-fault-arm64"
TOPOLOGY = "machine-faults"
NETWORK = {
    "XC_LAB_TOPO_NETWORK": "xc-lab-faults",
    "XC_LAB_TOPO_BRIDGE": "xc-labf0",
    "XC_LAB_SUBNET": "172.30.9.0/24",
    "XC_LAB_GATEWAY": "172.30.9.1",
    "XC_LAB_IP_RANGE": "172.30.9.128/25",
}
LAB = os.path.join(ROOT, "hack", "lab.sh")
CONSOLE = os.path.join(ROOT, ".lab", "machines", MACHINE, "console.log")


def lab(*args, env_extra=None, prefix=(), timeout=1800):
    env = dict(os.environ, **NETWORK)
    env.update(env_extra or {})
    return subprocess.run(list(prefix) + [LAB] + list(args) + ["--topology", TOPOLOGY], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def tap_of(name):
    """hack/lab/machines.sh lab_machine_tap: xct + the first 8 hex digits of sha256(name)."""
    return "xct" + hashlib.sha256(name.encode()).hexdigest()[:8]


def qemu_of(name):
    """PIDs of QEMU processes started for NAME (its state directory is on their command line)."""
    out = subprocess.run(["pgrep", "-f", "qemu-system.*/machines/%s/" % name],
                         capture_output=True, text=True, check=False).stdout
    return out.split()


def tap_exists(name):
    return subprocess.run(["ip", "link", "show", tap_of(name)], capture_output=True,
                          check=False).returncode == 0


@pytest.fixture(scope="module", autouse=True)
def machine_image():
    """The arm64 machine image (cached; a cold build takes ~10 minutes), and the topology
    taken down after the module whatever happened."""
    proc = subprocess.run([LAB, "machines", "arm64"], capture_output=True, text=True,
                          timeout=3600, check=False)
    if proc.returncode != 0:
        pytest.fail("hack/lab.sh machines arm64 failed:\n%s" % proc.stderr[-3000:], pytrace=False)
    yield
    lab("down")


@pytest.mark.timeout(600)
def test_a_machine_that_does_not_answer_in_time_is_stopped_naming_its_console_log():
    proc = lab("up", env_extra={"XC_LAB_BOOT_TIMEOUT": "3"})
    assert proc.returncode != 0, proc.stdout
    err = proc.stderr
    assert MACHINE in err and "no SSH" in err, err[-2000:]
    assert CONSOLE in err and "XC_LAB_BOOT_TIMEOUT" in err, err[-2000:]
    # Nothing half-started is left running.
    assert qemu_of(MACHINE) == []
    assert not tap_exists(MACHINE)


@pytest.mark.timeout(600)
def test_no_tun_device_stops_before_anything_starts():
    # A mount namespace of its own where /dev/net is an empty tmpfs: the real condition of a
    # machine without the tun module, without touching this machine's /dev.
    script = 'mount -t tmpfs tmpfs /dev/net && exec "$@"'
    proc = lab("up", prefix=("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"))
    assert proc.returncode != 0, proc.stdout
    err = proc.stderr
    assert MACHINE in err and "/dev/net/tun is missing" in err and "modprobe tun" in err, err[-2000:]
    assert qemu_of(MACHINE) == []
    assert not tap_exists(MACHINE)
