# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The app store's rules, as pure functions over data: the catalogue (the role's
``appstore_catalogue``: the paper's Table 2 with chart, images and values of each application),
what an inventory asks for (``appstore_apps``), the refusals, the Helm values that pin an
application to its families' nodes, and the application x family matrix.

The role ``xinchuang.cloud.appstore`` reaches these through the filters of
``plugins/filter/appstore.py``; architecture names come from ``arch.py`` only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.errors import XinchuangError


class AppstoreError(XinchuangError, ValueError):
    """A catalogue or an ``appstore_apps`` the role cannot act on; the message says the fix."""


# Debian builds its archive for these families (loong64 in the ports archive, sid): an
# application with a Debian package can have its image built here for them. Debian has no
# sw64 port, so a sw64 image always comes from the site (the vendor's repository).
DEBIAN_FAMILIES = ("c86", "arm", "loongarch", "mips")
ARCH_LABEL = "kubernetes.io/arch"
NAMESPACE_PREFIX = "appstore-"

_ENTRY_KEYS = {"kind": str, "chart": str, "chart_version": str, "families": list, "image": dict,
               "images": dict, "debian_package": str, "values": dict}
_ENTRY_REQUIRED = ("chart", "chart_version", "families", "image")
_APP_KEYS = {"name": str, "families": list, "values": dict, "namespace": str}
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SEMVER = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")


def _type_name(kind):
    return {str: "a string", list: "a list", dict: "a mapping"}[kind]


def _family(name):
    """The paper's family name of any architecture name the model knows, or None."""
    try:
        return arch.family_of(str(name))
    except XinchuangError:
        return None


def _image_problems(where, image):
    problems = []
    if not isinstance(image, dict):
        return ["%s must be a mapping {repository, tag}, got %r" % (where, image)]
    unknown = sorted(set(image) - {"repository", "tag"})
    if unknown:
        problems.append("%s has unknown key(s) %s: it takes repository and tag" % (where, ", ".join(unknown)))
    repo, tag = image.get("repository"), image.get("tag")
    if not isinstance(repo, str) or not _REPOSITORY.match(repo):
        problems.append("%s.repository %r is not a repository path of the site registry (lower case, "
                        "e.g. appstore/nginx; the registry host comes from appstore_registry)" % (where, repo))
    if not isinstance(tag, str) or not _TAG.match(tag):
        problems.append("%s.tag %r is not an image tag (quote it: \"1.22\", not 1.22)" % (where, tag))
    return problems


def catalogue_problems(catalogue):
    """One message per fault of ``appstore_catalogue`` (empty: the catalogue is usable)."""
    if not isinstance(catalogue, dict) or not catalogue:
        return ["appstore_catalogue must be a non-empty mapping of application name to entry, got %r"
                % (catalogue,)]
    problems = []
    for name in sorted(catalogue):
        entry = catalogue[name]
        where = "appstore_catalogue.%s" % name
        if not isinstance(name, str) or not _LABEL.match(name) or len(name) > 63 - len(NAMESPACE_PREFIX):
            problems.append("application name %r is not a DNS label of at most %d characters (it names the "
                            "Helm release and the namespace %s<name>)" % (
                                name, 63 - len(NAMESPACE_PREFIX), NAMESPACE_PREFIX))
        if not isinstance(entry, dict):
            problems.append("%s must be a mapping, got %r" % (where, entry))
            continue
        for key in _ENTRY_REQUIRED:
            if key not in entry:
                problems.append("%s has no %s" % (where, key))
        for key in sorted(entry):
            if key not in _ENTRY_KEYS:
                problems.append("%s has unknown key %r: the keys are %s" % (where, key, ", ".join(sorted(_ENTRY_KEYS))))
            elif entry[key] is not None and not isinstance(entry[key], _ENTRY_KEYS[key]):
                problems.append("%s.%s must be %s, got %r" % (where, key, _type_name(_ENTRY_KEYS[key]), entry[key]))
        if isinstance(entry.get("chart_version"), str) and not _SEMVER.match(entry["chart_version"]):
            problems.append("%s.chart_version %r is not a SemVer 2 version (Helm needs one, e.g. 0.1.0)"
                            % (where, entry["chart_version"]))
        families = entry.get("families") if isinstance(entry.get("families"), list) else []
        for fam in families:
            if fam not in arch.families():
                problems.append("%s.families names %r: the families are %s" % (where, fam, ", ".join(arch.families())))
        if "image" in entry:
            problems.extend(_image_problems(where + ".image", entry["image"]))
        for fam, image in sorted((entry.get("images") or {}).items()):
            if fam not in families:
                problems.append("%s.images names family %r, which is not in its families (%s)" % (
                    where, fam, ", ".join(families) or "none"))
            problems.extend(_image_problems("%s.images.%s" % (where, fam), image))
    return problems


def check_catalogue(catalogue):
    problems = catalogue_problems(catalogue)
    if problems:
        raise AppstoreError("; ".join(problems))
    return catalogue


def image_of(entry, family, registry):
    """The image reference an application runs on a family: its ``images`` override for the
    family, else its ``image`` (one index that carries every family's platform)."""
    image = (entry.get("images") or {}).get(family) or entry["image"]
    return "%s/%s:%s" % (registry.rstrip("/"), image["repository"], image["tag"])


def image_source(entry, family):
    """Where a family's image comes from: ``debian`` (built here from the application's Debian
    package), ``site`` (the site's registry) or None (the family is not adapted)."""
    if family not in (entry.get("families") or []):
        return None
    if entry.get("debian_package") and family in DEBIAN_FAMILIES and family not in (entry.get("images") or {}):
        return "debian"
    return "site"


def not_adapted_message(name, family, entry):
    have = entry.get("families") or []
    return "application %s is not adapted to family %s; families that have it: %s" % (
        name, family, ", ".join(f for f in arch.families() if f in have) or "none")


def apps_problems(apps, catalogue):
    """One message per fault of ``appstore_apps`` against the catalogue: unknown keys,
    applications or families, a family the application is not adapted to, a bad namespace,
    two entries installing the same release into the same namespace."""
    if not isinstance(apps, list):
        return ["appstore_apps must be a list of {name, families, values, namespace}, got %r" % (apps,)]
    problems, seen = [], {}
    for index, app in enumerate(apps):
        where = "appstore_apps[%d]" % index
        if not isinstance(app, dict):
            problems.append("%s must be a mapping {name, families, values, namespace}, got %r" % (where, app))
            continue
        for key in sorted(app):
            if key not in _APP_KEYS:
                problems.append("%s has unknown key %r: the keys are %s" % (where, key, ", ".join(sorted(_APP_KEYS))))
            elif app[key] is not None and not isinstance(app[key], _APP_KEYS[key]):
                problems.append("%s.%s must be %s, got %r" % (where, key, _type_name(_APP_KEYS[key]), app[key]))
        name = app.get("name")
        if name not in catalogue:
            problems.append("%s: application %r is not in appstore_catalogue: the applications are %s "
                            "(add an entry to appstore_catalogue to offer another)" % (
                                where, name, ", ".join(sorted(catalogue))))
            continue
        where = "%s (%s)" % (where, name)
        families = app.get("families")
        if not isinstance(families, list) or not families:
            problems.append("%s needs families: a non-empty list of %s" % (where, ", ".join(arch.families())))
            families = []
        for fam in families:
            family = _family(fam)
            if family is None:
                problems.append("%s: unknown family %r: the families are %s" % (where, fam, ", ".join(arch.families())))
            elif family not in catalogue[name].get("families", []):
                problems.append(not_adapted_message(name, family, catalogue[name]))
        namespace = app.get("namespace") or NAMESPACE_PREFIX + name
        if not _LABEL.match(str(namespace)) or len(str(namespace)) > 63:
            problems.append("%s: namespace %r is not a DNS label (lower case letters, digits and '-', at most "
                            "63 characters)" % (where, namespace))
        key = (namespace, name)
        if key in seen:
            problems.append("%s installs release %s into namespace %s like appstore_apps[%d]: give one entry "
                            "with both entries' families, or another namespace" % (where, name, namespace, seen[key]))
        seen[key] = index
    return problems


def check_apps(apps, catalogue):
    problems = catalogue_problems(catalogue) or apps_problems(apps, catalogue)
    if problems:
        raise AppstoreError("; ".join(problems) + "; nothing was changed")
    return apps


def arch_affinity(families):
    """The affinity that keeps Pods on the nodes of ``families`` (their kubernetes.io/arch)."""
    values = []
    for fam in families:
        label = arch.lookup(fam).oci_arch
        if label not in values:
            values.append(label)
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": ARCH_LABEL, "operator": "In", "values": values}]}]}}}


def _merge(base, over):
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def install_plan(apps, catalogue, registry, chart_repository="charts"):
    """What the role installs, one dict per entry of ``appstore_apps``: release, namespace,
    chart (its OCI reference and version), the families and their architectures, the images to
    check (reference and platforms) and the Helm values (the catalogue's, the inventory's, then
    the image and the affinity the role owns). Raises AppstoreError on any fault, before
    anything is applied."""
    check_apps(apps, catalogue)
    registry = str(registry).rstrip("/")
    if not registry or "://" in registry:
        raise AppstoreError("appstore_registry %r must be the registry's host[:port] (no scheme), "
                            "e.g. registry.local:5000" % (registry,))
    plan = []
    for app in apps:
        name, entry = app["name"], catalogue[app["name"]]
        families = []
        for fam in app["families"]:
            family = _family(fam)
            if family not in families:
                families.append(family)
        refs = {}
        for family in families:
            refs.setdefault(image_of(entry, family, registry), []).append(family)
        if len(refs) > 1:
            raise AppstoreError(
                "application %s runs different images on families %s (%s): one release runs one image "
                "reference; make it one index (xinchuang.cloud.image_manifest) or install each family as its "
                "own appstore_apps entry with its own namespace; nothing was changed" % (
                    name, ", ".join(families), ", ".join(sorted(refs))))
        ref = next(iter(refs))
        repository, tag = ref.rsplit(":", 1)
        values = _merge(entry.get("values") or {}, app.get("values") or {})
        values = _merge(values, {"image": {"repository": repository, "tag": tag},
                                 "affinity": arch_affinity(families)})
        plan.append({
            "name": name,
            "release": name,
            "namespace": app.get("namespace") or NAMESPACE_PREFIX + name,
            "chart": entry["chart"],
            "chart_ref": "oci://%s/%s/%s" % (registry, chart_repository.strip("/"), entry["chart"]),
            "chart_version": entry["chart_version"],
            "families": families,
            "arches": [arch.lookup(f).oci_arch for f in families],
            "image": ref,
            "platforms": [arch.oci_platform(f) for f in families],
            "values": values,
        })
    return plan


def _in_registry(ref):
    """``host[:port]/repo:tag`` -> ``repo:tag``: image_manifest_info names references without
    their registry."""
    first, _sep, rest = str(ref).partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return rest
    return str(ref)


def _by_ref(images):
    return dict((_in_registry(i.get("ref")), i) for i in images or [])


def _serves(platforms, family):
    """Whether one of ``platforms`` (image_manifest_info's strings) runs on ``family``."""
    want = arch.lookup(family).oci_arch
    for platform in platforms or []:
        try:
            if arch.parse_platform(platform)["architecture"] == want:
                return True
        except XinchuangError:
            continue
    return False


def plan_image_problems(plan, images):
    """image_manifest_info's ``images`` against the plan: one message per application whose image
    is absent or lacks a platform of a family it is installed on."""
    by_ref = _by_ref(images)
    problems = []
    for item in plan:
        info = by_ref.get(_in_registry(item["image"])) or {}
        served = info.get("platforms") or []
        for family, platform in zip(item["families"], item["platforms"]):
            if not info.get("exists") or not _serves(served, family):
                problems.append(
                    "application %s has no image for family %s (%s) in the registry: %s %s; push it (hack/images.sh "
                    "for the Debian-built ones, xinchuang.cloud.image_sync from the site's source) or leave %s out "
                    "of its families" % (item["name"], family, platform, item["image"],
                                         "is absent" if not info.get("exists") else "serves only " + (
                                             ", ".join(served) or "no known platform"), family))
    return problems


def plan_node_problems(plan, nodes):
    """kubernetes.core.k8s_info's Nodes against the plan: one message per application and family
    with no node of that family's kubernetes.io/arch (its Pods would stay Pending)."""
    arches = set()
    for node in nodes or []:
        label = ((node.get("metadata") or {}).get("labels") or {}).get(ARCH_LABEL)
        if label:
            arches.add(label)
    problems = []
    for item in plan:
        for family, label in zip(item["families"], item["arches"]):
            if label not in arches:
                problems.append("application %s asks for family %s, but no node has %s=%s (the nodes have %s): "
                                "join such a node or leave %s out of its families" % (
                                    item["name"], family, ARCH_LABEL, label, ", ".join(sorted(arches)) or "none",
                                    family))
    return problems


def matrix(catalogue, registry="", images=None, installed=None):
    """The application x family matrix: one row per application (catalogue order sorted by
    name, Table 2's order when the catalogue keeps it), each cell {adapted, source, image,
    present, installed}. ``images`` (image_manifest_info's list) fills ``present``;
    ``installed`` ({application: [families]}) fills ``installed``; unknown stays None."""
    check_catalogue(catalogue)
    by_ref = _by_ref(images)
    rows = []
    for name in catalogue:
        entry = catalogue[name]
        cells = {}
        for family in arch.families():
            source = image_source(entry, family)
            cell = {"adapted": source is not None, "source": source, "image": None, "present": None,
                    "installed": None}
            if source:
                ref = image_of(entry, family, registry or "REGISTRY")
                cell["image"] = ref
                if images is not None:
                    info = by_ref.get(_in_registry(ref)) or {}
                    cell["present"] = bool(info.get("exists")) and _serves(info.get("platforms"), family)
            if installed is not None:
                cell["installed"] = family in (installed.get(name) or [])
            cells[family] = cell
        rows.append({"name": name, "kind": entry.get("kind", ""), "debian_package": entry.get("debian_package") or "",
                     "cells": cells})
    return rows


def _cell_text(cell):
    if not cell["adapted"]:
        return "-"
    words = ["built here" if cell["source"] == "debian" else "site registry"]
    if cell["present"] is not None:
        words.append("present" if cell["present"] else "MISSING")
    if cell["installed"]:
        words.append("installed")
    return ", ".join(words)


def matrix_table(rows, markdown=True):
    """The matrix as lines of text: a Markdown table, or aligned columns for a terminal."""
    header = ["application"] + [arch.lookup(f).title for f in arch.families()]
    body = [[row["name"]] + [_cell_text(row["cells"][f]) for f in arch.families()] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return lines
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header] + body]


def installed_families(releases):
    """{application: [families]} from the releases helm_info found: the families are read back
    from the affinity the role wrote into each release's values."""
    out = {}
    by_arch = dict((arch.lookup(f).oci_arch, f) for f in arch.families())
    for rel in releases or []:
        values = rel.get("values") or {}
        terms = (((values.get("affinity") or {}).get("nodeAffinity") or {})
                 .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
        fams = out.setdefault(rel.get("name"), [])
        for term in terms:
            for expr in term.get("matchExpressions") or []:
                if expr.get("key") == ARCH_LABEL:
                    for value in expr.get("values") or []:
                        if value in by_arch and by_arch[value] not in fams:
                            fams.append(by_arch[value])
    return out
