# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the harbor role (plugins/plugin_utils/harbor/config.py).

Thin views for the xinchuang.cloud.harbor role's tasks and templates; documentation:
<filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.harbor import config as model
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


def harbor_installer_problem(holdings, goarch, version, bundle_dir="bundle", host="the host"):
    """{goarch: [versions]} -> '' or why the host's installer is missing, with what is there."""
    return model.installer_problem(holdings, goarch, version, bundle_dir, host)


def harbor_upgrade_plan(installed, wanted, data_present=False):
    """Recorded version, wanted version -> {action, problems}."""
    return model.upgrade_plan(installed, wanted, data_present)


class FilterModule(object):
    def filters(self):
        return {
            "harbor_installers": user_errors_as_filter_errors(model.installers),
            "harbor_installer_problem": user_errors_as_filter_errors(harbor_installer_problem),
            "harbor_upgrade_plan": user_errors_as_filter_errors(harbor_upgrade_plan),
            "harbor_config_problems": user_errors_as_filter_errors(model.config_problems),
            "harbor_yml": user_errors_as_filter_errors(model.harbor_yml),
        }
