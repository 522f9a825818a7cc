# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the cluster network arithmetic (plugins/plugin_utils/network/cluster_net.py) and the
Pod network's decisions (plugins/plugin_utils/network/pod_network.py).

Documentation: <filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.network import cluster_net
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.network import pod_network
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "cidr_host": user_errors_as_filter_errors(cluster_net.cidr_host),
            "cidrs_overlap": user_errors_as_filter_errors(cluster_net.cidrs_overlap),
            "cidr_contains": user_errors_as_filter_errors(cluster_net.cidr_contains),
            "node_interface": user_errors_as_filter_errors(pod_network.node_interface),
            "pod_range_problems": user_errors_as_filter_errors(pod_network.pod_range_problems),
            "pod_mtu": user_errors_as_filter_errors(pod_network.pod_mtu),
            "cni_conf_file": user_errors_as_filter_errors(pod_network.cni_conf_file),
            "cni_switch_refusal": user_errors_as_filter_errors(pod_network.cni_switch_refusal),
            "vxlan_port_problems": user_errors_as_filter_errors(pod_network.vxlan_port_problems),
            "flannel_net_conf": user_errors_as_filter_errors(pod_network.flannel_net_conf),
        }
