"""A real CNCF distribution registry (Debian's docker-registry) for the registry modules.

Session fixture ``registry``: TLS (a test CA's certificate for IP:127.0.0.1) + htpasswd on a free
port of 127.0.0.1, and a plain-HTTP companion process without auth on the same storage for
clients that speak only HTTP to loopback (``docker manifest``, ``docker pull``). Both are
stopped at session end; a registry that does not come up fails fast with its log tail.

Session fixture ``registry_set``: several named TLS + htpasswd registries on 127.0.0.1
(``upstream``, ``mirror``, ``destination`` ...), each with its own storage and access log,
started on first use, sharing that certificate; requests are counted from the access logs.

Also here, because tests and the benchmarks (``bench/image_manifest.py``,
``bench/image_sync.py``) share them: generating small single-layer images of any platform,
multi-platform indexes of them, writing them as OCI layouts (for ``skopeo copy``) and
pushing them with the collection's own client.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from hack import pki
from tests.integration.server_process import LoggedProcess

USERNAME = "xinchuang"
PASSWORD = "s3cret-Registry"
BINARY = "docker-registry"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_certificate(directory, name="registry"):
    """A CA (``<name>-ca``) and a server certificate it issued for IP:127.0.0.1, made by
    hack/pki.py: (ca, cert, key) paths."""
    ca = pki.ensure_ca(directory, "xinchuang test CA " + name, name=name + "-ca", days=3)
    leaf = pki.ensure_cert(directory, name, directory, cn="127.0.0.1", sans="IP:127.0.0.1",
                           usage="server", ca_name=name + "-ca", days=3)
    return ca.cert, leaf.cert, leaf.key


def tls_and_users(workdir):
    """The CA, the server certificate and key it issued, its certs.d directory and the
    htpasswd file of the test user: (ca, cert, key, cert_dir, htpasswd)."""
    ca, cert, key = make_certificate(workdir)
    # skopeo --cert-dir / docker certs.d read the CA as ca.crt of a directory.
    cert_dir = os.path.join(workdir, "certs.d")
    os.makedirs(cert_dir, exist_ok=True)
    shutil.copy(ca, os.path.join(cert_dir, "ca.crt"))
    htpasswd = os.path.join(workdir, "htpasswd")
    out = subprocess.run(["htpasswd", "-Bbn", USERNAME, PASSWORD], check=True,
                         capture_output=True, text=True).stdout
    with open(htpasswd, "w") as fh:
        fh.write(out)
    return ca, cert, key, cert_dir, htpasswd


class RegistryProcess(LoggedProcess):
    """One docker-registry process; TLS (``cert`` and ``key``, issued by ``ca``, which the
    start-up probe trusts) and htpasswd when given."""

    def __init__(self, workdir, storage, name, cert=None, key=None, htpasswd=None, port=None, ca=None):
        super(RegistryProcess, self).__init__(os.path.join(workdir, name + ".log"))
        self.workdir = workdir
        self.storage = storage
        self.name = name
        self.cert, self.key, self.htpasswd, self.ca = cert, key, htpasswd, ca
        self.port = port or free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.url = ("https://" if cert else "http://") + self.host
        self.config_path = os.path.join(workdir, name + ".yml")

    def _config(self):
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  formatter: text",
            "storage:",
            "  filesystem:",
            "    rootdirectory: %s" % self.storage,
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            "  addr: %s" % self.host,
            "  secret: xinchuang-test-secret",
        ]
        if self.cert:
            lines += ["  tls:", "    certificate: %s" % self.cert, "    key: %s" % self.key]
        if self.htpasswd:
            lines += ["auth:", "  htpasswd:", "    realm: xinchuang",
                      "    path: %s" % self.htpasswd]
        return "\n".join(lines) + "\n"

    def start(self, timeout=60):
        with open(self.config_path, "w") as fh:
            fh.write(self._config())
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BINARY, "serve", self.config_path], stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.workdir)
        ctx = ssl.create_default_context(cafile=self.ca) if self.cert else None
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.url + "/v2/", timeout=2, context=ctx)
                return self
            except urllib.error.HTTPError as err:
                if err.code == 401:  # htpasswd answers: up
                    return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("docker-registry %s did not come up on %s; log tail:\n%s"
                           % (self.name, self.host, self.log_tail()))

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def settled_access_lines(self, since=0, quiet=0.3, timeout=10.0):
        """access_lines() once the registry has stopped writing them: the line of a request
        is written after its response, so a client may be done before its last line is."""
        deadline = time.time() + timeout
        lines = self.access_lines(since)
        while time.time() < deadline:
            time.sleep(quiet)
            again = self.access_lines(since)
            if len(again) == len(lines):
                return again
            lines = again
        return lines

    def access_lines(self, since=0):
        """Access-log lines (one per HTTP request served) written after byte ``since``."""
        with open(self.log_path, "rb") as fh:
            fh.seek(since)
            text = fh.read().decode("utf-8", "replace")
        out = []
        for line in text.splitlines():
            # gorilla combined log: 127.0.0.1 - - [date] "HEAD /v2/... HTTP/1.1" 200 ...
            if '"' in line and " /v2/" in line and "HTTP/1." in line and "msg=" not in line:
                out.append(line)
        return out


class RegistryPair(object):
    """The TLS + htpasswd registry and its plain-HTTP companion on the same storage."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.storage = os.path.join(workdir, "storage")
        os.makedirs(self.storage, exist_ok=True)
        self.ca, cert, key, self.cert_dir, self.htpasswd = tls_and_users(workdir)
        self.username, self.password = USERNAME, PASSWORD
        self.tls = RegistryProcess(workdir, self.storage, "tls", cert=cert, key=key,
                                   htpasswd=self.htpasswd, ca=self.ca)
        self.plain = RegistryProcess(workdir, self.storage, "plain")

    @property
    def host(self):
        return self.tls.host

    @property
    def plain_host(self):
        return self.plain.host

    def start(self):
        self.tls.start()
        try:
            self.plain.start()
        except Exception:
            self.tls.stop()
            raise
        return self

    def stop(self):
        self.plain.stop()
        self.tls.stop()

    def auth_args(self):
        """Module options reaching the TLS registry."""
        return {"registry": self.host, "username": self.username, "password": self.password,
                "ca_path": self.ca}

    def client(self, **kwargs):
        from ansible_collections.xinchuang.cloud.plugins.module_utils.registry.client import (
            RegistryClient)
        args = dict(username=self.username, password=self.password, ca_path=self.ca,
                    backoff=0.05)
        args.update(kwargs)
        return RegistryClient(self.host, **args)

    def skopeo_creds(self):
        return ["--creds", "%s:%s" % (self.username, self.password)]


WRITE_METHODS = ("PUT", "POST", "PATCH", "DELETE")


def request_method(line):
    """The HTTP method of an access-log line."""
    return line.split('"', 2)[1].split(" ", 1)[0]


def write_lines(lines):
    return [line for line in lines if request_method(line) in WRITE_METHODS]


class RegistrySet(object):
    """Named TLS + htpasswd registries on 127.0.0.1, each with its own storage and access
    log, sharing one certificate (it names IP:127.0.0.1, whatever the port) and one user."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.ca, self.cert, self.key, self.cert_dir, self.htpasswd = tls_and_users(workdir)
        self.username, self.password = USERNAME, PASSWORD
        self.servers = {}

    def __getitem__(self, name):
        """The registry ``name``, started on first use."""
        if name not in self.servers:
            storage = os.path.join(self.workdir, name + "-storage")
            os.makedirs(storage, exist_ok=True)
            self.servers[name] = RegistryProcess(self.workdir, storage, name, cert=self.cert,
                                                 key=self.key, htpasswd=self.htpasswd, ca=self.ca).start()
        return self.servers[name]

    def host(self, name):
        return self[name].host

    def endpoint(self, name, **extra):
        """The endpoint suboptions of image_sync (``sources`` item, ``destination``)."""
        out = {"url": self.host(name), "username": self.username, "password": self.password,
               "ca_path": self.ca}
        out.update(extra)
        return out

    def client(self, name, **kwargs):
        from ansible_collections.xinchuang.cloud.plugins.module_utils.registry.client import (
            RegistryClient)
        args = dict(username=self.username, password=self.password, ca_path=self.ca,
                    backoff=0.05)
        args.update(kwargs)
        return RegistryClient(self.host(name), **args)

    def skopeo_args(self, name, direction="src"):
        """skopeo options reaching registry ``name`` as source (src) or destination (dest)."""
        return ["--%s-cert-dir" % direction, self.cert_dir, "--%s-creds" % direction,
                "%s:%s" % (self.username, self.password)]

    def raw(self, name, reference):
        """``skopeo inspect --raw`` of ``name/reference``: the bytes the registry serves."""
        proc = subprocess.run(
            ["skopeo", "inspect", "--raw", "--cert-dir", self.cert_dir, "--creds",
             "%s:%s" % (self.username, self.password),
             "docker://%s/%s" % (self.host(name), reference)],
            capture_output=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise AssertionError("skopeo inspect --raw %s/%s failed: %s"
                                 % (name, reference, proc.stderr.decode()[-500:]))
        return proc.stdout

    def stop(self):
        for server in self.servers.values():
            server.stop()


class AccessCount(object):
    """Requests a registry served inside a ``with`` block, from its access log."""

    def __init__(self, server):
        self.server = server
        self.lines = []

    def __enter__(self):
        self.since = self.server.log_size()
        return self

    def __exit__(self, *exc):
        self.lines = self.server.settled_access_lines(self.since)

    @property
    def writes(self):
        return write_lines(self.lines)


@pytest.fixture(scope="session")
def registry_set():
    if shutil.which(BINARY) is None:
        pytest.fail("docker-registry is not installed; run hack/deps.sh")
    workdir = tempfile.mkdtemp(prefix="xc-registry-set-")
    servers = RegistrySet(workdir)
    try:
        yield servers
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def registry():
    if shutil.which(BINARY) is None:
        pytest.fail("docker-registry is not installed; run hack/deps.sh")
    workdir = tempfile.mkdtemp(prefix="xc-registry-")
    pair = RegistryPair(workdir).start()
    try:
        yield pair
    finally:
        pair.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def registry_factory():
    """Start extra, throw-away registries (fault tests stop them mid-run)."""
    made = []

    def make():
        workdir = tempfile.mkdtemp(prefix="xc-registry-fault-")
        pair = RegistryPair(workdir).start()
        made.append(pair)
        return pair

    yield make
    for pair in made:
        pair.stop()
        shutil.rmtree(pair.workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------

def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def filler_bytes(seed, size):
    """``size`` bytes that gzip cannot shrink, the same for the same seed."""
    out, counter = [], 0
    while sum(len(c) for c in out) < size:
        out.append(hashlib.sha256(("%s/%d" % (seed, counter)).encode()).digest())
        counter += 1
    return b"".join(out)[:size]


def make_image(platform, content=None, filler=0, labels=None):
    """A single-layer image for a platform dict: {layer, config, manifest, digest, ...}.

    The layer is a gzip'd tar with /etc/xinchuang-platform (and ``filler`` incompressible
    bytes in /filler, for images of some size); gzip without a timestamp, so the same inputs
    give the same digests. ``labels``: the config's Labels.
    """
    text = (content or "platform %s/%s%s\n" % (
        platform.get("os", "linux"), platform["architecture"],
        "/" + platform["variant"] if platform.get("variant") else "")).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("etc/xinchuang-platform")
        info.size = len(text)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(text))
        if filler:
            data = filler_bytes(text, filler)
            info = tarfile.TarInfo("filler")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    zipped = io.BytesIO()
    with gzip.GzipFile(fileobj=zipped, mode="wb", mtime=0) as gz:
        gz.write(tar_bytes)
    layer = zipped.getvalue()
    config = {"architecture": platform["architecture"], "os": platform.get("os", "linux"),
              "config": dict({"Cmd": ["/bin/true"]}, **({"Labels": labels} if labels else {})),
              "rootfs": {"type": "layers", "diff_ids": [_sha(tar_bytes)]}}
    if platform.get("variant"):
        config["variant"] = platform["variant"]
    config_bytes = json.dumps(config, sort_keys=True).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": _sha(config_bytes),
                           "size": len(config_bytes)},
                "layers": [{"mediaType": OCI_LAYER, "digest": _sha(layer),
                            "size": len(layer)}]}
    manifest_bytes = json.dumps(manifest, indent=2).encode()
    return {"layer": layer, "config": config_bytes, "manifest": manifest_bytes,
            "digest": _sha(manifest_bytes), "size": len(manifest_bytes),
            "media_type": OCI_MANIFEST, "platform": platform}


def write_oci_layout(directory, image, ref_name="latest"):
    """Write ``image`` as an OCI image layout (``oci:<directory>:<ref_name>`` for skopeo)."""
    blobs = os.path.join(directory, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    for data in (image["layer"], image["config"], image["manifest"]):
        with open(os.path.join(blobs, _sha(data).split(":")[1]), "wb") as fh:
            fh.write(data)
    with open(os.path.join(directory, "oci-layout"), "w") as fh:
        json.dump({"imageLayoutVersion": "1.0.0"}, fh)
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": image["digest"], "size": image["size"],
        "annotations": {"org.opencontainers.image.ref.name": ref_name}}]}
    with open(os.path.join(directory, "index.json"), "w") as fh:
        json.dump(index, fh)
    return "oci:%s:%s" % (directory, ref_name)


def skopeo_push(pair, image, repository, tag, workdir):
    """Push with skopeo (an independent client) over TLS with the registry's credentials."""
    layout = write_oci_layout(os.path.join(workdir, "%s-%s" % (repository.replace("/", "_"),
                                                               tag)), image)
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-cert-dir", pair.cert_dir,
                    "--dest-creds", "%s:%s" % (pair.username, pair.password),
                    layout, "docker://%s/%s:%s" % (pair.host, repository, tag)],
                   check=True, capture_output=True, text=True, timeout=300)
    return image["digest"]


def client_push(client, image, repository, tag=None):
    """Push with the collection's client: blobs, then the manifest under tag (or digest)."""
    client.push_blob(repository, image["layer"])
    client.push_blob(repository, image["config"])
    client.put_manifest(repository, tag or image["digest"], image["manifest"],
                        image["media_type"], "%s:%s" % (repository, tag))
    return image["digest"]


OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def index_bytes(images, annotations=None):
    """An OCI index of ``images`` written the way another tool might: compact, entries in the
    given order, annotations last, so that a copy that re-serialises shows."""
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": i["media_type"], "digest": i["digest"], "size": i["size"],
         "platform": dict(i["platform"])} for i in images]}
    if annotations:
        doc["annotations"] = annotations
    return json.dumps(doc, separators=(",", ":")).encode()


def push_index(client, repository, tag, images, annotations=None):
    """Push ``images`` by digest, then their index under ``tag``; returns the index bytes."""
    for image in images:
        client_push(client, image, repository)
    data = index_bytes(images, annotations)
    client.put_manifest(repository, tag, data, OCI_INDEX, "%s:%s" % (repository, tag))
    return data
