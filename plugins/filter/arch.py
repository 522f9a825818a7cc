# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the architecture model (plugins/module_utils/model/arch.py).

Thin views: every answer comes from the one table in module_utils; roles and templates
call these instead of spelling architecture names. Documentation: <filter>.yml beside this.
The OS classification has its own model and filter file (os_model.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch as model
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


def goarch(name, byteorder=None):
    """Any known architecture name -> GOARCH."""
    return model.goarch(name, byteorder)


def oci_platform(name, variant=True):
    """Any known architecture name -> OCI platform (linux/arm64/v8, linux/loong64)."""
    return model.oci_platform(name, with_variant=variant)


def arch_family(name, byteorder=None):
    """Any known architecture name -> c86 / arm / loongarch / sw64 / mips."""
    return model.family_of(name, byteorder)


def cpu_vendor(facts):
    """Host facts -> hygon / intel / amd / phytium / kunpeng / loongson / sunway / unknown."""
    return model.cpu_vendor(facts)


class FilterModule(object):
    def filters(self):
        return {
            "goarch": user_errors_as_filter_errors(goarch),
            "oci_platform": user_errors_as_filter_errors(oci_platform),
            "arch_family": user_errors_as_filter_errors(arch_family),
            "cpu_vendor": user_errors_as_filter_errors(cpu_vendor),
        }
