# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image_sync reconciler: copies a catalogue of multi-architecture images into the
private registry, each from the first source that serves it whole.

The I/O half of the module (the decisions are in ``image_sync_plan.py``); every request goes
through the registry client of ``registry.py``, the one image_manifest uses. In order:

1. plan, reading only: per image, the sources in their order until one serves the image
   with every platform it must serve (a trimmed mirror or proxy cache is skipped, and the
   result says why), and a HEAD of the destination tag. When any image is served by no
   source the run stops here, having written nothing;
2. copy, per image whose destination tag differs from the chosen source: children first
   (their blobs, then their manifests, byte for byte, by digest), the index under the tag
   last, so a tag never points at an index with missing children.

Blobs cost one request when present (a POST that mounts them from the repository itself
answers 201) and two when missing (that POST opens the upload, one PUT streams the data
read from the source); a blob already placed in another repository during the run is
mounted from there. A tag that already holds the source's digest costs one HEAD.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import image_sync_plan as plan
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

REF_NAME = "org.opencontainers.image.ref.name"


def endpoint_argument_spec():
    """Suboptions of every ``sources`` item and of ``destination``: the registry modules'
    credential options, the registry called ``url``, and a repository ``prefix``."""
    spec = reg.registry_credentials_argument_spec()
    spec.update(url=dict(type="str", required=True), prefix=dict(type="str", default=""))
    return spec


def argument_spec():
    return dict(
        images=dict(type="list", elements="dict", required=True, options=dict(
            repository=dict(type="str", required=True),
            tag=dict(type="str", required=True),
            platforms=dict(type="list", elements="str"),
        )),
        sources=dict(type="list", elements="dict", options=endpoint_argument_spec()),
        destination=dict(type="dict", required=True, options=endpoint_argument_spec()),
        required_platforms=dict(type="list", elements="str"),
        offline=dict(type="bool", default=False),
        offline_layout=dict(type="path"),
        concurrency=dict(type="int", default=4),
        timeout=dict(type="float", default=30.0),
        retries=dict(type="int", default=3),
    )


class RegistrySource(object):
    """A registry to read images from (or to write them to: the destination is one too)."""

    def __init__(self, spec, timeout=30.0, retries=3, pool_size=4):
        if spec.get("password") and not spec.get("username"):
            raise plan.ImageSyncError("registry %s has a password but no username; give both"
                                      % spec["url"])
        self.label = spec["url"]
        self.prefix = spec.get("prefix") or ""
        self.client = reg.RegistryClient(
            spec["url"], username=spec.get("username"), password=spec.get("password"),
            ca_path=spec.get("ca_path"), validate_certs=spec.get("validate_certs", True),
            timeout=timeout, retries=retries, pool_size=max(pool_size, 1))

    def repository(self, repository):
        return plan.join_repository(self.prefix, repository)

    def ref(self, repository, tag=None, digest=None):
        ref = mi.Reference(repository, tag=tag, digest=digest)
        ref.text = "%s/%s" % (self.client.host, ref.canonical())
        return ref

    def top(self, repository, tag):
        """The manifest under a tag: {data, digest, media_type}, or None when absent."""
        return self.client.get_manifest(self.ref(repository, tag=tag))

    def manifest(self, repository, digest):
        got = self.client.get_manifest(self.ref(repository, digest=digest))
        if got is None:
            raise reg.ManifestNotFoundError("manifest %s is missing from %s/%s"
                                            % (digest, self.client.host, repository))
        return got

    def blob(self, repository, digest):
        return self.client.get_blob(repository, digest, "%s/%s" % (self.client.host, repository))

    def chunks(self, repository, digest):
        return self.client.blob_chunks(repository, digest,
                                       "%s/%s@%s" % (self.client.host, repository, digest))


class LayoutSource(object):
    """An OCI image layout directory (the offline bundle): images are the entries of its
    ``index.json`` named ``<repository>:<tag>`` by ``org.opencontainers.image.ref.name``,
    the way ``skopeo copy ... oci:<dir>:<repository>:<tag>`` writes them."""

    def __init__(self, path):
        self.label = path
        self.prefix = ""
        self.path = path
        index_path = os.path.join(path or "", "index.json")
        if not path or not os.path.isfile(index_path):
            raise plan.ImageSyncError(
                "offline_layout %r is not an OCI image layout (no index.json); give the "
                "directory the bundle's images were written to (skopeo copy --all ... "
                "oci:<dir>:<repository>:<tag>)" % (path,))
        with open(index_path, "rb") as fh:
            doc = mi.parse_manifest(fh.read(), "index.json of offline_layout %s" % path)
        self.refs = {}
        for desc in doc.get("manifests") or []:
            name = (desc.get("annotations") or {}).get(REF_NAME)
            if name:
                self.refs[name] = desc

    def repository(self, repository):
        return repository

    def _read(self, digest):
        algorithm, _sep, value = (digest or "").partition(":")
        if not value or "/" in value or algorithm not in ("sha256", "sha512"):
            raise plan.ImageSyncError("offline_layout %s names a blob %r that is not a digest"
                                      % (self.path, digest))
        path = os.path.join(self.path, "blobs", algorithm, value)
        if not os.path.isfile(path):
            raise reg.ManifestNotFoundError("blob %s is missing from offline_layout %s"
                                            % (digest, self.path))
        return path

    def _manifest(self, digest, media_type=None):
        with open(self._read(digest), "rb") as fh:
            data = fh.read()
        if digest.startswith("sha256:") and mi.digest_of(data) != digest:
            raise plan.ImageSyncError("blob %s of offline_layout %s has the wrong content "
                                      "(digest %s); copy the layout again"
                                      % (digest, self.path, mi.digest_of(data)))
        doc_type = mi.parse_manifest(data, "manifest %s of %s" % (digest, self.path)).get(
            "mediaType")
        return {"data": data, "digest": digest, "media_type": doc_type or media_type}

    def top(self, repository, tag):
        desc = self.refs.get("%s:%s" % (repository, tag))
        if desc is None:
            return None
        return self._manifest(desc.get("digest"), desc.get("mediaType"))

    def manifest(self, repository, digest):
        return self._manifest(digest)

    def blob(self, repository, digest):
        with open(self._read(digest), "rb") as fh:
            return fh.read()

    def chunks(self, repository, digest, chunk_size=1 << 20):
        with open(self._read(digest), "rb") as fh:
            while True:
                chunk = fh.read(chunk_size)
                if not chunk:
                    return
                yield chunk


class ImageSyncCopyError(plan.ImageSyncError):
    """Some images failed in the copy phase; ``result`` holds what the others did."""

    def __init__(self, msg, result):
        super(ImageSyncCopyError, self).__init__(msg)
        self.result = result


class ImageSync(object):
    """Plan then copy; ``run()`` returns the module's result."""

    def __init__(self, params, check_mode=False, want_diff=False):
        self.check_mode = check_mode
        self.want_diff = want_diff
        self.concurrency = int(params.get("concurrency") or 1)
        if self.concurrency < 1:
            raise plan.ImageSyncError("concurrency must be at least 1, got %d" % self.concurrency)
        self.images = plan.normalize_images(params["images"], params.get("required_platforms"))
        timeout, retries = params.get("timeout", 30.0), params.get("retries", 3)
        if params.get("offline"):
            self.sources = [LayoutSource(params.get("offline_layout"))]
        else:
            if not params.get("sources"):
                raise plan.ImageSyncError("sources is empty: give the registries to copy from "
                                          "in the order to try them, or offline: true with "
                                          "offline_layout")
            self.sources = [RegistrySource(s, timeout, retries, self.concurrency)
                            for s in params["sources"]]
        self.destination = RegistrySource(params["destination"], timeout, retries,
                                          self.concurrency)
        self._lock = threading.Lock()
        self._holders = {}  # blob digest -> destination repositories known to hold it

    # -- helpers ------------------------------------------------------------------------

    def _map(self, func, items):
        if self.concurrency == 1 or len(items) < 2:
            return [func(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(func, items))

    def _declare_scopes(self):
        # One token per registry covers the whole run (bearer registries such as Harbor).
        for image in self.images:
            self.destination.client.add_scope(self.destination.repository(image["repository"]),
                                              "pull,push")
            for source in self.sources:
                if isinstance(source, RegistrySource):
                    source.client.add_scope(source.repository(image["repository"]), "pull")

    def _requests(self):
        clients = [s.client for s in self.sources + [self.destination]
                   if isinstance(s, RegistrySource)]
        return sum(c.requests for c in clients)

    # -- plan ---------------------------------------------------------------------------

    def _examine(self, source, image):
        """(candidate, None) when ``source`` serves the image whole, else (None, reason)."""
        repository = source.repository(image["repository"])
        try:
            got = source.top(repository, image["tag"])
            if got is None:
                return None, "%s:%s not found" % (repository, image["tag"])
            doc = mi.parse_manifest(got["data"], "manifest of %s:%s" % (repository,
                                                                        image["tag"]))
            single = None
            if got["media_type"] in mi.IMAGE_TYPES:
                config = (doc.get("config") or {}).get("digest")
                if not config:
                    return None, "single image without a config: its platform is unknown"
                single = arch.platform_string(mi.platform_from_config(
                    mi.parse_manifest(source.blob(repository, config), "config"),
                    "config of %s:%s" % (repository, image["tag"])))
            elif got["media_type"] not in mi.INDEX_TYPES:
                return None, "media type %r is not an image or an index" % got["media_type"]
        except XinchuangError as err:
            return None, str(err)
        served = plan.served_platforms(got["media_type"], doc, single)
        reason = plan.judge(served, image["platforms"])
        if reason:
            return None, reason
        return dict(got, doc=doc, platforms=served, repository=repository), None

    def _plan(self, image):
        out = dict(image, skipped=[], source=None, candidate=None, current=None)
        for source in self.sources:
            candidate, reason = self._examine(source, image)
            if candidate is None:
                out["skipped"].append({"source": source.label, "reason": reason})
                continue
            out["source"], out["candidate"] = source, candidate
            break
        if out["source"] is not None:
            dest_repo = self.destination.repository(image["repository"])
            out["current"] = self.destination.client.head_manifest(
                self.destination.ref(dest_repo, tag=image["tag"]))
        return out

    # -- copy ---------------------------------------------------------------------------

    def _ensure_blob(self, source, src_repo, dest_repo, digest, stats):
        with self._lock:
            holders = set(self._holders.get(digest, ()))
        if dest_repo in holders:
            stats["blobs_present"] += 1
            return
        done = self.destination.client.ensure_blob(
            dest_repo, digest, lambda: source.chunks(src_repo, digest),
            "%s@%s" % (dest_repo, digest), from_repository=min(holders) if holders else None)
        stats["blobs_" + done] += 1
        with self._lock:
            self._holders.setdefault(digest, set()).add(dest_repo)

    def _copy_manifest(self, source, src_repo, dest_repo, desc, look_first, stats):
        digest = desc["digest"]
        dest = self.destination
        if look_first and dest.client.head_manifest(dest.ref(dest_repo, digest=digest)):
            return
        got = source.manifest(src_repo, digest)
        doc = mi.parse_manifest(got["data"], "manifest %s of %s" % (digest, src_repo))
        media_type = doc.get("mediaType") or desc.get("mediaType") or got["media_type"]
        if media_type in mi.INDEX_TYPES:
            for child in doc.get("manifests") or []:
                self._copy_manifest(source, src_repo, dest_repo, child, look_first, stats)
        else:
            for blob in mi.manifest_blobs(doc):
                self._ensure_blob(source, src_repo, dest_repo, blob, stats)
        dest.client.put_manifest(dest_repo, digest, got["data"], media_type,
                                 "%s@%s" % (dest_repo, digest))
        stats["manifests_copied"] += 1

    def _copy(self, item):
        """Children first, the top manifest under the tag last. Returns stats."""
        source, candidate = item["source"], item["candidate"]
        dest_repo = self.destination.repository(item["repository"])
        stats = {"manifests_copied": 0, "blobs_uploaded": 0, "blobs_mounted": 0,
                 "blobs_present": 0}
        # Children are looked for first only when the tag held something: an update often
        # shares children with what is there; a first copy would only pay a HEAD each.
        look_first = item["current"] is not None
        doc, media_type = candidate["doc"], candidate["media_type"]
        if media_type in mi.INDEX_TYPES:
            for child in doc.get("manifests") or []:
                self._copy_manifest(source, candidate["repository"], dest_repo, child,
                                    look_first, stats)
        else:
            for blob in mi.manifest_blobs(doc):
                self._ensure_blob(source, candidate["repository"], dest_repo, blob, stats)
        stored = self.destination.client.put_manifest(
            dest_repo, item["tag"], candidate["data"], media_type,
            "%s:%s" % (dest_repo, item["tag"]))
        if stored != candidate["digest"]:
            raise plan.ImageSyncError(
                "destination %s stored %s:%s as %s, not as the source's %s; it rewrote the "
                "manifest (a registry that converts formats cannot hold a byte-for-byte copy)"
                % (self.destination.label, dest_repo, item["tag"], stored, candidate["digest"]))
        stats["manifests_copied"] += 1
        return stats

    def _result(self, item):
        candidate, current = item["candidate"], item["current"]
        dest_repo = self.destination.repository(item["repository"])
        return {
            "repository": item["repository"], "tag": item["tag"],
            "destination": "%s/%s:%s" % (self.destination.client.host, dest_repo, item["tag"]),
            "source": item["source"].label,
            "source_repository": candidate["repository"],
            "digest": candidate["digest"], "media_type": candidate["media_type"],
            "platforms": candidate["platforms"],
            "previous_digest": current["digest"] if current else None,
            "changed": current is None or current["digest"] != candidate["digest"],
            "skipped": item["skipped"],
            "manifests_copied": 0, "blobs_uploaded": 0, "blobs_mounted": 0,
            "blobs_present": 0,
        }

    def run(self):
        self._declare_scopes()
        plans = self._map(self._plan, self.images)
        unserved = [p for p in plans if p["source"] is None]
        if unserved:
            raise plan.unserved_error(unserved)
        results = [self._result(p) for p in plans]
        errors = []
        if not self.check_mode:
            def copy(pair):
                item, result = pair
                if not result["changed"]:
                    return None
                try:
                    result.update(self._copy(item))
                except XinchuangError as err:
                    return "%s: %s" % (result["destination"], err)
                return None
            errors = [e for e in self._map(copy, list(zip(plans, results))) if e]
        out = {
            "changed": any(r["changed"] for r in results),
            "images": results,
            "requests": self._requests(),
            "writes": self.destination.client.writes,
            "bytes_sent": self.destination.client.bytes_sent,
        }
        if self.want_diff:
            out["diff"] = plan.diff_of(results)
        if errors:
            raise ImageSyncCopyError(
                "%d of %d images failed to copy (the others were copied; a failed image's tag "
                "was not changed): %s" % (len(errors), len(results), " | ".join(errors)), out)
        return out
