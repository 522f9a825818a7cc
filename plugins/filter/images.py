# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over image indexes (plugins/module_utils/registry/manifest_index.py): which platforms a
set of nodes needs, and which images cannot serve them. Documentation: <filter>.yml beside
this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "image_node_platforms": user_errors_as_filter_errors(manifest_index.node_platforms),
            "image_platform_problems": user_errors_as_filter_errors(manifest_index.node_image_problems),
        }
