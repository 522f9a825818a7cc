# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the operating-system model (plugins/plugin_utils/model/os_model.py).

Thin views: roles pick their OS vars and package manager from this classification instead
of branching on ansible_os_family, which is wrong for several domestic systems.
Documentation: <filter>.yml beside this.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.model import os_model as model
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


def os_family(facts):
    """Host facts -> the collection's OS classification as a dict."""
    return dict(model.classify_os(facts)._asdict())


class FilterModule(object):
    def filters(self):
        return {
            "os_family": user_errors_as_filter_errors(os_family),
        }
