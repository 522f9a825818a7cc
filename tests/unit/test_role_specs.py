# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role's meta/argument_specs.yml mirrors its defaults/main.yml (the convention), and
every entry point a playbook or a role calls (``tasks_from``) has its own spec entry.

A default without a spec entry escapes validation and documentation; a spec entry without a
default documents a variable the role never reads; a literal default that differs from the
spec's default tells users two different things; an entry point without a spec entry runs
without argument validation and is documented nowhere.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(r for r in os.listdir(os.path.join(ROOT, "roles"))
               if os.path.isfile(os.path.join(ROOT, "roles", r, "defaults", "main.yml")))


def load(role, *path):
    with open(os.path.join(ROOT, "roles", role, *path)) as fh:
        return yaml.safe_load(fh) or {}


@pytest.mark.parametrize("role", ROLES)
def test_spec_mirrors_defaults(role):
    defaults = load(role, "defaults", "main.yml")
    options = load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(set(defaults) - set(options)) == [], "defaults without a spec entry"
    # An optional input the role reads only when set (the inventory's to give) has no default
    # in either file.
    undefaulted = sorted(n for n in set(options) - set(defaults) if "default" in options[n])
    assert undefaulted == [], "spec defaults for variables defaults/main.yml does not set"
    for name, spec in options.items():
        if name not in defaults:
            continue
        value = defaults[name]
        assert spec.get("description"), "%s has no description" % name
        templated = isinstance(value, str) and "{{" in value
        if "default" in spec and not templated:
            assert spec["default"] == value, "%s: spec default %r, defaults/main.yml %r" % (
                name, spec["default"], value)


def test_every_role_is_checked():
    assert {"container_runtime", "coredns", "kubernetes", "os_prep", "preflight"} <= set(ROLES)


COLLECTION = "xinchuang.cloud."


def _tasks(node):
    """Every task of a parsed playbook or task file (blocks, rescue and always included)."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            yield from _tasks(node.get(key))


def entry_points_called():
    """{(role, entry point): [files that call it]} for every include_role / import_role with
    ``tasks_from`` in the playbooks and the roles."""
    called = {}
    files = sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))
                   + glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml")))
    for path in files:
        with open(path) as fh:
            for task in _tasks(yaml.safe_load(fh)):
                for key in ("ansible.builtin.include_role", "ansible.builtin.import_role",
                            "include_role", "import_role"):
                    args = task.get(key)
                    if isinstance(args, dict) and "tasks_from" in args:
                        name = args["name"]
                        role = name[len(COLLECTION):] if name.startswith(COLLECTION) else name
                        entry = os.path.splitext(args["tasks_from"])[0]
                        called.setdefault((role, entry), []).append(os.path.relpath(path, ROOT))
    return called


CALLED = entry_points_called()


def test_the_playbooks_call_entry_points():
    # The scan finds what site.yml is known to call; an empty scan would pass every check below.
    assert {("os_prep", "preflight"), ("coredns", "resolver"), ("coredns", "deploy"),
            ("kubernetes", "routes"), ("preflight", "facts")} <= set(CALLED)


@pytest.mark.parametrize("role,entry", sorted(CALLED), ids=["%s:%s" % k for k in sorted(CALLED)])
def test_every_entry_point_called_has_a_spec_entry(role, entry):
    assert os.path.isfile(os.path.join(ROOT, "roles", role, "tasks", entry + ".yml")), (
        "%s call %s of role %s, which has no tasks/%s.yml" % (CALLED[(role, entry)], entry, role, entry))
    specs = load(role, "meta", "argument_specs.yml")["argument_specs"]
    assert entry in specs, "roles/%s/meta/argument_specs.yml has no entry '%s' (called by %s)" % (
        role, entry, ", ".join(CALLED[(role, entry)]))
    assert specs[entry].get("short_description"), "entry %s of %s has no short_description" % (entry, role)


@pytest.mark.parametrize("role", ROLES)
def test_every_spec_entry_is_a_task_file_with_the_main_variables(role):
    """An entry point reads the role's own variables: the same names and types as main's."""
    specs = load(role, "meta", "argument_specs.yml")["argument_specs"]
    main = specs["main"]["options"]
    for entry, spec in specs.items():
        assert os.path.isfile(os.path.join(ROOT, "roles", role, "tasks", entry + ".yml")), (
            "spec entry %s of %s has no tasks/%s.yml" % (entry, role, entry))
        for name, option in (spec.get("options") or {}).items():
            assert name in main, "%s:%s documents %s, which main does not" % (role, entry, name)
            assert option.get("type", "str") == main[name].get("type", "str"), (
                "%s:%s gives %s type %s, main %s" % (role, entry, name, option.get("type"), main[name].get("type")))


def _import_roles_without_validation(play_file):
    with open(os.path.join(ROOT, "playbooks", play_file)) as fh:
        plays = yaml.safe_load(fh)
    for play in plays:
        for task in play.get("tasks", []):
            for key in ("ansible.builtin.import_role", "ansible.builtin.include_role"):
                call = task.get(key)
                if call and call.get("rolespec_validate") is False:
                    yield call["name"].split(".")[-1], call.get("tasks_from", "main")


def test_site_yml_skips_only_validations_its_preflight_play_already_ran():
    # site.yml's layer plays import their roles with rolespec_validate: false because the
    # preflight play validated the same options (through each role's preflight entry point,
    # in an include tagged always). That holds only while the preflight entry point takes every
    # option of the entry point whose validation is skipped.
    skipped = sorted(set(_import_roles_without_validation("site.yml")))
    assert skipped, "site.yml no longer skips a validation: drop this test"
    for role, entry in skipped:
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as fh:
            specs = yaml.safe_load(fh)["argument_specs"]
        missing = set(specs[entry].get("options", {})) - set(specs["preflight"].get("options", {}))
        assert not missing, "%s: options of %s that its preflight entry point does not validate: %s" % (
            role, entry, sorted(missing))
