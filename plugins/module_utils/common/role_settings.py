# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's settings as its rules read them, the one copy of the rule: the rules' defaults for
every value the role left unset (None or ''), so the defaults live in Python alone, and a name
the rules do not know is a problem that names the known ones. No I/O."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def filled(given, defaults, what="settings"):
    """(settings, problems): ``defaults`` updated with every value of ``given`` that is set, and
    one message when ``given`` names a setting ``defaults`` does not have."""
    settings = dict(defaults)
    settings.update(dict((k, v) for k, v in (given or {}).items() if v is not None and v != ""))
    problems = []
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        problems.append("unknown %s %s: known are %s" % (what, ", ".join(unknown), ", ".join(sorted(defaults))))
    return settings, problems
