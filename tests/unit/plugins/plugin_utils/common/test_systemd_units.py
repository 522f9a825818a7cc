# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd_units: which units a role still has to enable or start, from one systemctl show."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common import systemd_units

# As systemd 252 prints it (Debian 12): properties in its own order, one block per unit.
SHOW = """ActiveState=active
Id=kubelet.service
UnitFileState=enabled

ActiveState=inactive
Id=kube-proxy.service
UnitFileState=enabled

ActiveState=active
Id=etcd.service
UnitFileState=disabled

ActiveState=inactive
Id=nothing.service
UnitFileState=
"""


def test_units_enabled_and_active_need_nothing():
    assert systemd_units.units_to_start(SHOW, ["kubelet.service"]) == []


def test_stopped_disabled_or_unknown_units_are_returned_in_the_asked_order():
    asked = ["nothing.service", "kubelet.service", "kube-proxy.service", "etcd.service", "absent.service"]
    assert systemd_units.units_to_start(SHOW, asked) == [
        "nothing.service", "kube-proxy.service", "etcd.service", "absent.service"]


def test_static_units_count_as_enabled():
    show = "Id=routes.service\nUnitFileState=static\nActiveState=active\n"
    assert systemd_units.units_to_start(show, ["routes.service"]) == []


def test_output_without_ids_is_refused_with_the_fix():
    with pytest.raises(systemd_units.SystemdShowError, match="--property=Id,UnitFileState,ActiveState"):
        systemd_units.unit_states("ActiveState=active\nUnitFileState=enabled\n")
