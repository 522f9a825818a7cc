# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to issue certificates in the product (docs/development.md, "Certificates"): the pki
role. Every other role includes it; the kubernetes role keeps only its service account key
pair, which is no certificate."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The modules that make a signing request or a certificate.
CERTIFICATE_MODULES = {"community.crypto.openssl_csr", "community.crypto.openssl_csr_pipe",
                       "community.crypto.x509_certificate", "community.crypto.x509_certificate_pipe"}
KEY_MODULES = {"community.crypto.openssl_privatekey", "community.crypto.openssl_privatekey_pipe",
               "community.crypto.openssl_publickey"}


def tasks(node):
    """Every task of a parsed task file, blocks opened."""
    if isinstance(node, list):
        for item in node:
            yield from tasks(item)
    elif isinstance(node, dict):
        for key in ("block", "rescue", "always"):
            if key in node:
                yield from tasks(node[key])
        yield node


def role_tasks(exclude=("pki",)):
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml"))):
        role = path.split(os.sep)[-3]
        if role in exclude:
            continue
        with open(path) as fh:
            for task in tasks(yaml.safe_load(fh) or []):
                yield os.path.relpath(path, ROOT), task


def test_no_role_but_pki_makes_a_signing_request_or_a_certificate():
    """Except tenancy's signing requests: the cluster signs those (the CSR API), not a CA the
    pki role holds."""
    found = ["%s: %s" % (path, task.get("name")) for path, task in role_tasks()
             if CERTIFICATE_MODULES & set(task)]
    assert found == ["roles/tenancy/tasks/kubeconfigs.yml: Tenancy | Make the signing requests (CN the user, O each group)"]


def test_the_only_keys_a_role_makes_itself_are_the_service_account_key_and_tenant_keys():
    """Besides the pki role: the service account key, and tenancy's tenant keys (in memory,
    written only into the tenant's 0600 kubeconfig)."""
    found = {(path, str(task[module].get("path")))
             for path, task in role_tasks() for module in KEY_MODULES & set(task)}
    assert found == {("roles/kubernetes/tasks/pki.yml", "{{ kubernetes_ca_dir }}/sa.key"),
                     ("roles/kubernetes/tasks/pki.yml", "{{ kubernetes_ca_dir }}/sa.pub"),
                     ("roles/tenancy/tasks/kubeconfigs.yml", "None")}


def load(path):
    with open(os.path.join(ROOT, path)) as fh:
        return yaml.safe_load(fh)


def pki_includes(path):
    return {task["ansible.builtin.include_role"]["tasks_from"]: task for task in tasks(load(path))
            if task.get("ansible.builtin.include_role", {}).get("name") == "xinchuang.cloud.pki"}


def test_kubernetes_issues_on_the_first_control_plane_host_and_keeps_certificates_by_default():
    includes = pki_includes("roles/kubernetes/tasks/pki.yml")
    assert set(includes) == {"ca", "issue"}
    ca, issue = includes["ca"]["vars"], includes["issue"]["vars"]
    assert ca["pki_ca_host"] == issue["pki_ca_host"] == issue["pki_key_host"] == "{{ _kubernetes_ca_host }}"
    assert issue["pki_valid_days"] == "{{ kubernetes_cert_valid_days }}"
    assert ca["pki_ca_valid_days"] == "{{ kubernetes_ca_valid_days }}"
    # The tasks before the pki role never issued a valid certificate again: neither by default.
    assert issue["pki_renew_days"] == "{{ kubernetes_cert_renew_days }}"
    assert load("roles/kubernetes/defaults/main.yml")["kubernetes_cert_renew_days"] == 0
    spec = load("roles/kubernetes/meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert spec["kubernetes_cert_renew_days"]["default"] == 0


def dict_keys(expression):
    """The keys of the dict literals a vars/main.yml expression builds ('key': value)."""
    return set(re.findall(r"'([a-z_]+)':", expression))


def test_kubernetes_items_give_the_pki_role_every_field_it_reads():
    spec = load("roles/pki/meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    variables = load("roles/kubernetes/vars/main.yml")
    assert dict_keys(variables["_kubernetes_pki_cas"]) == set(spec["pki_cas"]["options"])
    assert dict_keys(variables["_kubernetes_pki_certificates"]) == set(spec["pki_certificates"]["options"])
