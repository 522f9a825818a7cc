# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that build xinchuang.cloud.host_files entries (plugins/module_utils/common/host_files.py).

Documentation: <filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.common import host_files
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "host_file_entries": user_errors_as_filter_errors(host_files.file_entries),
            "host_dir_entries": user_errors_as_filter_errors(host_files.dir_entries),
            "host_template_entries": user_errors_as_filter_errors(host_files.template_entries),
        }
