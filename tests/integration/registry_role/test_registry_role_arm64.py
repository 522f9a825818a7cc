"""xinchuang.cloud.registry on an arm64 systemd host under QEMU user emulation (the arm64 lab
image as the container xc-reg-arm64), where the OS repository offers no docker-registry: the
role takes the offline bundle's binary of the host's GOARCH. The bundle is laid out by the test
from Debian's arm64 docker-registry package (what the bundle documents as the binary's source);
the certificate is given as files (made by hack/pki.py here), the other TLS mode than the amd64
test's. Proof of the architecture: the ELF header of the installed binary, not that it ran
(binfmt runs any binary anywhere here).
"""

import os
import shutil
import subprocess
import tempfile

import pytest

from tests.integration.registry_role import lab_host
from tests.integration.registry_role.lab_host import (
    LabHost, changed_tasks, debian_repository, failures, sh)
from tests.proof.elf import goarch_of_bytes

pytestmark = pytest.mark.slow

USER = {"name": "ci-push", "password": "arm64-Secret-1"}


@pytest.fixture(scope="module")
def bundle():
    """<tmp>/v1.37.2/arm64/bin/registry from Debian's arm64 docker-registry package."""
    repo = debian_repository("arm64", ["docker-registry"])
    deb = [f for f in os.listdir(repo) if f.startswith("docker-registry_")][0]
    root = tempfile.mkdtemp(prefix="xc-reg-bundle-")
    unpacked = os.path.join(root, "deb")
    sh(["dpkg-deb", "-x", os.path.join(repo, deb), unpacked])
    bin_dir = os.path.join(root, "v1.37.2", "arm64", "bin")
    os.makedirs(bin_dir)
    shutil.copy(os.path.join(unpacked, "usr", "bin", "docker-registry"),
                os.path.join(bin_dir, "registry"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def host():
    # The site's mirror without docker-registry: only htpasswd and python3-apt.
    lab = LabHost("xc-reg-arm64", "arm64",
                  debian_repository("arm64", ["apache2-utils", "python3-apt"])).start()
    try:
        yield lab
    finally:
        lab.remove()


@pytest.fixture(scope="module")
def role_vars(test_ca, host, bundle):
    cert, key = test_ca.issue("arm64-registry", ["DNS:xc-reg-arm64", "IP:" + host.address])
    return {
        "registry_bundle_dir": bundle,
        "registry_tls_cert_file": cert,
        "registry_tls_key_file": key,
        "registry_tls_ca_cert": test_ca.cert,
        "registry_tls_extra_names": [host.address],
        "registry_users": [USER],
        # Emulated: every start of the registry takes longer.
        "registry_health_timeout": 180,
    }


def run_role(host, role_vars):
    return lab_host.run_role("xinchuang.cloud.registry", host, role_vars)


def test_bundle_binary_of_the_host_architecture_serves_push_and_pull(
        host, role_vars, test_ca, image_layout):
    assert host.run(["uname", "-m"]).stdout.strip() == "aarch64"
    report, proc = run_role(host, role_vars)
    assert proc.returncode == 0, failures(report, host.name) or proc.stderr[-2000:]
    assert "Registry | Install the registry binary from the bundle" in changed_tasks(report, host.name)
    head = subprocess.run(["docker", "exec", host.name, "head", "-c", "64", "/usr/local/bin/registry"],
                          capture_output=True, check=True).stdout
    assert goarch_of_bytes(head, "/usr/local/bin/registry on xc-reg-arm64") == "arm64"
    unit = host.run(["systemctl", "cat", "docker-registry"]).stdout
    assert "ExecStart=/usr/local/bin/registry serve /etc/docker/registry/config.yml" in unit

    layout, image = image_layout
    creds = "%s:%s" % (USER["name"], USER["password"])
    ref = "docker://%s:5000/xc-test/app:arm64" % host.address
    pushed = subprocess.run(["skopeo", "copy", "--dest-cert-dir", test_ca.cert_dir, "--dest-creds",
                             creds, layout, ref], capture_output=True, text=True, timeout=300,
                            check=False)
    assert pushed.returncode == 0, pushed.stderr
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", test_ca.cert_dir, "--creds",
                          creds, ref], capture_output=True, text=True, timeout=300, check=False)
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.encode() == image["manifest"]


def test_second_run_changes_nothing(host, role_vars):
    report, proc = run_role(host, role_vars)
    assert proc.returncode == 0, failures(report, host.name)
    assert changed_tasks(report, host.name) == []
