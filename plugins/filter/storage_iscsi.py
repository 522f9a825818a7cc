# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the iSCSI storage rules (plugins/plugin_utils/storage/iscsi.py).

Documentation: <filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.storage import iscsi as storage_iscsi
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


def storage_iscsi_problems(targets, backend="tgt"):
    return storage_iscsi.target_problems(targets, backend)


def storage_iscsi_target_plan(probe, requested, package_family):
    return storage_iscsi.target_plan(storage_iscsi.choose_backend(requested, probe), package_family)


def storage_iscsi_objects(targets, portal, namespace="kube-system", storage_class="", port=3260):
    return storage_iscsi.cluster_objects(targets, portal, namespace, storage_class, port)


class FilterModule(object):
    def filters(self):
        return {
            "storage_iscsi_problems": user_errors_as_filter_errors(storage_iscsi_problems),
            "storage_iscsi_target_plan": user_errors_as_filter_errors(storage_iscsi_target_plan),
            "storage_iscsi_tgt_config": user_errors_as_filter_errors(storage_iscsi.tgt_config),
            "storage_iscsi_lio_config": user_errors_as_filter_errors(storage_iscsi.lio_config),
            "storage_iscsi_tgt_drift": user_errors_as_filter_errors(storage_iscsi.tgt_drift),
            "storage_iscsi_backing_files": user_errors_as_filter_errors(storage_iscsi.backing_files),
            "storage_iscsi_initiator_packages": user_errors_as_filter_errors(storage_iscsi.initiator_packages),
            "storage_iscsi_initiator_name": user_errors_as_filter_errors(storage_iscsi.initiator_name),
            "storage_iscsi_initiator_clashes": user_errors_as_filter_errors(storage_iscsi.initiator_name_clashes),
            "storage_iscsi_iscsid_settings": user_errors_as_filter_errors(storage_iscsi.iscsid_settings),
            "storage_iscsi_objects": user_errors_as_filter_errors(storage_iscsi_objects),
            "storage_iscsi_chap_problems": user_errors_as_filter_errors(storage_iscsi.chap_problems),
            "storage_iscsi_pv_clashes": user_errors_as_filter_errors(storage_iscsi.pv_clashes),
        }
