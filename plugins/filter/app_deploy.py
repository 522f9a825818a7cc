# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the rules of an application rolled out across CPU families
(plugins/module_utils/operations/app_deploy.py), for playbooks/deploy_app.yml. Documentation: <filter>.yml
beside this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import app_deploy
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "app_deploy_objects": user_errors_as_filter_errors(app_deploy.objects),
            "app_deploy_route": user_errors_as_filter_errors(app_deploy.route),
        }
