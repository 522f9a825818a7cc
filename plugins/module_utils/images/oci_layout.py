# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A single-architecture OCI image of one layer, written as an OCI image layout: no Docker.

The platform (os, architecture, variant) comes from the architecture model, so arm64 becomes
linux/arm64/v8 and mips64el linux/mips64le. The output is reproducible: the same inputs give
the same digests (tar entries owned by root with mtime 0, gzip without a timestamp, a fixed
creation date), so a rebuild pushes nothing new.

A file may carry capabilities the way ``setcap cap_net_bind_service=+ep`` gives them (the
security.capability xattr, as a PAX record that containerd applies when it unpacks the
layer), like upstream's CoreDNS image. Links are symbolic (busybox's applets: ``/bin/sh`` ->
``busybox``); empty directories take a mode (``/tmp`` 1777 for programs run as a user other
than root).

The bytes written here are part of every cached image's digest: a change of them must bump
``cluster_images.TOOL_IDS['oci.py']`` (its golden test says so).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import tarfile
from collections import namedtuple

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CREATED = "1970-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The history entry of an image that names no maker: the word the first layouts carried, kept
# (it is in the bytes, so in the digests) although that script is gone.
DEFAULT_CREATED_BY = "hack/images/oci.py"

# linux/capability.h: the few capabilities an image file may need.
CAPABILITIES = {"net_bind_service": 10, "net_raw": 13, "net_admin": 12}
VFS_CAP_REVISION_2 = 0x02000000
VFS_CAP_FLAGS_EFFECTIVE = 0x000001


class OciLayoutError(XinchuangError):
    """An image that cannot be written as asked (a path given twice, an unknown capability)."""


# files: [(dest, source path, mode)]; links: [(dest, target)]; dirs: [(dest, mode)];
# caps: {dest: [capability name]}. Destinations are absolute paths in the image.
Layer = namedtuple("Layer", "files links dirs caps")

# The image's config. entrypoint and cmd are lists (None: not set); env is KEY=VALUE pairs (PATH
# is added first unless given); labels are KEY=VALUE pairs (a key twice: the last wins); expose
# "53/udp" words.
ImageConfig = namedtuple("ImageConfig", "entrypoint cmd user workdir env expose labels created_by")


def layer(files=(), links=(), dirs=(), caps=None):
    return Layer(list(files), list(links), list(dirs), dict(caps or {}))


def image_config(entrypoint=None, cmd=None, user=None, workdir=None, env=(), expose=(), labels=(),
                 created_by=None):
    return ImageConfig(entrypoint, cmd, user, workdir, list(env), list(expose), list(labels), created_by)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def platform_of(goarch):
    """OCI platform dict of any architecture name the model knows."""
    fam = arch.lookup(goarch)
    plat = {"architecture": fam.oci_arch, "os": "linux"}
    if fam.oci_variant:
        plat["variant"] = fam.oci_variant
    return plat


def platform_text(goarch):
    """linux/arm64/v8: the platform of a GOARCH as one word."""
    parts = platform_of(goarch)
    return "/".join(p for p in (parts["os"], parts["architecture"], parts.get("variant")) if p)


def file_capability(names):
    """security.capability value (VFS_CAP_REVISION_2, effective) for capability names."""
    permitted = 0
    for name in names:
        key = name.lower().replace("cap_", "", 1)
        if key not in CAPABILITIES:
            raise OciLayoutError("unknown capability %r; known: %s" % (name, ", ".join(sorted(CAPABILITIES))))
        permitted |= 1 << CAPABILITIES[key]
    return struct.pack("<IIIII", VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE,
                       permitted & 0xffffffff, 0, permitted >> 32, 0)


def _tar_info(name, kind, mode, size=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def check_layer(lay):
    """Refuse a layer that names a path twice or a capability for a file it lacks."""
    unknown = set(lay.caps) - set(dest for dest, _src, _mode in lay.files)
    if unknown:
        raise OciLayoutError("capabilities for files not in the image: %s" % ", ".join(sorted(unknown)))
    paths = ([dest for dest, _src, _mode in lay.files] + [dest for dest, _target in lay.links]
             + [dest for dest, _mode in lay.dirs])
    twice = sorted(set(dest for dest in paths if paths.count(dest) > 1))
    if twice:
        raise OciLayoutError("paths given twice (files, links, directories): %s" % ", ".join(twice))
    for names in lay.caps.values():
        file_capability(names)


def make_layer(lay):
    """(tar bytes, gzip bytes) of a Layer: entries sorted by path, parents made as needed."""
    raw = io.BytesIO()
    dirs = set()
    entries = sorted(list(lay.files) + [(dest, None, target) for dest, target in lay.links]
                     + [(dest, "", mode) for dest, mode in lay.dirs])
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dest, src, mode in entries:
            parts = dest.strip("/").split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent not in dirs:
                    dirs.add(parent)
                    tar.addfile(_tar_info(parent + "/", tarfile.DIRTYPE, 0o755))
            if src == "":
                dirs.add("/".join(parts))
                tar.addfile(_tar_info("/".join(parts) + "/", tarfile.DIRTYPE, mode))
                continue
            if src is None:
                link = _tar_info("/".join(parts), tarfile.SYMTYPE, 0o777)
                link.linkname = mode  # the link's target
                tar.addfile(link)
                continue
            with open(src, "rb") as fh:
                data = fh.read()
            info = _tar_info("/".join(parts), tarfile.REGTYPE, mode, len(data))
            if dest in lay.caps:
                value = file_capability(lay.caps[dest])
                # All bytes are < 0x80: tarfile writes them unchanged as a UTF-8 PAX value.
                info.pax_headers = {"SCHILY.xattr.security.capability": value.decode("ascii")}
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    zipped = io.BytesIO()
    with gzip.GzipFile(fileobj=zipped, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(tar_bytes)
    return tar_bytes, zipped.getvalue()


def config_bytes(plat, diff_id, config):
    """The image config blob of one layer with DIFF_ID."""
    env = list(config.env or [])
    # PATH unless the image gives its own (an Env key twice leaves the runtime to pick one).
    if not any(pair.startswith("PATH=") for pair in env):
        env.insert(0, PATH_ENV)
    body = {"Env": env, "WorkingDir": config.workdir or "/"}
    if config.entrypoint:
        body["Entrypoint"] = list(config.entrypoint)
    if config.cmd:
        body["Cmd"] = list(config.cmd)
    if config.user:
        body["User"] = config.user
    if config.expose:
        body["ExposedPorts"] = dict((port, {}) for port in config.expose)
    if config.labels:
        body["Labels"] = dict(item.split("=", 1) for item in config.labels)
    doc = dict(plat)
    doc.update({
        "created": CREATED,
        "config": body,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": CREATED, "created_by": config.created_by or DEFAULT_CREATED_BY}],
    })
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _write_blob(out, data):
    digest = sha256(data)
    with open(os.path.join(out, "blobs", "sha256", digest.split(":", 1)[1]), "wb") as fh:
        fh.write(data)
    return {"digest": digest, "size": len(data)}


def write_layout(out, goarch, tag, lay, config):
    """Write the image as an OCI layout at OUT (which must not exist; written beside as
    OUT.tmp, then renamed). Returns {digest, platform, layer_size}: the image.json of a cache
    entry."""
    if os.path.exists(out):
        raise OciLayoutError("%s exists" % out)
    plat = platform_of(goarch)
    check_layer(lay)
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "blobs", "sha256"))
    tar_bytes, zipped = make_layer(lay)
    config_desc = dict(_write_blob(tmp, config_bytes(plat, sha256(tar_bytes), config)), mediaType=OCI_CONFIG)
    layer_desc = dict(_write_blob(tmp, zipped), mediaType=OCI_LAYER)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc,
                "layers": [layer_desc]}
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_desc = dict(_write_blob(tmp, manifest_bytes), mediaType=OCI_MANIFEST, platform=plat,
                         annotations={"org.opencontainers.image.ref.name": tag})
    with open(os.path.join(tmp, "oci-layout"), "w") as fh:
        json.dump({"imageLayoutVersion": "1.0.0"}, fh)
    with open(os.path.join(tmp, "index.json"), "w") as fh:
        json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [manifest_desc]}, fh,
                  sort_keys=True)
    os.rename(tmp, out)
    return {"digest": manifest_desc["digest"], "platform": plat, "layer_size": len(zipped)}


def image_json_text(summary):
    """The cache's image.json: write_layout's result, as one line."""
    return json.dumps(summary, sort_keys=True) + "\n"
