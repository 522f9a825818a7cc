# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the Ceph storage rules (plugins/module_utils/storage/ceph.py).

Documentation: <filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.storage import ceph as storage_ceph
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "storage_ceph_problems": user_errors_as_filter_errors(storage_ceph.settings_problems),
            "storage_ceph_cluster_problems": user_errors_as_filter_errors(storage_ceph.cluster_problems),
            "storage_ceph_class_clashes": user_errors_as_filter_errors(storage_ceph.class_clashes),
            "storage_ceph_objects": user_errors_as_filter_errors(storage_ceph.cluster_objects),
            "storage_ceph_secrets": user_errors_as_filter_errors(storage_ceph.secrets),
            "storage_ceph_images": user_errors_as_filter_errors(storage_ceph.images_of),
        }
