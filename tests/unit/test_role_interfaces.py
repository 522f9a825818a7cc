# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Roles talk to each other through published facts only (docs/development.md, "Role
interfaces and facts across layers").

A role reads its own variables (``<role>_*``, ``_<role>_*``, ``__<role>_*``) and the
collection-wide ``xinchuang_*`` names; what one layer produces for another it publishes as a
``xinchuang_*`` fact. A role that reads another role's variables depends on that role's
defaults and inventory names, and one that sets another role's names reaches into its state:
both are what these tests refuse.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(r for r in os.listdir(os.path.join(ROOT, "roles"))
               if os.path.isdir(os.path.join(ROOT, "roles", r, "tasks")))

JINJA = re.compile(r"{{(.*?)}}|{%(.*?)%}", re.S)
# Keys whose value is a bare Jinja expression.
BARE = {"when", "that", "failed_when", "changed_when", "until", "loop", "with_items"}
SUBSCRIPT = re.compile(r"\[\s*(['\"])([A-Za-z_][A-Za-z0-9_]*)\1\s*\]")
LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")
# A name, not an attribute, a filter or test of a collection (a preceding '.'), nor a keyword argument.
NAME = re.compile(r"(?<![.\w])([A-Za-z_][A-Za-z0-9_]*)")


# Former names a role still reads for the inventories that use them (deprecated, announced
# when set): role -> names.
DEPRECATED_ALIASES = {"preflight": {"os_prep_node_ip"}}


def names_read(expression):
    """Variable names an expression reads: bare names and string subscripts
    (``hostvars[h]['name']``), not the words of its string literals."""
    found = {m.group(2) for m in SUBSCRIPT.finditer(expression)}
    found |= set(NAME.findall(LITERAL.sub("''", expression)))
    return found


def expressions(node, key=None):
    """Every Jinja expression in a parsed YAML document (bare ones under BARE keys)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from expressions(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item, key)
    elif isinstance(node, str):
        if key in BARE and "{{" not in node:
            yield node
        for match in JINJA.finditer(node):
            yield match.group(1) or match.group(2)


def facts_set(node):
    """Names a task file sets with set_fact."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("ansible.builtin.set_fact", "set_fact") and isinstance(v, dict):
                yield from (n for n in v if n != "cacheable")
            else:
                yield from facts_set(v)
    elif isinstance(node, list):
        for item in node:
            yield from facts_set(item)


def other_role(name, role):
    """The role whose variable ``name`` is, when it is another role's."""
    bare = name.lstrip("_")
    for other in ROLES:
        if other != role and bare.startswith(other + "_") and not bare.startswith(role + "_"):
            return other
    return None


def role_files(role, patterns):
    for pattern in patterns:
        yield from sorted(glob.glob(os.path.join(ROOT, "roles", role, pattern)))


def reads_of(role):
    """{name: [files]} of the names a role's defaults, vars, tasks, handlers and templates read."""
    reads = {}
    for path in role_files(role, ["defaults/*.yml", "vars/*.yml", "tasks/*.yml", "handlers/*.yml"]):
        with open(path) as fh:
            for expression in expressions(yaml.safe_load(fh)):
                for name in names_read(expression):
                    reads.setdefault(name, set()).add(os.path.relpath(path, ROOT))
    for path in role_files(role, ["templates/*.j2"]):
        with open(path) as fh:
            for match in JINJA.finditer(fh.read()):
                for name in names_read(match.group(1) or match.group(2)):
                    reads.setdefault(name, set()).add(os.path.relpath(path, ROOT))
    return reads


def test_the_scan_sees_what_roles_read():
    # The kubernetes role reads the published facts and its own names; an empty scan would
    # pass every check below.
    reads = reads_of("kubernetes")
    assert {"xinchuang_node_ip", "xinchuang_cgroup_driver", "xinchuang_kubelet_resolv_conf",
            "kubernetes_node_ip", "__kubernetes_node_ip"} <= set(reads)
    assert "other_role_var" in names_read("hostvars[h]['other_role_var'] | default('a word')")
    assert "word" not in names_read("x ~ 'a word'")


@pytest.mark.parametrize("role", ROLES)
def test_role_reads_no_other_roles_variables(role):
    foreign = {name: sorted(files) for name, files in reads_of(role).items()
               if other_role(name, role) and name not in DEPRECATED_ALIASES.get(role, ())}
    assert foreign == {}, (
        "role %s reads other roles' variables: have the other layer publish an xinchuang_* fact "
        "(or the playbook pass it), and give the role its own input variable" % role)


@pytest.mark.parametrize("role", ROLES)
def test_role_sets_only_its_own_names_and_published_facts(role):
    wrong = {}
    for path in role_files(role, ["tasks/*.yml", "handlers/*.yml"]):
        with open(path) as fh:
            for name in facts_set(yaml.safe_load(fh)):
                bare = name.lstrip("_")
                if not (bare.startswith(role + "_") or name.startswith("xinchuang_")):
                    wrong.setdefault(name, []).append(os.path.relpath(path, ROOT))
    assert wrong == {}, (
        "role %s sets facts that are neither its own (%s_*, __%s_*) nor published xinchuang_* "
        "facts" % (role, role, role))


@pytest.mark.parametrize("role", ROLES)
def test_role_inputs_are_not_overwritten_by_its_facts(role):
    """Input and output have different names: a fact named like a public variable of the role
    would outrank the inventory's value for the rest of the run."""
    defaults_path = os.path.join(ROOT, "roles", role, "defaults", "main.yml")
    specs_path = os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")
    inputs = set()
    if os.path.isfile(defaults_path):
        with open(defaults_path) as fh:
            inputs |= set(yaml.safe_load(fh) or {})
    if os.path.isfile(specs_path):
        with open(specs_path) as fh:
            for spec in yaml.safe_load(fh)["argument_specs"].values():
                inputs |= set(spec.get("options") or {})
    overwritten = {}
    for path in role_files(role, ["tasks/*.yml", "handlers/*.yml"]):
        with open(path) as fh:
            for name in facts_set(yaml.safe_load(fh)):
                if name in inputs:
                    overwritten.setdefault(name, []).append(os.path.relpath(path, ROOT))
    assert overwritten == {}, "role %s sets its own input variables as facts" % role
