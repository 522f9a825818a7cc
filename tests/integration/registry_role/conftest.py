"""Fixtures of the registry role's tests: a CA on the controller (openssl), certificates it
issues, and an OCI image to push (see lab_host.py for the hosts and the repository)."""

import os
import shutil
import subprocess
import tempfile

import pytest

from tests.integration.fixtures_registry import make_image, write_oci_layout


class ControllerCA(object):
    """A CA made with openssl on this machine: ``cert``, ``key``, and ``cert_dir`` (a
    containers-image --cert-dir holding only ca.crt, for skopeo)."""

    def __init__(self, workdir, name="xinchuang role-test CA"):
        self.workdir = workdir
        self.cert = os.path.join(workdir, "ca.crt")
        self.key = os.path.join(workdir, "ca.key")
        subprocess.run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048",
                        "-sha256", "-days", "30", "-keyout", self.key, "-out", self.cert,
                        "-subj", "/CN=%s" % name,
                        "-addext", "basicConstraints=critical,CA:TRUE",
                        "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                       check=True, capture_output=True)
        self.cert_dir = os.path.join(workdir, "certs.d")
        os.makedirs(self.cert_dir)
        shutil.copy(self.cert, os.path.join(self.cert_dir, "ca.crt"))

    def issue(self, name, sans):
        """A server certificate for subjectAltName ``sans`` (e.g. ['DNS:x', 'IP:1.2.3.4']),
        signed by this CA: (cert path, key path)."""
        key = os.path.join(self.workdir, name + ".key")
        csr = os.path.join(self.workdir, name + ".csr")
        cert = os.path.join(self.workdir, name + ".crt")
        ext = os.path.join(self.workdir, name + ".ext")
        with open(ext, "w") as fh:
            fh.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                     "keyUsage=critical,digitalSignature,keyEncipherment\n"
                     "extendedKeyUsage=serverAuth\n" % ",".join(sans))
        subprocess.run(["openssl", "req", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", key,
                        "-out", csr, "-subj", "/CN=%s" % sans[0].split(":", 1)[1]],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-sha256", "-days", "10", "-in", csr,
                        "-CA", self.cert, "-CAkey", self.key, "-CAcreateserial",
                        "-extfile", ext, "-out", cert], check=True, capture_output=True)
        return cert, key


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
