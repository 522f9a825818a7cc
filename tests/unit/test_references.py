"""Citations stay inside the repository and point at things that exist.

A reader of the collection has only the repository: a path to the machine it was written on,
a doc fragment that was never written or "the paper" with no reference sends them nowhere.
The paper's tables as data (docs/paper-tables.yml) must also agree with the code that
follows them.
"""

import importlib
import hashlib
import os
import re

import pytest
import yaml

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import corefile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THIS_FILE = os.path.abspath(__file__)

# Directories whose files are read by users or run as part of the collection and its tests.
CHECKED_DIRS = ("plugins", "roles", "docs", "tests", "hack", "bench", "molecule", "playbooks",
                "inventories", "meta")
# Made by tools, not written by us (ansible-test results carry absolute paths).
GENERATED = {os.path.join(ROOT, "tests", "output")}
# The paper's tables: the project's shared reference copied byte for byte (one copy in the
# repository); its header names the paper's file in that reference, which is not ours to edit.
PAPER_TABLES = os.path.join(ROOT, "docs", "paper-tables.yml")
# sha256sum of the shared reference's paper-tables.yml when it was copied (2026-12-03). A change
# of the copy fails here: take the reference's new version whole, with its new digest.
PAPER_TABLES_REFERENCE_SHA256 = "bbb278db17230b2e540f02c8585383145790a6eee886cda78677ce882d036ab2"
TEXT_SUFFIXES = (".py", ".yml", ".yaml", ".md", ".j2", ".sh", ".cfg", ".ini", ".txt", ".toml",
                 ".json", ".hosts", ".conf", ".service", ".rst")
# A path of the machine the project is developed on, or of the project's files beside the
# repository: /work/..., ../shared/..., shared/reference|seed|design/...
OUTSIDE = re.compile(r"/work/|\.\./shared\b|\bshared/(?:reference|seed|design)\b")


def _text_files(*dirs):
    for top in dirs:
        for base, subdirs, files in os.walk(os.path.join(ROOT, top)):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d != "__pycache__"
                                and os.path.join(base, d) not in GENERATED)
            for name in sorted(files):
                path = os.path.join(base, name)
                if name.endswith(TEXT_SUFFIXES) and os.path.abspath(path) != THIS_FILE:
                    yield path


def _read(path):
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _rel(path):
    return os.path.relpath(path, ROOT)


# --- paths outside the repository -------------------------------------------------------------

def test_the_scan_covers_the_collection():
    scanned = {_rel(p) for p in _text_files(*CHECKED_DIRS)}
    for expected in ("plugins/module_utils/model/arch.py", "roles/preflight/tasks/preflight.yml",
                     "docs/references.md", "tests/unit/plugins/module_utils/operations/test_hpa_policy.py"):
        assert expected in scanned
    assert len(scanned) > 100


def test_no_file_cites_a_path_outside_the_repository():
    offenders = []
    for path in list(_text_files(*CHECKED_DIRS)) + [os.path.join(ROOT, "README.md")]:
        if path == PAPER_TABLES:
            continue
        for number, line in enumerate(_read(path).splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append("%s:%d: %s" % (_rel(path), number, line.strip()))
    assert offenders == [], "cite docs/references.md or a repository path instead"


@pytest.mark.parametrize("line", [
    "path = \"/work/shared/reference/paper-tables.yml\"",
    "Sources: shared/reference/domestic-platforms.md section 3",
    "see ../shared/design/conventions.md",
    "cd /work/main && source hack/env.sh",
])
def test_outside_pattern_catches_the_forms_once_found_here(line):
    assert OUTSIDE.search(line)


@pytest.mark.parametrize("line", [
    "docs/references.md", "source hack/env.sh", "roles/kubernetes/tasks/work.yml",
    "the shared store of images", "tests/unit/test_references.py",
])
def test_outside_pattern_leaves_repository_paths_alone(line):
    assert not OUTSIDE.search(line)


# --- doc fragments ----------------------------------------------------------------------------

# Mentions such as "``xinchuang.cloud.kube_auth`` doc fragment", "doc fragment registry_auth"
# (a name with an underscore, so prose like "a doc fragment that" is not taken for one), and
# every list item under extends_documentation_fragment.
_FRAGMENT_MENTIONS = (
    re.compile(r"xinchuang\.cloud\.([a-z0-9_.]+)`*\s+doc\s+fragment"),
    re.compile(r"doc\s+fragment\s+`*(?:xinchuang\.cloud\.)?([a-z0-9]+_[a-z0-9_.]*)"),
)
_EXTENDS = re.compile(r"^extends_documentation_fragment:\n((?:\s+-\s+\S+\n)+)", re.M)


def _cited_fragments():
    cited = {}
    for path in _text_files("plugins"):
        if not path.endswith(".py"):
            continue
        text = _read(path)
        names = [m.group(1) for pattern in _FRAGMENT_MENTIONS for m in pattern.finditer(text)]
        for block in _EXTENDS.findall(text):
            names += [item.split("-", 1)[1].strip() for item in block.strip().splitlines()]
        for name in names:
            name = name.rstrip(".")
            if name.startswith("xinchuang.cloud."):
                name = name[len("xinchuang.cloud."):]
            cited.setdefault(name, set()).add(_rel(path))
    return cited


def _fragment_exists(name):
    module_name, _dot, variant = name.partition(".")
    if os.path.isfile(os.path.join(ROOT, "plugins", "doc_fragments", module_name + ".py")):
        package = "ansible_collections.xinchuang.cloud.plugins.doc_fragments."
    else:  # ansible-core's own (constructed, inventory_cache, ...)
        package = "ansible.plugins.doc_fragments."
    try:
        module = importlib.import_module(package + module_name)
    except ImportError:
        return False
    return hasattr(module.ModuleDocFragment, (variant or "documentation").upper())


def test_every_cited_doc_fragment_exists():
    cited = _cited_fragments()
    # the scan must see the citations that are known to be there
    assert {"kube_auth", "registry_auth", "attributes", "attributes.info_module"} <= set(cited)
    missing = sorted("%s (cited in %s)" % (name, ", ".join(sorted(where)))
                     for name, where in cited.items() if not _fragment_exists(name))
    assert missing == []


def test_a_fragment_that_does_not_exist_is_reported():
    assert not _fragment_exists("hpa_scaling_rules")
    assert not _fragment_exists("attributes.no_such_variant")
    assert _fragment_exists("attributes.info_module")


# --- the paper --------------------------------------------------------------------------------

REFERENCES = os.path.join(ROOT, "docs", "references.md")
_CITES_PAPER = re.compile(r"\bthe paper\b|\bpaper's\b", re.I)
_LINK_TO_REFERENCES = re.compile(r"\]\(((?:\.\./)*(?:docs/)?references\.md)(?:#([a-z0-9-]+))?\)")


def _anchor(heading):
    """GitHub's anchor of a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def _reference_anchors():
    return {_anchor(line.lstrip("#")) for line in _read(REFERENCES).splitlines()
            if line.startswith("#")}


def _docs_that_may_cite_the_paper():
    paths = [p for p in _text_files("docs") if p.endswith(".md") and p != REFERENCES]
    paths += sorted(os.path.join(ROOT, "roles", role, "README.md")
                    for role in os.listdir(os.path.join(ROOT, "roles"))
                    if os.path.isfile(os.path.join(ROOT, "roles", role, "README.md")))
    return paths + [os.path.join(ROOT, "README.md")]


def test_references_name_the_paper_and_each_table():
    anchors = _reference_anchors()
    assert {"the-paper", "table-1", "table-2", "table-3", "table-4"} <= anchors
    text = _read(REFERENCES)
    for fact in ("自主创新异构环境容器云平台的设计与适配", "10.11772/j.issn.1001-9081.2024040483",
                 "LYU Yimeng", "2025"):
        assert fact in text


def test_every_doc_that_cites_the_paper_links_to_the_references():
    unlinked = [_rel(p) for p in _docs_that_may_cite_the_paper()
                if _CITES_PAPER.search(_read(p)) and not _LINK_TO_REFERENCES.search(_read(p))]
    assert unlinked == []


def test_every_link_to_the_references_lands_on_a_heading():
    anchors = _reference_anchors()
    broken = []
    for path in _docs_that_may_cite_the_paper():
        for target, anchor in _LINK_TO_REFERENCES.findall(_read(path)):
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
            if resolved != REFERENCES or (anchor and anchor not in anchors):
                broken.append("%s -> %s#%s" % (_rel(path), target, anchor))
    assert broken == []


def test_anchor_follows_github():
    assert _anchor(" Operating systems as Ansible reports them") == \
        "operating-systems-as-ansible-reports-them"
    assert _anchor("Table 3") == "table-3"


# --- the paper's tables agree with the code that follows them ---------------------------------

def _paper(key):
    with open(PAPER_TABLES) as fh:
        return yaml.safe_load(fh)[key]


def test_the_paper_tables_are_the_shared_reference_byte_for_byte():
    with open(PAPER_TABLES, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == PAPER_TABLES_REFERENCE_SHA256, (
            "docs/paper-tables.yml differs from the shared reference it copies: change the reference "
            "and copy it whole, never the copy alone")


def test_per_family_settings_of_the_paper_cover_every_family_of_the_model():
    assert sorted(_paper("autoscaling_thresholds")) == sorted(arch.families())
    assert sorted(_paper("service_exposure")) == sorted(arch.families())
    for row in _paper("appstore"):
        assert sorted(k for k in row if k not in ("name", "kind")) == sorted(arch.families())


def test_the_corefile_has_the_plugins_of_table4_in_their_order():
    plugins = [line.split()[0] for line in corefile.render_corefile().splitlines()
               if line.startswith("    ") and not line.startswith("     ")]
    table4 = [row["plugin"] for row in _paper("coredns_plugins")]
    assert [p for p in plugins if p in table4] == table4
    assert "cache 30" in corefile.render_corefile()  # the table's 30 s TTL


def test_the_coredns_roles_default_exposure_is_the_papers():
    with open(os.path.join(ROOT, "roles", "coredns", "vars", "main.yml")) as fh:
        role_vars = yaml.safe_load(fh)
    assert role_vars["_coredns_service_exposure_paper"] == _paper("service_exposure")
