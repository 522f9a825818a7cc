# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the tenancy rules (plugins/plugin_utils/tenancy/tenancy.py), for the role
xinchuang.cloud.tenancy. Documentation: <filter>.yml beside this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.tenancy import tenancy
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "tenancy_problems": user_errors_as_filter_errors(tenancy.project_problems),
            "tenancy_objects": user_errors_as_filter_errors(tenancy.project_objects),
            "tenancy_stale_objects": user_errors_as_filter_errors(tenancy.stale_objects),
            "tenancy_namespace_clashes": user_errors_as_filter_errors(tenancy.namespace_clashes),
            "tenancy_removals": user_errors_as_filter_errors(tenancy.removed_objects),
            "tenancy_kubeconfig_requests": user_errors_as_filter_errors(tenancy.kubeconfig_requests),
            "tenancy_kubeconfigs_to_issue": user_errors_as_filter_errors(tenancy.kubeconfigs_to_issue),
            "tenancy_csrs": user_errors_as_filter_errors(tenancy.csr_objects),
            "tenancy_signed_certificates": user_errors_as_filter_errors(tenancy.signed_certificates),
            "tenancy_kubeconfig": user_errors_as_filter_errors(tenancy.tenant_kubeconfig),
            "tenancy_admin_cluster": user_errors_as_filter_errors(tenancy.admin_cluster),
            "family_quota_objects": user_errors_as_filter_errors(tenancy.family_quota_objects),
        }
