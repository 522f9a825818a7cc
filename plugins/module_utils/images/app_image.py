# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An application artefact (a WAR, a JAR) as one layer on a base image of each family, as pure
rules: where the artefact goes in the image and on which URL it answers, the layer (a tar.gz
made the same way every time, so the same artefact gives the same digest and a rerun pushes
nothing), and each child's config and manifest (the base's, with the layer, the labels naming
the source and revision, and the port). No I/O: the module reads the artefact and talks to the
registry (``registry.py``); this module decides what it says.

A WAR goes to Tomcat's webapps (the app store's Tomcat image: ``app_images.TOMCAT_BASE``),
where Tomcat deploys it at start, from the file (the image's server.xml does not unpack WARs),
under its file name's context path (``ROOT.war``: ``/``). A JAR goes to ``/app`` and is the
image's entrypoint (``java -jar``) on a base with a JRE.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import copy
import gzip
import hashlib
import io
import json
import posixpath
import re
import tarfile

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_images
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class AppImageError(XinchuangError, ValueError):
    """An artefact or base that cannot be made into an image; the message names it and the fix."""


OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
# The layer media type and the config media type that go with each manifest type.
LAYER_TYPES = {mi.OCI_MANIFEST: (OCI_LAYER, OCI_CONFIG), mi.DOCKER_MANIFEST: (DOCKER_LAYER, DOCKER_CONFIG)}

WEBAPPS = posixpath.join(app_images.TOMCAT_BASE, "webapps")
APP_DIR = "/app"
TOMCAT_PORT = 8080
# Owned by root and readable by all: the images run as 65532, which only reads the artefact.
FILE_MODE, DIR_MODE = 0o644, 0o755
LABEL_SOURCE = "org.opencontainers.image.source"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_TITLE = "org.opencontainers.image.title"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The time of an image made without one given: the same for every build of the same artefact,
# so a rebuilt (reproducible) WAR gives the same image; jib and ko use the same second.
DEFAULT_CREATED = "1970-01-01T00:00:01Z"
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z$")


def split_registry(text, what):
    """(registry host or None, the rest) of an image reference: the registry as the nodes pull
    from it, which the module may reach at another address (its option ``registry``)."""
    value = str(text or "").strip()
    first, sep, rest = value.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    if not value:
        raise AppImageError("%s is empty: give registry/repository:tag" % what)
    return None, value


def same_registry(image, bases):
    """The registry host the image and every base name (None when none names one), or an error:
    the artefact's image is made from bases in the same registry (their layers are mounted)."""
    image_host = split_registry(image, "image")[0]
    hosts = [image_host] if image_host else []
    for base in bases:
        base_host = split_registry(base, "base")[0]
        if base_host and hosts and base_host != hosts[0]:
            raise AppImageError("image %s and base %s name two registries (%s, %s): copy the base into %s first "
                                "(image_sync), the image's layers are mounted from it" % (
                                    image, base, hosts[0], base_host, hosts[0]))
        if base_host and not hosts:
            hosts.append(base_host)
    return hosts[0] if hosts else None


def choose_bases(wanted, offered):
    """For each platform of WANTED (strings, ``linux/arm64/v8``), the index in OFFERED (a list of
    ``(base, [platforms])``) of the first base that has it: one base per family, the first
    listed winning (Tomcat's loong64 child is sid's, under a tag of its own). A platform no base
    has is refused, naming each base's platforms."""
    if not offered:
        raise AppImageError("base is empty: give the base image, registry/repository:tag (several when the "
                            "families' children are under different tags)")
    chosen, missing = [], []
    for platform in wanted:
        hits = [i for i, (_base, platforms) in enumerate(offered) if platform in platforms]
        if hits:
            chosen.append(hits[0])
        else:
            missing.append(platform)
    if missing:
        raise AppImageError("no base has %s: %s; build the base for those families, add a base that has them, or "
                            "leave the families out" % (", ".join(missing), "; ".join(
                                "%s has %s" % (base, ", ".join(platforms) or "no image") for base, platforms in offered)))
    return chosen


def placement(file_name, port=None):
    """Where an artefact called FILE_NAME goes and how it is reached: ``{kind, path,
    context_path, port, entrypoint}`` (entrypoint None: the base's). A WAR's context path is its
    name without ``.war`` (``ROOT``: ``/``), as Tomcat deploys it."""
    name = posixpath.basename(str(file_name))
    if not _NAME.match(name):
        raise AppImageError("the artefact's file name %r is not a plain file name (letters, digits, . _ -): "
                            "rename it; a WAR's name is its context path" % (name,))
    stem, ext = posixpath.splitext(name)
    ext = ext.lower()
    if ext == ".war":
        return {"kind": "war", "path": posixpath.join(WEBAPPS, stem + ".war"),
                "context_path": "/" if stem == "ROOT" else "/" + stem, "port": int(port or TOMCAT_PORT),
                "entrypoint": None}
    if ext == ".jar":
        if not port:
            raise AppImageError("%s is a JAR: give the port it listens on (app_port), the image exposes it" % name)
        path = posixpath.join(APP_DIR, name)
        return {"kind": "jar", "path": path, "context_path": "/", "port": int(port),
                "entrypoint": ["java", "-jar", path]}
    raise AppImageError("the artefact %s is neither a WAR nor a JAR (by its name): give a .war (served by Tomcat) "
                        "or a .jar (run with java -jar)" % name)


def image_time(created=None):
    """(created, mtime) of an image: the RFC 3339 time its config says and the modification time
    of its layer's entries. Not given: ``DEFAULT_CREATED``, not the artefact's file time, which a
    rebuild of the same bytes changes."""
    text = str(created or DEFAULT_CREATED).strip()
    match = _RFC3339.match(text)
    if not match:
        raise AppImageError("created %r is not an RFC 3339 time in UTC: give it as 2026-12-01T08:00:00Z, or leave "
                            "it out for a reproducible image" % (created,))
    fields = [int(v) for v in match.groups()]
    try:
        mtime = calendar.timegm(tuple(fields) + (0, 0, 0))
        if not (1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and fields[3] < 24 and fields[4] < 60 and fields[5] < 61):
            raise ValueError(text)
    except (ValueError, OverflowError):
        raise AppImageError("created %r is no date: give it as 2026-12-01T08:00:00Z" % (created,))
    return text, mtime


def layer(data, path, mtime=0):
    """(tar.gz bytes, diff_id, digest) of a layer holding DATA at PATH, with its parent
    directories: entries in order, root-owned, fixed modes, MTIME on every entry and none in the
    gzip header, so the same DATA and PATH give the same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            info = tarfile.TarInfo("/".join(parts[:depth]) + "/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, DIR_MODE, mtime
            tar.addfile(info)
        info = tarfile.TarInfo("/".join(parts))
        info.size, info.mode, info.mtime = len(data), FILE_MODE, mtime
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(tar_bytes)
    blob = packed.getvalue()
    return blob, "sha256:" + hashlib.sha256(tar_bytes).hexdigest(), mi.digest_of(blob)


def labels(source="", revision="", title=""):
    """The OCI labels naming where the image comes from (empty values left out)."""
    out = {}
    for key, value in ((LABEL_SOURCE, source), (LABEL_REVISION, revision), (LABEL_TITLE, title)):
        if value:
            out[key] = str(value)
    return out


def child_config(base_config, diff_id, place, extra_labels, created):
    """The config of one child: the base's, with the layer's diff_id, the port exposed, the
    labels, the entrypoint of a JAR, and a history entry saying what was added. ``created``
    (RFC 3339) is the artefact's time, so a rerun makes the same config."""
    config = copy.deepcopy(base_config)
    if not isinstance(config.get("rootfs"), dict) or not isinstance(config["rootfs"].get("diff_ids"), list):
        raise AppImageError("the base image's config has no rootfs.diff_ids: it is not an image config; give a "
                            "base image built as an OCI or Docker image")
    config["rootfs"]["diff_ids"].append(diff_id)
    settings = config.setdefault("config", {})
    settings.setdefault("ExposedPorts", {})["%d/tcp" % place["port"]] = {}
    merged = dict(settings.get("Labels") or {})
    merged.update(extra_labels)
    settings["Labels"] = merged
    if place["entrypoint"]:
        settings["Entrypoint"], settings["Cmd"] = list(place["entrypoint"]), []
    config["created"] = created
    config.setdefault("history", []).append({
        "created": created, "created_by": "xinchuang.cloud app_image: %s" % place["path"]})
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def child_manifest(base_manifest, config_bytes, blob, what="base image"):
    """The manifest of one child: the base's layers and the new one, with the new config."""
    media_type = base_manifest.get("mediaType")
    if media_type not in LAYER_TYPES:
        raise AppImageError("the %s's manifest is %r, not an image manifest (%s): give an image or an index of "
                            "images" % (what, media_type, ", ".join(sorted(LAYER_TYPES))))
    layer_type, config_type = LAYER_TYPES[media_type]
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": mi.digest_of(config_bytes), "size": len(config_bytes)},
        "layers": [dict((k, v) for k, v in entry.items() if k in ("mediaType", "digest", "size"))
                   for entry in base_manifest.get("layers") or []]
        + [{"mediaType": layer_type, "digest": mi.digest_of(blob), "size": len(blob)}],
    }
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
