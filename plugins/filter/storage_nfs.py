# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the NFS rules (plugins/plugin_utils/storage/nfs.py), for the role
xinchuang.cloud.storage_nfs. Documentation: <filter>.yml beside this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.storage import nfs as storage_nfs
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "storage_nfs_problems": user_errors_as_filter_errors(storage_nfs.export_problems),
            "storage_nfs_packages": user_errors_as_filter_errors(storage_nfs.server_packages),
            "storage_nfs_client_packages": user_errors_as_filter_errors(storage_nfs.client_packages),
            "storage_nfs_exports_file": user_errors_as_filter_errors(storage_nfs.exports_file),
            "storage_nfs_ganesha_config": user_errors_as_filter_errors(storage_nfs.ganesha_config),
            "storage_nfs_conf": user_errors_as_filter_errors(storage_nfs.nfs_conf),
            "storage_nfs_classes": user_errors_as_filter_errors(storage_nfs.storage_classes),
            "storage_nfs_class_clashes": user_errors_as_filter_errors(storage_nfs.class_clash_problems),
            "storage_nfs_csi_objects": user_errors_as_filter_errors(storage_nfs.csi_objects),
            "storage_nfs_static_directories": user_errors_as_filter_errors(storage_nfs.static_directories),
            "storage_nfs_static_volumes": user_errors_as_filter_errors(storage_nfs.static_volumes),
            "storage_nfs_static_volume_clashes": user_errors_as_filter_errors(storage_nfs.static_volume_clashes),
            "storage_nfs_host_mounts": user_errors_as_filter_errors(storage_nfs.host_mounts),
        }
