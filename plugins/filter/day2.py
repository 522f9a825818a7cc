# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the day-2 playbooks (etcd_backup.yml, etcd_restore.yml, certs_renew.yml and
site.yml's warning about certificates near their end): thin views of
plugins/plugin_utils/cluster/day2.py.

Documentation: <filter>.yml beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import day2
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


def etcd_snapshot_prune(names, prefix, keep):
    return day2.snapshots_to_prune(names, prefix, keep)


def etcd_restore_problems(snapshot, exists, sha256, expected, etcd_hosts, play_hosts):
    return day2.restore_problems(snapshot, exists, sha256, expected, etcd_hosts, play_hosts)


def certificates_renewal(listing, ca_dir, days, valid_days=0):
    """What certs_renew.yml and site.yml's warning need from one listing of the CA directory."""
    certs = day2.issued_certificates(listing, ca_dir)
    expiring = day2.certificates_expiring(certs, days)
    return {
        "certificates": [dict((k, v) for k, v in c.items() if k != "pem") for c in certs],
        "expiring": ["%s/%s" % (c["node"], c["name"]) for c in expiring],
        "report": day2.expiry_report(certs, days),
        "items": day2.pki_items([c for c in expiring if c["ca"]], ca_dir),
        # Renewed by no one here: not signed by one of the role's CAs (certs_renew.yml refuses).
        "foreign": ["%s/%s" % (c["node"], c["name"]) for c in expiring if not c["ca"]],
        "valid_days": day2.renewal_valid_days(expiring or certs, valid_days),
        "pem": dict(("%s/%s" % (c["node"], c["name"]), c["pem"]) for c in certs),
    }


def certificates_services(changed_files, is_etcd, is_control_plane, is_node):
    services = day2.services_to_restart(changed_files, day2.host_services(is_etcd, is_control_plane, is_node))
    return [{"service": s, "unit": day2.SERVICE_UNITS[s]} for s in services]


class FilterModule(object):
    def filters(self):
        return {
            "etcd_unit_flags": user_errors_as_filter_errors(day2.etcd_unit_flags),
            "etcd_client": user_errors_as_filter_errors(day2.etcd_client),
            "etcd_snapshot_name": user_errors_as_filter_errors(day2.snapshot_name),
            "etcd_snapshot_prune": user_errors_as_filter_errors(etcd_snapshot_prune),
            "etcd_checksum_line": user_errors_as_filter_errors(day2.checksum_line),
            "etcd_checksum_of": user_errors_as_filter_errors(day2.checksum_of),
            "etcd_snapshot_status": user_errors_as_filter_errors(day2.snapshot_status),
            "etcd_restore_problems": user_errors_as_filter_errors(etcd_restore_problems),
            "etcd_restore_decision": user_errors_as_filter_errors(day2.restore_decision),
            "etcd_restore_plan": user_errors_as_filter_errors(day2.restore_plan),
            "certificates_renewal": user_errors_as_filter_errors(certificates_renewal),
            "certificates_services": user_errors_as_filter_errors(certificates_services),
            "certificates_host_files": user_errors_as_filter_errors(day2.host_certificate_files),
        }
