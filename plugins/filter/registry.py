# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the registry role (plugins/plugin_utils/registry/config.py, and the certificate
checks of plugins/module_utils/pki/certificates.py).

Thin views for the xinchuang.cloud.registry role's tasks and templates; documentation:
<filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.pki import certificates
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.registry import config as model
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


def registry_tls_problems(cert, key, names, ca="", prefix="registry"):
    """Server certificate, key, names it must carry, optional CA -> list of problems; the
    messages name the variables <prefix>_tls_cert, ... (the harbor role passes 'harbor')."""
    return certificates.tls_problems(cert, key, names, ca_pem=ca, prefix=prefix)


def registry_ca_problems(ca_cert, ca_key, passphrase=""):
    """The issuing CA's certificate and key (and its passphrase) -> list of problems."""
    return certificates.ca_problems(ca_cert, ca_key, passphrase)


def registry_host_problems(probe, port, storage_path, foreign_paths=None, unit=""):
    """Parsed host probe -> list of what stops the role on the host."""
    return model.host_problems(probe, port, storage_path, foreign_paths, unit)


class FilterModule(object):
    def filters(self):
        return {
            "registry_users": user_errors_as_filter_errors(model.check_users),
            "registry_htpasswd_input": user_errors_as_filter_errors(model.htpasswd_input),
            "registry_san": user_errors_as_filter_errors(certificates.san_entries),
            "registry_tls_problems": user_errors_as_filter_errors(registry_tls_problems),
            "registry_cert_days_left": user_errors_as_filter_errors(certificates.cert_days_left),
            "registry_ca_problems": user_errors_as_filter_errors(registry_ca_problems),
            "registry_probe": user_errors_as_filter_errors(model.parse_probe),
            "registry_host_problems": user_errors_as_filter_errors(registry_host_problems),
            "registry_distribution_config": user_errors_as_filter_errors(model.distribution_config),
        }
