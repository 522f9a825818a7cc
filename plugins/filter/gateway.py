# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the Gateway API data plane's rules (plugins/module_utils/operations/gateway.py), for the
role xinchuang.cloud.gateway and the sample application (playbooks/sample_app.yml). Documentation: <filter>.yml beside this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import gateway
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "gateway_problems": user_errors_as_filter_errors(gateway.problems),
            "gateway_objects": user_errors_as_filter_errors(gateway.objects),
            "gateway_node_goarches": user_errors_as_filter_errors(gateway.node_goarches),
            "gateway_image_check": user_errors_as_filter_errors(gateway.image_check),
            "gateway_metrics_service": user_errors_as_filter_errors(gateway.metrics_service),
            "gateway_sample_app_objects": user_errors_as_filter_errors(gateway.sample_app_objects),
            "gateway_sample_app_route": user_errors_as_filter_errors(gateway.sample_app_route),
        }
