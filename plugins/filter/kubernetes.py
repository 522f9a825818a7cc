# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the control plane's flags, kubeconfigs and hardening files (the audit policy, the
encryption configuration of Secrets, the kubelet's security settings), all from
plugins/plugin_utils/cluster/components.py.

Documentation: <filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import components as kube_components
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "kube_component_flags": user_errors_as_filter_errors(kube_components.component_flags),
            "kubeconfig": user_errors_as_filter_errors(kube_components.kubeconfig),
            "kube_audit_policy": user_errors_as_filter_errors(kube_components.audit_policy),
            "kube_encryption_config": user_errors_as_filter_errors(kube_components.encryption_config),
            "kubelet_security": user_errors_as_filter_errors(kube_components.kubelet_security),
        }
