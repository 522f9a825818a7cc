"""Fixtures of the registry role's tests: a CA on the controller (hack/pki.py), certificates
it issues, and an OCI image to push (see lab_host.py for the hosts and the repository)."""

import os
import shutil
import tempfile

import pytest

from hack import pki
from tests.integration.fixtures_registry import make_image, write_oci_layout


class ControllerCA(object):
    """A CA made on this machine: ``cert``, ``key``, and ``cert_dir`` (a containers-image
    --cert-dir holding only ca.crt, for skopeo). RSA, as a site's CA usually is."""

    def __init__(self, workdir, name="xinchuang role-test CA"):
        self.workdir = workdir
        made = pki.ensure_ca(workdir, name, days=30, key_type="rsa")
        self.cert, self.key = made.cert, made.key
        self.cert_dir = os.path.join(workdir, "certs.d")
        os.makedirs(self.cert_dir)
        shutil.copy(self.cert, os.path.join(self.cert_dir, "ca.crt"))

    def issue(self, name, sans):
        """A server certificate for subjectAltName ``sans`` (e.g. ['DNS:x', 'IP:1.2.3.4']),
        signed by this CA: (cert path, key path)."""
        made = pki.ensure_cert(self.workdir, name, self.workdir, cn=sans[0].split(":", 1)[1],
                               sans=sans, usage="server", days=10, key_type="rsa")
        return made.cert, made.key


@pytest.fixture(scope="module")
def test_ca():
    workdir = tempfile.mkdtemp(prefix="xc-reg-ca-")
    try:
        yield ControllerCA(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def image_layout():
    """An OCI layout of a small amd64 image (skopeo's source) and the image itself."""
    workdir = tempfile.mkdtemp(prefix="xc-reg-image-")
    image = make_image({"architecture": "amd64", "os": "linux"}, filler=200000)
    try:
        yield write_oci_layout(os.path.join(workdir, "layout"), image), image
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
