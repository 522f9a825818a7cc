# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the versions installed binaries print (the kubernetes role's check after an
install) and of the cluster upgrade (the skew checks and the plan in the cluster's order): thin
views of plugins/plugin_utils/cluster/upgrade.py.

Documentation: <filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import upgrade
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "upgrade_installed_versions": user_errors_as_filter_errors(upgrade.installed_versions),
            "upgrade_plan": user_errors_as_filter_errors(upgrade.upgrade_plan),
            "installed_binaries_not_at": user_errors_as_filter_errors(upgrade.binaries_not_at),
            "upgrade_running_version_problems": user_errors_as_filter_errors(upgrade.running_version_problems),
        }
