# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which systemd units need enabling or starting, from one ``systemctl show`` of all of them.

A role asks ``systemctl show --property=Id,UnitFileState,ActiveState <units>`` in one command and
runs systemd_service only for the units this returns: on a rerun where every service is enabled
and running that is one command on the host instead of a module start per unit.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

# UnitFileState values systemd_service (enabled: true) leaves as they are.
_ENABLED = ("enabled", "enabled-runtime", "static", "alias", "indirect", "generated")


class SystemdShowError(XinchuangError, ValueError):
    """Output that is not systemctl show's."""


def unit_states(show_output):
    """``systemctl show`` output (blocks of Key=value, one per unit, blank-line separated) ->
    {unit: {'enabled': bool, 'active': bool}}; a unit systemd does not know is neither."""
    states = {}
    for block in (show_output or "").strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.strip().splitlines() if "=" in line)
        if not props:
            continue
        if "Id" not in props:
            raise SystemdShowError("systemctl show printed a block without Id= (%r): ask it with --property=Id,UnitFileState,ActiveState"
                                   % block[:200])
        states[props["Id"]] = {"enabled": props.get("UnitFileState", "") in _ENABLED,
                               "active": props.get("ActiveState", "") in ("active", "reloading")}
    return states


def units_to_start(show_output, units):
    """The units of ``units`` (in their order) that are not both enabled and active."""
    states = unit_states(show_output)
    missing = {"enabled": False, "active": False}
    return [u for u in units if not all(states.get(u, missing).values())]
