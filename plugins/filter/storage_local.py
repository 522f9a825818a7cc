# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the storage rules (plugins/plugin_utils/storage/local.py).

Documentation: <filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.storage import local as storage_local
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


def storage_local_objects(volumes_by_node, class_name=storage_local.DEFAULT_CLASS, default=False):
    return storage_local.cluster_objects(volumes_by_node, class_name, default)


class FilterModule(object):
    def filters(self):
        return {
            "storage_local_problems": user_errors_as_filter_errors(storage_local.volume_problems),
            "storage_local_probe": user_errors_as_filter_errors(storage_local.parse_probe),
            "storage_local_disk_plan": user_errors_as_filter_errors(storage_local.disk_plan),
            "storage_local_tools": user_errors_as_filter_errors(storage_local.tools_needed),
            "storage_local_objects": user_errors_as_filter_errors(storage_local_objects),
            "storage_local_clashes": user_errors_as_filter_errors(storage_local.clash_problems),
        }
