# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the architecture model (plugins/module_utils/arch.py).

Thin views: every answer comes from the one table in module_utils; roles and templates
call these instead of spelling architecture names. Documentation: <filter>.yml beside this.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.xinchuang.cloud.plugins.module_utils import arch as model
from ansible_collections.xinchuang.cloud.plugins.module_utils.errors import XinchuangError


def _wrap(func):
    def filter_(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except XinchuangError as exc:
            raise AnsibleFilterError(str(exc))
    filter_.__name__ = func.__name__
    filter_.__doc__ = func.__doc__
    return filter_


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


def os_family(facts):
    """Host facts -> the collection's OS classification as a dict."""
    return dict(model.classify_os(facts)._asdict())


class FilterModule(object):
    def filters(self):
        return {
            "goarch": _wrap(goarch),
            "oci_platform": _wrap(oci_platform),
            "arch_family": _wrap(arch_family),
            "cpu_vendor": _wrap(cpu_vendor),
            "os_family": _wrap(os_family),
        }
