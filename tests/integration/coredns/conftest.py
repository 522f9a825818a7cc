"""Fixtures of the CoreDNS tests: the real binary (built from source by the testbed build
matrix, row `coredns`) and CoreDNS servers started on 127.0.0.1 on free ports."""

import os
import shutil
import subprocess

import pytest

from tests.integration.coredns.common import ROOT, CoreDNS, matrix_version

CACHE = os.environ.get("XC_CACHE", "/var/cache/xinchuang")


@pytest.fixture(scope="session")
def coredns_binary():
    """Path of the amd64 CoreDNS binary of the matrix row; built (cached) when missing."""
    version = matrix_version("coredns")
    from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy

    path = bundle_policy.cache_path(os.path.join(CACHE, "build"), bundle_policy.component("coredns"), "amd64")
    if not os.access(path, os.X_OK):
        proc = subprocess.run([os.path.join(ROOT, "hack", "testbed.sh"), "build", "coredns", "amd64"],
                              capture_output=True, text=True, cwd=ROOT, timeout=3600, check=False)
        if proc.returncode != 0:
            pytest.fail("building CoreDNS failed (hack/testbed.sh build coredns amd64):\n%s"
                        % proc.stderr[-4000:], pytrace=False)
    out = subprocess.run([path, "-version"], capture_output=True, text=True, check=True).stdout
    assert "CoreDNS-" + version.lstrip("v") in out, out
    return path


@pytest.fixture(scope="session")
def dig_path():
    path = shutil.which("dig")
    if not path:
        pytest.fail("dig is missing: apt-get install bind9-dnsutils (hack/deps.sh)", pytrace=False)
    return path


@pytest.fixture
def coredns(coredns_binary, tmp_path):
    """Factory: coredns(corefile_text, name) -> a started CoreDNS; all stopped at the end."""
    started = []

    def start(corefile, name="coredns", files=None, wait=True):
        server = CoreDNS(coredns_binary, tmp_path / name, corefile, files=files)
        server.start(wait=wait)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
