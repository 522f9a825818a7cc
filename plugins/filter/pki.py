# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the pki role (the certificate checks live in plugins/module_utils/pki/certificates.py,
where the registry roles' checks of given certificates read them too).

Documentation: <filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.pki import certificates as model
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


class FilterModule(object):
    def filters(self):
        return {
            "cert_days_left": user_errors_as_filter_errors(model.cert_days_left),
        }
