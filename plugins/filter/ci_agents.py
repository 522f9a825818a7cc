# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the rules of the build agents per CPU family
(plugins/plugin_utils/ci_agents/ci_agents.py), for the role ci_agents. Documentation: <filter>.yml
beside this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.ci_agents import ci_agents
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "ci_agents_problems": user_errors_as_filter_errors(ci_agents.problems),
            "ci_agents_objects": user_errors_as_filter_errors(ci_agents.objects),
            "ci_agents_secrets": user_errors_as_filter_errors(ci_agents.secrets),
            "ci_agents_image_check": user_errors_as_filter_errors(ci_agents.image_check),
            "ci_agents_summary": user_errors_as_filter_errors(ci_agents.summary),
        }
