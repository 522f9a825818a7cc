# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the app store (plugins/plugin_utils/appstore/appstore.py): the catalogue's and the
inventory's faults, the install plan, missing images, the application x family matrix and what
the hidden Helm tasks did.
Documentation: <filter>.yml beside this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.appstore import appstore
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "appstore_catalogue_problems": user_errors_as_filter_errors(appstore.catalogue_problems),
            "appstore_apps_problems": user_errors_as_filter_errors(appstore.apps_problems),
            "appstore_registry_endpoint": user_errors_as_filter_errors(appstore.registry_endpoint),
            "appstore_install_plan": user_errors_as_filter_errors(appstore.install_plan),
            "appstore_plan_charts": user_errors_as_filter_errors(appstore.plan_charts),
            "appstore_image_problems": user_errors_as_filter_errors(appstore.plan_image_problems),
            "appstore_node_problems": user_errors_as_filter_errors(appstore.plan_node_problems),
            "appstore_matrix": user_errors_as_filter_errors(appstore.matrix),
            "appstore_matrix_table": user_errors_as_filter_errors(appstore.matrix_table),
            "appstore_installed_families": user_errors_as_filter_errors(appstore.installed_families),
            "appstore_helm_outcome": user_errors_as_filter_errors(appstore.helm_outcome),
        }
