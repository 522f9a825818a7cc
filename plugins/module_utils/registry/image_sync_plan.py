# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of image_sync: no I/O, no network.

What the catalogue asks for (images, the platforms each must serve), where an image lives in
a source or the destination (prefixes), whether one source's index serves an image whole,
and how a skipped source is reported. ``image_sync.py`` does the reading and copying.

Platforms are named through the architecture model (``arch.py``) only: ``aarch64``,
``arm64`` and ``linux/arm64/v8`` are one platform here as everywhere in the collection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class ImageSyncError(XinchuangError):
    """A catalogue, a source list or a copy that cannot go on, with the fix named."""


def join_repository(prefix, repository):
    """``prefix`` + ``repository`` as a registry path: ``("mirror/library", "app")`` ->
    ``mirror/library/app``; no prefix -> the repository itself."""
    prefix = (prefix or "").strip("/")
    return "%s/%s" % (prefix, repository) if prefix else repository


def short_platform(platform):
    """``linux/loong64`` -> ``loong64``; ``linux/arm64/v8`` -> ``arm64/v8``: how people write
    platforms in a message about Linux images."""
    return platform[len("linux/"):] if platform.startswith("linux/") else platform


def missing_reason(missing):
    """The ``reason`` of a source skipped for lacking platforms."""
    return "missing platforms: %s" % ", ".join(short_platform(p) for p in missing)


def normalize_platforms(values, what):
    """User platform names -> platform strings in the architecture table's order, no
    duplicates; an unknown name is an error naming ``what``."""
    out = []
    for value in values or []:
        platform = arch.platform_string(mi.normalize_platform(value, "%s: platform %r"
                                                              % (what, value)))
        if platform not in out:
            out.append(platform)
    return sorted(out, key=lambda p: mi.platform_key(arch.parse_platform(p)))


def normalize_images(images, required_platforms=None):
    """The ``images`` option -> [{repository, tag, ref, platforms}] (``platforms``: what the
    image must serve: its own ``platforms`` or else ``required_platforms``).

    Every problem of every item is collected and reported at once, before any request.
    """
    if not images:
        raise ImageSyncError("images is empty: give the catalogue to copy as a list of "
                             "{repository, tag}")
    required = normalize_platforms(required_platforms, "required_platforms")
    errors, out, seen = [], [], {}
    for index, item in enumerate(images):
        repository = (item.get("repository") or "").strip().strip("/")
        tag = str(item.get("tag") or "").strip()
        label = "images[%d] (%s:%s)" % (index, repository, tag)
        if not mi.REPOSITORY_RE.match(repository):
            errors.append("%s: repository %r is not valid (lower case letters, digits, '.', '_', "
                          "'-' and '/' separators)" % (label, item.get("repository")))
            continue
        if not mi.TAG_RE.match(tag):
            errors.append("%s: tag %r is not valid (letters, digits, '_', '.', '-', at most 128)"
                          % (label, item.get("tag")))
            continue
        ref = "%s:%s" % (repository, tag)
        if ref in seen:
            errors.append("%s: %s is also images[%d]; give each image once" % (label, ref,
                                                                               seen[ref]))
            continue
        seen[ref] = index
        try:
            platforms = (normalize_platforms(item["platforms"], label)
                         if item.get("platforms") else list(required))
        except XinchuangError as err:
            errors.append(str(err))
            continue
        out.append({"repository": repository, "tag": tag, "ref": ref, "platforms": platforms})
    if errors:
        raise ImageSyncError("; ".join(errors))
    return out


def served_platforms(media_type, doc, single_platform=None):
    """Platforms a top-level manifest serves: the known entries of an index, or the platform
    of a single image (read from its config by the caller)."""
    if media_type in mi.INDEX_TYPES:
        return [e["platform"] for e in mi.index_entries(doc) if e["known"]]
    return [single_platform] if single_platform else []


def judge(served, wanted):
    """None when ``served`` covers ``wanted``, else the skip reason."""
    missing = mi.missing_platforms(served, wanted)
    return missing_reason(missing) if missing else None


def unserved_error(unserved):
    """One message for every image no source serves: the image, what it must serve and why
    each source was skipped."""
    parts = []
    for item in unserved:
        reasons = "; ".join("%s: %s" % (s["source"], s["reason"]) for s in item["skipped"])
        parts.append("%s (must serve %s): %s" % (
            item["ref"], ", ".join(short_platform(p) for p in item["platforms"]) or
            "the image", reasons or "no source given"))
    return ImageSyncError(
        "no source serves %d image(s) whole, nothing was copied: %s. Add a source that holds "
        "them with every platform (an upstream registry rather than a trimmed mirror or proxy "
        "cache), or lower required_platforms / the image's platforms"
        % (len(unserved), " | ".join(parts)))


def diff_of(results):
    """{before, after}: the digest each destination tag held and holds (would hold)."""
    before, after = {}, {}
    for r in results:
        if r is None:
            continue
        key = r["destination"]
        before[key] = r["previous_digest"]
        after[key] = r["digest"]
    return {"before": before, "after": after}
