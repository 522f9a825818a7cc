# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading one host fact the way filters receive facts.

Filters get facts in two shapes: ``hostvars[host]`` names them ``ansible_distribution``,
``ansible_facts`` names them ``distribution``. The architecture and OS models both accept
either, through this one reader.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def fact(facts, name):
    """Read a fact by its ansible_ name or its bare name (hostvars vs. ansible_facts)."""
    if name in facts:
        return facts[name]
    bare = name[len("ansible_"):] if name.startswith("ansible_") else "ansible_" + name
    return facts.get(bare)
