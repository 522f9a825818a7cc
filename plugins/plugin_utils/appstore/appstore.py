# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The app store's rules, as pure functions over data: the catalogue (the role's
``appstore_catalogue``: the paper's Table 2 with chart, images and values of each application),
what an inventory asks for (``appstore_apps``), the refusals, the Helm values that pin an
application to its families' nodes, and the application x family matrix. Whether an
application's image can be built here is the recipes' answer (``app_images.py``), not the
catalogue's.

The role ``xinchuang.cloud.appstore`` reaches these through the filters of
``plugins/filter/appstore.py``; architecture names come from ``arch.py`` only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_images
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class AppstoreError(XinchuangError, ValueError):
    """A catalogue or an ``appstore_apps`` the role cannot act on; the message says the fix."""


ARCH_LABEL = "kubernetes.io/arch"
INSTANCE_LABEL = "app.kubernetes.io/instance"
NAMESPACE_PREFIX = "appstore-"

_ENTRY_KEYS = {"kind": str, "chart": str, "chart_version": str, "families": list, "image": dict,
               "images": dict, "debian_package": str, "values": dict}
_ENTRY_REQUIRED = ("chart", "chart_version", "families", "image")
_APP_KEYS = {"name": str, "families": list, "values": dict, "namespace": str}
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
        if not k8s_names.is_rfc1123_label(name, max_length=k8s_names.LABEL_MAX - len(NAMESPACE_PREFIX)):
            problems.append("application name %r is not a DNS label of at most %d characters (it names the "
                            "Helm release and the namespace %s<name>)" % (
                                name, k8s_names.LABEL_MAX - len(NAMESPACE_PREFIX), NAMESPACE_PREFIX))
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
        problems.extend(_debian_package_problems(where, entry))
    return problems


def _debian_package_problems(where, entry):
    """``debian_package`` names the package a recipe of app_images.py builds the entry's image
    from: refused when no recipe builds the image's repository, or the recipe builds it from
    another package."""
    package, image = entry.get("debian_package"), entry.get("image")
    if not package or not isinstance(package, str) or not isinstance(image, dict):
        return []
    repository = image.get("repository")
    name = app_images.recipe_of(repository)
    if name is None:
        return ["%s sets debian_package %r, but no recipe builds its image %s (the recipes build %s): set "
                "debian_package to \"\" (the site's registry provides the image) or add a recipe in "
                "plugins/module_utils/images/app_images.py" % (
                    where, package, repository, ", ".join(app_images.built_repositories()))]
    main = app_images.main_package(name)
    if package != main:
        return ["%s sets debian_package %r, but recipe %s builds its image %s from %s: set debian_package to %r "
                "(or \"\")" % (where, package, name, repository, main, main)]
    return []


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


def recipe_of(entry):
    """The recipe of app_images.py that builds the application's image (its ``image``), or None."""
    image = entry.get("image")
    return app_images.recipe_of(image.get("repository")) if isinstance(image, dict) else None


def image_source(entry, family):
    """Where a family's image comes from: ``recipe`` (a recipe of app_images.py builds it: the
    entry's ``image`` on a family the recipes build for), ``site`` (the site's registry: no
    recipe, sw64, or a per-family ``images`` override) or None (the family is not adapted)."""
    if family not in (entry.get("families") or []):
        return None
    recipe = recipe_of(entry)
    if recipe and family in app_images.families_of(recipe) and family not in (entry.get("images") or {}):
        return "recipe"
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
        if not k8s_names.is_rfc1123_label(str(namespace)):
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


def arch_affinity(families, release):
    """The affinity that keeps the Pods of ``release`` on the nodes of ``families`` (their
    kubernetes.io/arch) and, with more than one family, spreads them across the families: a
    release installed for C86 and ARM runs on both, not on whichever node scored best (every
    chart labels its Pods with app.kubernetes.io/instance = the release)."""
    values = []
    for fam in families:
        label = arch.lookup(fam).oci_arch
        if label not in values:
            values.append(label)
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": ARCH_LABEL, "operator": "In", "values": values}]}]}}}
    if len(values) > 1:
        affinity["podAntiAffinity"] = {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100, "podAffinityTerm": {
                "labelSelector": {"matchLabels": {INSTANCE_LABEL: release}}, "topologyKey": ARCH_LABEL}}]}
    return affinity


def _merge(base, over):
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _registry_host(value, option):
    """``value`` as a registry's host[:port] (a path too: charts and images live under it), or
    AppstoreError naming ``option``."""
    return manifest_index.registry_host(value, option, AppstoreError, allow_path=True)


def registry_endpoint(registry, endpoint=""):
    """The host[:port] the controller reaches the site registry at: ``endpoint``
    (appstore_registry_endpoint) when given, else ``registry`` (appstore_registry, the name the
    nodes pull by). AppstoreError names a value with a scheme."""
    if endpoint:
        return _registry_host(endpoint, "appstore_registry_endpoint")
    return _registry_host(registry, "appstore_registry")


def install_plan(apps, catalogue, registry, chart_repository="charts", endpoint=""):
    """What the role installs, one dict per entry of ``appstore_apps``: release, namespace,
    chart (its OCI reference and version), the families and their architectures, the images to
    check (reference and platforms) and the Helm values (the catalogue's, the inventory's, then
    the image and the affinity the role owns). ``registry`` is the name the nodes pull images
    by; ``endpoint`` (empty: ``registry``) the host[:port] the controller reaches the same
    registry at (registry_endpoint), for the charts (``chart_repository_ref``, where helm pushes
    them, and ``chart_ref``) and the image checks (``image_path``: the reference without its
    registry, which image_manifest_info reads from the endpoint).
    Raises AppstoreError on any fault, before anything is applied."""
    check_apps(apps, catalogue)
    registry = _registry_host(registry, "appstore_registry")
    endpoint = registry_endpoint(registry, endpoint)
    charts = "oci://%s/%s" % (endpoint, chart_repository.strip("/"))
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
                                 "affinity": arch_affinity(families, name)})
        plan.append({
            "name": name,
            "release": name,
            "namespace": app.get("namespace") or NAMESPACE_PREFIX + name,
            "chart": entry["chart"],
            "chart_repository_ref": charts,
            "chart_ref": "%s/%s" % (charts, entry["chart"]),
            "chart_version": entry["chart_version"],
            "families": families,
            "arches": [arch.lookup(f).oci_arch for f in families],
            "image": ref,
            "image_path": _in_registry(ref),
            "platforms": [arch.oci_platform(f) for f in families],
            "values": values,
        })
    return plan


CHART_KEYS = ("chart", "chart_version", "chart_ref", "chart_repository_ref")


def plan_charts(plan):
    """The charts of PLAN, each once, in the plan's order, and nothing of the releases: the
    tasks that look for, package, push and pull charts loop over these, so their results (which
    show each loop item) never show a release's values (a password given there)."""
    out = []
    for entry in plan or []:
        chart = dict((key, entry[key]) for key in CHART_KEYS)
        if chart not in out:
            out.append(chart)
    return out


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
        info = by_ref.get(item["image_path"]) or {}
        served = info.get("platforms") or []
        for family, platform in zip(item["families"], item["platforms"]):
            if not info.get("exists") or not _serves(served, family):
                problems.append(
                    "application %s has no image for family %s (%s) in the registry: %s %s; push it "
                    "(XC_IMAGES_SET=apps hack/images.sh for an image a recipe of app_images.py builds, "
                    "xinchuang.cloud.image_sync from the site's source) or leave %s out of its families" % (
                        item["name"], family, platform, item["image"],
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
    """The application x family matrix: one row per application (catalogue order, Table 2's order
    when the catalogue keeps it) with ``recipe`` (the recipe of app_images.py that builds its
    image, or None), ``buildable`` (the families whose image that recipe builds) and one cell
    per family {adapted, source, image, image_path, present, installed}. ``source`` is image_source's
    (``recipe``, ``site`` or None); ``images`` (image_manifest_info's list) fills ``present``
    (the registry holds the family's image with the family's platform); ``installed``
    ({application: [families]}) fills ``installed``; unknown stays None."""
    check_catalogue(catalogue)
    by_ref = _by_ref(images)
    rows = []
    for name in catalogue:
        entry = catalogue[name]
        cells = {}
        for family in arch.families():
            source = image_source(entry, family)
            cell = {"adapted": source is not None, "source": source, "image": None, "image_path": None,
                    "present": None, "installed": None}
            if source:
                ref = image_of(entry, family, registry or "REGISTRY")
                cell["image"] = ref
                cell["image_path"] = _in_registry(ref)
                if images is not None:
                    info = by_ref.get(cell["image_path"]) or {}
                    cell["present"] = bool(info.get("exists")) and _serves(info.get("platforms"), family)
            if installed is not None:
                cell["installed"] = family in (installed.get(name) or [])
            cells[family] = cell
        rows.append({"name": name, "kind": entry.get("kind", ""), "debian_package": entry.get("debian_package") or "",
                     "recipe": recipe_of(entry),
                     "buildable": [f for f in arch.families() if cells[f]["source"] == "recipe"],
                     "cells": cells})
    return rows


def _buildable_text(row):
    if not row["buildable"]:
        return "no: site registry"
    return "recipe %s: %s" % (row["recipe"], ", ".join(arch.lookup(f).title for f in row["buildable"]))


def _cell_text(cell):
    if not cell["adapted"]:
        return "not adapted"
    words = ["adapted"]
    if cell["present"] is not None:
        words.append("present" if cell["present"] else "MISSING")
    if cell["installed"]:
        words.append("installed")
    return ", ".join(words)


def matrix_table(rows, markdown=True):
    """The matrix as lines of text, a Markdown table or aligned columns for a terminal: per
    application the families whose image a recipe builds here (the rest come from the site's
    registry), then per family whether it is adapted, with the registry read ``present`` or
    ``MISSING``, with the releases read ``installed``."""
    header = ["application", "buildable here"] + [arch.lookup(f).title for f in arch.families()]
    body = [[row["name"], _buildable_text(row)] + [_cell_text(row["cells"][f]) for f in arch.families()]
            for row in rows]
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


def helm_outcome(results):
    """What a looped kubernetes.core.helm or helm_info task did, from its registered RESULTS (the
    task is no_log: a release's values and manifest hold the applications' passwords, so the
    role names what changed and what failed from here): {"changed": [release], "failed":
    ["release: Helm's message"]}. A loop item is the install plan's entry (its ``release``) or
    an application's name."""
    out = {"changed": [], "failed": []}
    for result in results or []:
        item = result.get(result.get("ansible_loop_var") or "item")
        release = item.get("release") if isinstance(item, dict) else item
        if result.get("failed"):
            out["failed"].append("%s: %s" % (release, result.get("msg") or "Helm failed without a message"))
        elif result.get("changed"):
            out["changed"].append(release)
    return out
