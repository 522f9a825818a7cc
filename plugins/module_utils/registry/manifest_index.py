# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of multi-architecture image indexes: no I/O, no network.

Parses image references, normalises platforms through the architecture model, builds the
bytes of an OCI image index or Docker manifest list deterministically (so a digest computed
here is the digest the registry will report for the same content), and compares platform
lists. ``registry.py`` does the talking; this module decides what to say.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import (
    UnknownArchitectureError,
    XinchuangError,
)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
# The Accept header of every manifest request: without it distribution answers with a
# converted schema 1 manifest or hides indexes.
MANIFEST_ACCEPT = ", ".join(INDEX_TYPES + IMAGE_TYPES)

FORMATS = {"oci": OCI_INDEX, "docker": DOCKER_LIST}

# From the distribution reference grammar (github.com/distribution/reference).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(r"^%s(?:/%s)*$" % (_COMPONENT, _COMPONENT))
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")


class ManifestError(XinchuangError):
    """A problem with the images or the index the user asked for."""


class InvalidReferenceError(ManifestError, ValueError):
    """A reference that does not parse."""


class DuplicatePlatformError(ManifestError, ValueError):
    """Two sources resolve to the same platform."""


class MixedLabelError(ManifestError, ValueError):
    """The children of an index carry different values of a label that must be one."""


class MissingPlatformError(ManifestError):
    """required_platforms names platforms no source provides."""


class Reference(object):
    """A manifest reference inside one registry: repository plus tag and/or digest."""

    __slots__ = ("repository", "tag", "digest", "text")

    def __init__(self, repository, tag=None, digest=None, text=None):
        self.repository = repository
        self.tag = tag
        self.digest = digest
        self.text = text if text is not None else self.canonical()

    @property
    def reference(self):
        """What goes after /manifests/ in a URL: the digest when known, else the tag."""
        return self.digest or self.tag

    def canonical(self):
        out = self.repository
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def __eq__(self, other):
        return isinstance(other, Reference) and (
            (self.repository, self.tag, self.digest)
            == (other.repository, other.tag, other.digest))

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.repository, self.tag, self.digest))

    def __repr__(self):
        return "Reference(%r)" % self.canonical()


def _looks_like_host(component):
    return "." in component or ":" in component or component == "localhost"


def strip_scheme(registry):
    """``https://host:5000/`` -> ``host:5000``."""
    value = registry.strip()
    for prefix in ("https://", "http://"):
        if value.lower().startswith(prefix):
            value = value[len(prefix):]
    return value.rstrip("/")


def registry_host(value, option, error, allow_path=False, example="registry.local:5000"):
    """``value`` as a registry's host[:port], the one check of every option that names where
    a registry is reached (appstore_registry, gateway_registry_endpoint, canary_weights'
    registry_endpoints, ...). A trailing ``/`` is dropped; an empty value, a scheme, or (unless
    ``allow_path``) a path raises ``error`` naming ``option``, the value and an example."""
    host = str(value if value is not None else "").strip().rstrip("/")
    if not host or "://" in host or (not allow_path and "/" in host):
        raise error("%s %r must be the registry's host[:port] (no scheme%s), e.g. %s"
                    % (option, value, "" if allow_path else ", no path", example))
    return host


def parse_reference(text, default_repository=None, registry=None):
    """Parse ``tag``, ``sha256:...``, ``repo:tag``, ``repo@digest`` or ``host/repo:tag``.

    A bare tag or digest refers to ``default_repository``. A leading registry host is
    accepted only when it is ``registry`` itself: images are combined inside one registry.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidReferenceError("image reference %r is empty; give a tag, a digest, "
                                    "'repository:tag' or 'repository@sha256:...'" % (text,))
    raw = text.strip()
    rest, digest = raw, None
    if "@" in raw:
        rest, digest = raw.rsplit("@", 1)
    elif DIGEST_RE.match(raw):
        rest, digest = "", raw
    if digest is not None and not DIGEST_RE.match(digest):
        raise InvalidReferenceError("image reference %r: %r is not a digest (sha256:<64 hex>)"
                                    % (text, digest))
    repository, tag = None, None
    if rest:
        # The tag is after the last ':' that comes after the last '/', so host:port survives.
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            repository, tag = rest[:colon], rest[colon + 1:]
        elif "/" in rest or digest is not None:
            repository = rest
        else:
            tag = rest  # a single word: a tag of the default repository
        if repository is not None and "/" in repository:
            first, remainder = repository.split("/", 1)
            if _looks_like_host(first):
                if registry is None or first != strip_scheme(registry):
                    raise InvalidReferenceError(
                        "image reference %r names registry %r, but sources must live in the "
                        "target registry %r; copy the image there first (e.g. skopeo copy)"
                        % (text, first, strip_scheme(registry) if registry else None))
                repository = remainder
        if repository == "":
            repository = None
    if repository is None:
        repository = default_repository
    if not repository:
        raise InvalidReferenceError("image reference %r has no repository; write 'repository:tag'"
                                    % (text,))
    if not REPOSITORY_RE.match(repository):
        raise InvalidReferenceError(
            "image reference %r: repository %r is not valid (lower case letters, digits, "
            "'.', '_', '-' and '/' separators)" % (text, repository))
    if tag is not None and not TAG_RE.match(tag):
        raise InvalidReferenceError("image reference %r: tag %r is not valid (letters, digits, "
                                    "'_', '.', '-', at most 128)" % (text, tag))
    if tag is None and digest is None:
        raise InvalidReferenceError("image reference %r has neither a tag nor a digest" % (text,))
    # Messages name the full reference (repository included) even for a bare tag.
    return Reference(repository, tag, digest)


def normalize_platform(value, what="platform"):
    """User or config platform -> descriptor dict via the architecture model."""
    try:
        return arch.parse_platform(value)
    except UnknownArchitectureError as err:
        raise UnknownArchitectureError("%s: %s" % (what, err))


def platform_from_config(config, what="image config"):
    """Image config JSON (dict) -> platform dict (architecture, os, variant)."""
    if not isinstance(config, dict) or not config.get("architecture"):
        raise ManifestError("%s declares no architecture; give the source a 'platform'" % what)
    value = {"os": config.get("os") or "linux", "architecture": config["architecture"]}
    if config.get("variant"):
        value["variant"] = config["variant"]
    return normalize_platform(value, what)


def platform_key(platform):
    """Sort key: table order of the families, then variant: stable whatever the input order."""
    order = arch.families()
    fam = arch.lookup(platform["architecture"]).family
    return (order.index(fam), platform.get("variant") or "", platform.get("os", "linux"))


def descriptor(media_type, digest, size, platform):
    """One entry of an index, keys in the order the specifications print them."""
    plat = {"architecture": platform["architecture"], "os": platform.get("os", "linux")}
    if platform.get("variant"):
        plat["variant"] = platform["variant"]
    return {"mediaType": media_type, "digest": digest, "size": int(size), "platform": plat}


def check_duplicates(entries):
    """entries: iterable of (platform dict, label). Raise naming both labels on a clash."""
    seen = {}
    for platform, label in entries:
        key = arch.platform_string(platform)
        if key in seen:
            raise DuplicatePlatformError(
                "platform %s is given twice: by %s and by %s; an index holds one image per "
                "platform, remove one of the sources" % (key, seen[key], label))
        seen[key] = label


def build_index(manifests, fmt="oci", annotations=None):
    """Index bytes for descriptors (dicts from ``descriptor``): deterministic.

    Entries are sorted by platform in the architecture table's order and serialised with a
    fixed layout, so the same children always give the same bytes and digest, whatever the
    order of the sources.
    """
    if fmt not in FORMATS:
        raise ManifestError("format %r: use one of %s" % (fmt, ", ".join(sorted(FORMATS))))
    if annotations and fmt != "oci":
        raise ManifestError("annotations need format: oci; a Docker manifest list has no "
                            "annotations field")
    check_duplicates((m["platform"], m["digest"]) for m in manifests)
    ordered = sorted(manifests, key=lambda m: platform_key(m["platform"]))
    doc = {"schemaVersion": 2, "mediaType": FORMATS[fmt],
           "manifests": [descriptor(m["mediaType"], m["digest"], m["size"], m["platform"])
                         for m in ordered]}
    if annotations:
        doc["annotations"] = dict((str(k), str(v)) for k, v in sorted(annotations.items()))
    return (json.dumps(doc, indent=2, ensure_ascii=False, separators=(",", ": ")) + "\n"
            ).encode("utf-8")


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_manifest(data, what="manifest"):
    """Manifest bytes -> dict; a clear error when the bytes are not JSON."""
    try:
        doc = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except ValueError as err:
        raise ManifestError("%s is not JSON: %s" % (what, err))
    if not isinstance(doc, dict):
        raise ManifestError("%s is not a JSON object" % what)
    return doc


def index_entries(doc):
    """Index dict -> list of {platform, digest, media_type, size}; attestations skipped.

    Platforms the architecture model does not know (e.g. ``unknown/unknown`` attestation
    manifests of buildx, or s390x) are kept with their raw platform string and
    ``known: false`` so callers can report them without failing.
    """
    out = []
    for m in doc.get("manifests") or []:
        plat = m.get("platform") or {}
        raw = {"os": plat.get("os", ""), "architecture": plat.get("architecture", "")}
        if plat.get("variant"):
            raw["variant"] = plat["variant"]
        try:
            norm = arch.parse_platform(raw)
            known = True
        except UnknownArchitectureError:
            norm, known = raw, False
        out.append({"platform": arch.platform_string(norm) if known else "/".join(
            v for v in (raw["os"], raw["architecture"], raw.get("variant")) if v),
            "digest": m.get("digest"), "media_type": m.get("mediaType"),
            "size": m.get("size"), "known": known})
    return out


def platform_map(entries):
    """[{platform, digest}] -> {platform: digest}."""
    return dict((e["platform"], e["digest"]) for e in entries)


def diff_platforms(before, after):
    """Two {platform: digest} maps -> {added, removed, changed, unchanged} sorted lists."""
    before = before or {}
    after = after or {}
    return {
        "added": sorted(p for p in after if p not in before),
        "removed": sorted(p for p in before if p not in after),
        "changed": sorted(p for p in after if p in before and before[p] != after[p]),
        "unchanged": sorted(p for p in after if p in before and before[p] == after[p]),
    }


def missing_platforms(present, required):
    """Platforms of ``required`` (any names) not in ``present`` (platform strings)."""
    have = set()
    for p in present:
        try:
            have.add(arch.platform_string(arch.parse_platform(p)))
        except UnknownArchitectureError:
            have.add(p)
    missing = []
    for r in required or []:
        want = arch.platform_string(normalize_platform(r, "required platform %r" % (r,)))
        if want not in have and want not in missing:
            missing.append(want)
    return missing


def config_label(config, label):
    """The value of ``label`` in an image config (dict), or None when it has none."""
    labels = ((config or {}).get("config") or {}).get("Labels") or {}
    return labels.get(label)


def check_same_label(target, label, values):
    """``values``: [(platform string, source text, value or None)] of an index's children.
    Returns the one value they all carry; raises MixedLabelError naming each child's value
    (or its lack of one) when they differ: an index whose children run different versions
    under one tag is a trap in a gray release."""
    found = sorted(set(v for _p, _s, v in values), key=lambda v: (v is None, v))
    if len(found) == 1 and found[0] is not None:
        return found[0]
    groups = []
    for value in found:
        who = ", ".join("%s (%s)" % (p, s) for p, s, v in sorted(values) if v == value)
        groups.append("%s: %s" % ("no label" if value is None else repr(value), who))
    raise MixedLabelError(
        "index %s would mix children of different %s - %s; every child must carry one value: "
        "publish each value under its own tag, or rebuild the odd children from the same version"
        % (target, label, "; ".join(groups)))


def manifest_blobs(doc):
    """Image manifest dict -> digests of its config and layers (for cross-repository mounts)."""
    blobs = []
    config = doc.get("config") or {}
    if config.get("digest"):
        blobs.append(config["digest"])
    for layer in doc.get("layers") or []:
        # Foreign layers (Windows base layers) live elsewhere and are never mounted.
        if layer.get("digest") and not layer.get("urls"):
            blobs.append(layer["digest"])
    return blobs


def node_platforms(node_arches):
    """{node: any architecture name} -> the sorted platforms those nodes run (what every
    image they pull must serve; the argument of image_manifest_info's required_platforms)."""
    return sorted(set(arch.oci_platform(a) for a in (node_arches or {}).values()))


def node_image_problems(images, node_arches):
    """image_manifest_info's ``images`` and {node: architecture} -> one message per image that
    a node cannot run: absent from the registry, or without the node's platform (naming the
    image, the platform and the nodes, and how to fix it). Empty when every node is served."""
    by_platform = {}
    for node, name in sorted((node_arches or {}).items()):
        by_platform.setdefault(arch.oci_platform(name), []).append(node)
    problems = []
    for image in images or []:
        ref = image.get("ref")
        if not image.get("exists"):
            problems.append("image %s is not in the registry: push it for %s (hack/images.sh push, "
                            "or xinchuang.cloud.image_sync from the site's source)"
                            % (ref, ", ".join(sorted(by_platform))))
            continue
        for platform in missing_platforms(image.get("platforms") or [], sorted(by_platform)):
            problems.append("image %s has no %s image, which nodes %s need: add that platform to its "
                            "index (xinchuang.cloud.image_manifest) or keep the workload off those nodes"
                            % (ref, platform, ", ".join(by_platform[platform])))
    return problems
