# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing the built images: each single-architecture layout copied as
``<name>:<tag>-<goarch>`` (its blobs and manifest bytes as they are, so the digest is the
layout's), then ``<name>:<tag>`` made an index of them with image_manifest's own code
(``registry.client.reconcile_many``), every pushed platform required.

A child whose tag already resolves to the layout's digest is left alone (one HEAD), so a
rerun writes nothing; in check mode nothing is written at all.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi


def layout_manifest(layout):
    """(digest, media type, bytes, [blob digests]) of the one image of an OCI layout."""
    with open(os.path.join(layout, "index.json")) as fh:
        desc = json.load(fh)["manifests"][0]
    data = _blob(layout, desc["digest"])
    doc = json.loads(data.decode("utf-8"))
    blobs = [doc["config"]["digest"]] + [layer["digest"] for layer in doc["layers"]]
    return desc["digest"], desc["mediaType"], data, blobs


def _blob_path(layout, digest):
    return os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1])


def _blob(layout, digest):
    with open(_blob_path(layout, digest), "rb") as fh:
        return fh.read()


def _chunks(path, size=1 << 20):
    def read():
        with open(path, "rb") as fh:
            yield from iter(lambda: fh.read(size), b"")
    return read


def push_child(client, layout, repository, tag, check_mode=False):
    """Make ``repository:tag`` the layout's image. Returns ``present``, ``pushed`` or (check
    mode) ``to push``."""
    digest, media_type, data, blobs = layout_manifest(layout)
    what = "%s:%s" % (repository, tag)
    have = client.head_manifest(mi.Reference(repository, tag=tag))
    if have and have["digest"] == digest:
        return "present"
    if check_mode:
        return "to push"
    for blob in blobs:
        client.ensure_blob(repository, blob, _chunks(_blob_path(layout, blob)), what)
    client.put_manifest(repository, tag, data, media_type, what)
    return "pushed"


def push_children(client, children, jobs=3, check_mode=False):
    """children: [{name, tag, goarch, layout}] -> their states, in order (a few copies at once:
    each mostly waits on the registry's round trips)."""
    def one(child):
        return push_child(client, child["layout"], child["name"], "%s-%s" % (child["tag"], child["goarch"]),
                          check_mode=check_mode)

    if not children:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(children)))) as pool:
        return list(pool.map(one, children))
