"""What the children of a multi-architecture index really are: each child's config must say the
platform its index entry says, and the program it runs (Entrypoint, else Cmd, looked up on the
config's PATH and through symbolic links inside the layers) must be an ELF program of that
platform's architecture (tests/proof/elf.py).

Blobs come from an OCI image layout on disk (``LayoutBlobs``) or from a registry through the
collection's own client (``RegistryBlobs``), so the images built by hack/images.sh and the
indexes pushed to a registry are checked by the same code:

    problems = index_problems(LayoutBlobs(layout), read_layout_index(layout), "pause amd64")
    problems = index_problems(RegistryBlobs(client, "library/pause"), index_doc, "pause:3.10.2")

Limits: layers are searched last to first and whiteout files are not applied (the images of
this project have one layer); a program given by a relative path with a ``/`` in it is taken
from WorkingDir.
"""

import gzip
import io
import json
import os
import posixpath
import tarfile

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import UnknownArchitectureError
from tests.proof import elf

MAX_LINKS = 40  # symbolic links followed before giving up, as the kernel does


class LayoutBlobs(object):
    """Blobs of an OCI image layout directory."""

    def __init__(self, layout):
        self.layout = layout

    def manifest(self, digest):
        return self.blob(digest)

    def blob(self, digest):
        algorithm, hexdigest = digest.split(":", 1)
        with open(os.path.join(self.layout, "blobs", algorithm, hexdigest), "rb") as fh:
            return fh.read()


class RegistryBlobs(object):
    """Manifests and blobs of one repository, read with the collection's RegistryClient."""

    def __init__(self, client, repository):
        self.client, self.repository = client, repository

    def manifest(self, digest):
        got = self.client.get_manifest(mi.Reference(self.repository, digest=digest))
        if got is None:
            raise LookupError("manifest %s is missing from %s" % (digest, self.repository))
        return got["data"]

    def blob(self, digest):
        return self.client.get_blob(self.repository, digest, "%s@%s" % (self.repository, digest))


def read_layout_index(layout):
    with open(os.path.join(layout, "index.json")) as fh:
        return json.load(fh)


def layout_manifest(layout):
    """(LayoutBlobs, manifest) of the one image of a built single-image layout."""
    blobs = LayoutBlobs(layout)
    return blobs, json.loads(blobs.manifest(read_layout_index(layout)["manifests"][0]["digest"]))


def layout_config(layout):
    """The image configuration (the config blob) of a built single-image layout."""
    blobs, manifest = layout_manifest(layout)
    return json.loads(blobs.blob(manifest["config"]["digest"]))


def platform_text(platform):
    return "/".join(p for p in (platform.get("os"), platform.get("architecture"),
                                platform.get("variant")) if p)


def _open_layers(source, manifest):
    layers = []
    for layer in manifest.get("layers", []):
        data = source.blob(layer["digest"])
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        layers.append(tarfile.open(fileobj=io.BytesIO(data), mode="r:"))
    return layers


def _member(layers, path):
    """(tar, member) of an absolute path in the image, the topmost layer first."""
    name = path.lstrip("/")
    for tar in reversed(layers):
        for candidate in (name, "./" + name):
            try:
                return tar, tar.getmember(candidate)
            except KeyError:
                continue
    return None, None


def resolve_program(layers, config):
    """(path, tar, member) of the regular file the config runs, or raise LookupError."""
    cfg = config.get("config") or {}
    argv = (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])
    if not argv:
        raise LookupError("the config has neither Entrypoint nor Cmd")
    program = argv[0]
    if "/" in program:
        candidates = [posixpath.join(cfg.get("WorkingDir") or "/", program)]
    else:
        env = dict(item.split("=", 1) for item in cfg.get("Env") or [] if "=" in item)
        if "PATH" not in env:
            raise LookupError("%r is run by name but the config sets no PATH" % program)
        candidates = [posixpath.join(d, program) for d in env["PATH"].split(":") if d]
    for path in candidates:
        seen = 0
        while seen <= MAX_LINKS:
            tar, member = _member(layers, path)
            if member is None:
                break
            if member.issym():
                path = posixpath.normpath(posixpath.join(posixpath.dirname(path), member.linkname))
                seen += 1
                continue
            if member.isfile() or member.islnk():
                return path, tar, member
            break
    raise LookupError("%r (argv[0] of the config) is no file in the image (looked at %s)"
                      % (program, ", ".join(candidates)))


def child_problems(source, entry, what):
    """Problems of one index entry: platform of its config and ELF machine of its program."""
    problems = []
    plat = entry.get("platform") or {}
    where = "%s %s (%s)" % (what, platform_text(plat) or "<no platform>", entry["digest"])
    try:
        want = arch.lookup(plat.get("architecture") or "").goarch
    except UnknownArchitectureError as exc:
        problems.append("%s: platform entry names no architecture of the model: %s" % (where, exc))
        want = None
    manifest = json.loads(source.manifest(entry["digest"]))
    config = json.loads(source.blob(manifest["config"]["digest"]))
    declared = {"os": config.get("os"), "architecture": config.get("architecture"),
                "variant": config.get("variant")}
    listed = {"os": plat.get("os"), "architecture": plat.get("architecture"),
              "variant": plat.get("variant")}
    if declared != listed:
        problems.append("%s: the config says %s, the index entry %s"
                        % (where, platform_text(declared), platform_text(listed)))
    layers = _open_layers(source, manifest)
    try:
        path, tar, member = resolve_program(layers, config)
        if want is not None:
            why = elf.machine_mismatch(tar.extractfile(member).read(elf.HEADER_SIZE), want,
                                       "%s: %s" % (where, path))
            if why:
                problems.append(why)
    except LookupError as exc:
        problems.append("%s: %s" % (where, exc))
    finally:
        for tar in layers:
            tar.close()
    return problems


def index_problems(source, index, what):
    """Every problem of every child of an index document (empty list: all children true)."""
    entries = index.get("manifests") or []
    if not entries:
        return ["%s: the index lists no image" % what]
    problems = []
    for entry in entries:
        problems.extend(child_problems(source, entry, what))
    return problems
