# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the database engine rules (plugins/module_utils/database/engine.py) and the
kubernetes form's (plugins/plugin_utils/database/kingbase_k8s.py), for the role xinchuang.cloud.kingbase.
Documentation: <filter>.yml beside this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.database import engine as db_engine
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.database import kingbase_k8s
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "kingbase_choice_problems": user_errors_as_filter_errors(db_engine.choice_problems),
            "kingbase_input_problems": user_errors_as_filter_errors(db_engine.input_problems),
            "kingbase_host_problems": user_errors_as_filter_errors(db_engine.host_problems),
            "kingbase_conf_lines": user_errors_as_filter_errors(db_engine.conf_lines),
            "kingbase_conf_action": user_errors_as_filter_errors(db_engine.conf_action),
            "kingbase_hba_block": user_errors_as_filter_errors(db_engine.hba_block),
            "kingbase_k8s_problems": user_errors_as_filter_errors(kingbase_k8s.input_problems),
            "kingbase_k8s_cluster_problems": user_errors_as_filter_errors(kingbase_k8s.cluster_problems),
            "kingbase_k8s_image_problems": user_errors_as_filter_errors(kingbase_k8s.image_problems),
            "kingbase_k8s_plan": user_errors_as_filter_errors(kingbase_k8s.plan),
            "kingbase_k8s_objects": user_errors_as_filter_errors(kingbase_k8s.objects),
            "kingbase_k8s_secrets": user_errors_as_filter_errors(kingbase_k8s.secrets),
            "kingbase_k8s_conf_change": user_errors_as_filter_errors(kingbase_k8s.conf_change),
        }
