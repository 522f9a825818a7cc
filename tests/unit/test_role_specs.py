# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role's meta/argument_specs.yml mirrors its defaults/main.yml (the convention).

A default without a spec entry escapes validation and documentation; a spec entry without a
default documents a variable the role never reads; a literal default that differs from the
spec's default tells users two different things.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
