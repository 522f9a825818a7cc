# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An application image made in the registry: for each family, the base image's child of that
platform with the artefact's layer (``app_image.py`` decides the bytes), pushed by digest, then
one index under the target tag (``registry.py`` talks). Nothing is built on the machine and
nothing runs privileged: the layer is a tar made in memory, the base's layers are mounted from
the base's repository.

Everything is read and computed before the first write: a base without one of the families, or
an artefact it cannot place, changes nothing. A rerun with the same artefact makes the same
bytes, finds the index in place and writes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_image
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg


def _platforms(families):
    if not families:
        raise app_image.AppImageError("families is empty: name the families the image is for (c86, arm, ...)")
    out = []
    for family in families:
        out.append(mi.normalize_platform(arch.platform_dict(family), "family %r" % (family,)))
    mi.check_duplicates((p, "family %s" % arch.lookup(p["architecture"]).family) for p in out)
    return out


def plan(client, bases, image, artifact, file_name, families, port=None, labels=None, created=None, mtime=0,
         fmt="oci"):
    """Everything the image is, read from the registry and computed, nothing written:
    ``{target, place, layer: {blob, diff_id, digest}, children: [...], index, digest, current}``.
    Each family's child comes from the first of ``bases`` that has its platform."""
    # The references name the registry as the nodes pull from it; the client reaches it at its
    # own address (the module's option registry), which may differ.
    app_image.same_registry(image, bases)
    target = mi.parse_reference(app_image.split_registry(image, "image")[1])
    if not target.tag:
        raise app_image.AppImageError("image %s names no tag: give registry/repository:tag" % image)
    sources = [mi.parse_reference(app_image.split_registry(base, "base")[1]) for base in bases]
    place = app_image.placement(file_name, port)
    platforms = _platforms(families)
    blob, diff_id, digest = app_image.layer(artifact, place["path"], mtime)
    client.add_scope(target.repository, "pull,push")
    for source in sources:
        if source.repository != target.repository:
            client.add_scope(source.repository, "pull")
    inspected = []
    for source in sources:
        found = reg.inspect_reference(client, source)
        if not found["exists"]:
            raise app_image.AppImageError("base %s is not in registry %s: push it first (the app store's images: "
                                          "hack/images.sh push)" % (source.text, client.host))
        inspected.append(found)
    wanted = [arch.platform_string(p) for p in platforms]
    chosen = app_image.choose_bases(wanted, [(s.text, found["platforms"]) for s, found in zip(sources, inspected)])
    children = []
    for platform, want, which in zip(platforms, wanted, chosen):
        source = sources[which]
        entry = [e for e in inspected[which]["manifests"] if e["known"] and e["platform"] == want][0]
        what = "base %s (%s)" % (source.text, want)
        got = client.get_manifest(mi.Reference(source.repository, digest=entry["digest"], text=what))
        if got is None:
            raise app_image.AppImageError("%s: its manifest %s is gone from the registry; push the base again"
                                          % (what, entry["digest"]))
        doc = mi.parse_manifest(got["data"], "manifest of %s" % what)
        config = reg.config_of(client, source.repository, doc, what)
        if config is None:
            raise app_image.AppImageError("%s has no config: it is not an image; give a base image" % what)
        config_bytes = app_image.child_config(config, diff_id, place, labels or {}, created or config.get("created", ""))
        manifest_bytes = app_image.child_manifest(doc, config_bytes, blob, what)
        children.append({"platform": platform, "base": source, "base_manifest": doc, "config": config_bytes,
                         "manifest": manifest_bytes, "mediaType": doc["mediaType"],
                         "digest": mi.digest_of(manifest_bytes), "size": len(manifest_bytes)})
    index = mi.build_index([mi.descriptor(c["mediaType"], c["digest"], c["size"], c["platform"]) for c in children], fmt)
    current = client.head_manifest(target)
    return {"image": image, "target": target, "place": place,
            "layer": {"blob": blob, "diff_id": diff_id, "digest": digest},
            "children": children, "index": index, "digest": mi.digest_of(index), "media_type": mi.FORMATS[fmt],
            "current": current}


def published(planned):
    """Whether the tag already holds the index ``plan`` computed (a rerun: nothing to write)."""
    return (planned["current"] or {}).get("digest") == planned["digest"]


def apply(client, planned):
    """Write what ``plan`` computed when the tag does not hold it yet: the base's layers
    mounted, the artefact's layer, each child's config and manifest by digest, the index under
    the tag last (a reader never sees a tag naming missing children)."""
    target = planned["target"]
    if published(planned):
        return False
    layer = planned["layer"]
    client.push_blob(target.repository, layer["blob"], "layer of %s" % target.text)
    for child in planned["children"]:
        what = "%s (%s)" % (target.text, arch.platform_string(child["platform"]))
        if child["base"].repository != target.repository:
            for blob in mi.manifest_blobs(child["base_manifest"]):
                client.mount_blob(target.repository, blob, child["base"].repository, what)
        client.push_blob(target.repository, child["config"], "config of %s" % what)
        if client.head_manifest(mi.Reference(target.repository, digest=child["digest"], text=what)) is None:
            client.put_manifest(target.repository, child["digest"], child["manifest"], child["mediaType"], what)
    stored = client.put_manifest(target.repository, target.tag, planned["index"], planned["media_type"], target.text)
    if stored != planned["digest"]:
        raise reg.RegistryError("registry %s stored the index of %s as %s, expected %s"
                                % (client.host, target.text, stored, planned["digest"]))
    return True


def summary(planned, changed):
    """What the module returns: the index, each child's platform and digest, the layer and where
    the artefact answers."""
    return {
        "changed": changed, "image": planned["image"], "digest": planned["digest"],
        "previous_digest": (planned["current"] or {}).get("digest"),
        "platforms": [arch.platform_string(c["platform"]) for c in planned["children"]],
        "manifests": [{"platform": arch.platform_string(c["platform"]), "digest": c["digest"]}
                      for c in planned["children"]],
        "layer_digest": planned["layer"]["digest"], "path": planned["place"]["path"],
        "context_path": planned["place"]["context_path"], "port": planned["place"]["port"],
    }
