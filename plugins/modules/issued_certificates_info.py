#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: issued_certificates_info
short_description: Which issued certificates of a host are current, in one pass
version_added: 0.3.0
description:
  - Reads the key and certificate of each item of O(certificates) on the host it runs on (the
    key host of the C(xinchuang.cloud.pki) role's C(issue) entry point) and says whether the
    role would keep them. A certificate is current when its key is RSA 2048 and is the key the
    certificate carries, the certificate is signed by its CA (the signature is verified), its
    subject, subjectAltNames, key usage and extended key usage are those of the item, it is not
    a CA, it has at least O(renew_days) whole days left, and key and certificate have the
    modes and owners asked for.
  - "The pki role asks this first and runs its key, request and signing steps only for the
    certificates that are not current: on a rerun of a converged cluster that is one module
    start per host instead of five tasks per certificate list."
  - Reads only; no key leaves the host, and no key or certificate is returned.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.attributes.INFO_MODULE
requirements:
  - cryptography (Python library) on the host
options:
  cas:
    description:
      - Self-signed CAs, as the pki role's O(xinchuang.cloud.pki#role:ca:pki_cas) items. One is
        current when its key is RSA 2048, its certificate is of that key, signed by itself, a CA
        with that common name, and key and certificate have modes C(0600) and C(0644). Its end is
        not checked (the role keeps an existing CA).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Label of the CA in the result.
        type: str
        required: true
      key_path:
        description: Its key on this host.
        type: path
        required: true
      cert_path:
        description: Its certificate on this host.
        type: path
        required: true
      common_name:
        description: Its subject's common name.
        type: str
        required: true
  certificates:
    description: The certificates, as the pki role's O(xinchuang.cloud.pki#role:issue:pki_certificates) items.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Label of the certificate in the result.
        type: str
        required: true
      key_path:
        description: The key on this host.
        type: path
        required: true
      cert_path:
        description: The certificate on this host.
        type: path
        required: true
      ca_cert:
        description: The CA's certificate, read on this host unless O(ca_certs) has it.
        type: path
        required: true
      ca_key:
        description: Not read (the CA's key stays on the CA host); accepted so the role's items pass as they are.
        type: path
      common_name:
        description: The subject's common name.
        type: str
        required: true
      organization:
        description: The subject's organization, if any.
        type: str
      subject_alt_names:
        description: C(DNS:name) and C(IP:address) entries.
        type: list
        elements: str
        default: []
      extended_key_usage:
        description: C(serverAuth), C(clientAuth) or dotted OIDs; none means C(serverAuth).
        type: list
        elements: str
        default: []
  ca_certs:
    description:
      - PEM text of CA certificates by their O(certificates[].ca_cert) path, for a CA that lives on
        another host (read there first, for example with M(ansible.builtin.slurp)).
    type: dict
    default: {}
  renew_days:
    description: A certificate with fewer whole days left is not current (the role issues it again).
    type: int
    default: 0
  key_mode:
    description: The keys' mode, as a quoted octal string.
    type: str
    default: "0600"
  cert_mode:
    description: The certificates' mode, as a quoted octal string.
    type: str
    default: "0644"
  owner:
    description: Owner of keys and certificates (name or number); empty means any.
    type: str
    default: ""
  group:
    description: Group of keys and certificates (name or number); empty means any.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Which of the node's certificates are current
  xinchuang.cloud.issued_certificates_info:
    certificates:
      - name: kubelet
        key_path: /etc/kubernetes/pki/kubelet.key
        cert_path: /etc/kubernetes/pki/kubelet.crt
        ca_cert: /etc/kubernetes/pki/ca.crt
        common_name: system:node:node-1
        organization: system:nodes
        extended_key_usage: [clientAuth]
    renew_days: 30
  register: status

- name: Issue only what is not current
  ansible.builtin.debug:
    msg: "{{ status.stale }}"
"""

RETURN = r"""
cas:
  description: One entry per CA of O(cas), as RV(certificates).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "ca", "current": true, "problems": []}]
stale_cas:
  description: Names of the CAs the role makes (or checks again with its own modules).
  returned: always
  type: list
  elements: str
  sample: []
certificates:
  description: One entry per certificate.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The item's name.
      type: str
      sample: kubelet
    current:
      description: Whether the role would keep key and certificate as they are.
      type: bool
      sample: false
    problems:
      description: Why not (empty when current).
      type: list
      elements: str
      sample: ["certificate: names DNS:node-1"]
current:
  description: Names of the current certificates.
  returned: always
  type: list
  elements: str
  sample: [kubelet]
stale:
  description: Names of the certificates the role issues again (or for the first time).
  returned: always
  type: list
  elements: str
  sample: []
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.xinchuang.cloud.plugins.module_utils.pki import certificates as pki
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.host_files import HostFilesError, host_id


def read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (IOError, OSError):
        return None


def resolve(value, kind):
    try:
        return host_id(value, kind, kind)
    except HostFilesError:
        return -2  # matches no file: the role makes the user and writes the file


def attribute_problems(path, mode, uid, gid, what):
    st = os.stat(path)
    problems = []
    if st.st_mode & 0o7777 != int(mode, 8):
        problems.append("%s: mode %04o, not %s" % (what, st.st_mode & 0o7777, mode))
    if uid is not None and st.st_uid != uid:
        problems.append("%s: owner %d" % (what, st.st_uid))
    if gid is not None and st.st_gid != gid:
        problems.append("%s: group %d" % (what, st.st_gid))
    return problems


def main():
    cert_options = dict(
        name=dict(type="str", required=True),
        key_path=dict(type="path", required=True),
        cert_path=dict(type="path", required=True),
        ca_cert=dict(type="path", required=True),
        ca_key=dict(type="path"),
        common_name=dict(type="str", required=True),
        organization=dict(type="str"),
        subject_alt_names=dict(type="list", elements="str", default=[]),
        extended_key_usage=dict(type="list", elements="str", default=[]),
    )
    ca_options = dict(
        name=dict(type="str", required=True),
        key_path=dict(type="path", required=True),
        cert_path=dict(type="path", required=True),
        common_name=dict(type="str", required=True),
    )
    module = AnsibleModule(
        argument_spec=dict(
            cas=dict(type="list", elements="dict", default=[], options=ca_options),
            certificates=dict(type="list", elements="dict", default=[], options=cert_options),
            ca_certs=dict(type="dict", default={}),
            renew_days=dict(type="int", default=0),
            key_mode=dict(type="str", default="0600", no_log=False),
            cert_mode=dict(type="str", default="0644"),
            owner=dict(type="str", default=""),
            group=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"))
    p = module.params
    uid, gid = resolve(p["owner"], "owner"), resolve(p["group"], "group")
    out = []
    for item in p["certificates"]:
        key, cert = read(item["key_path"]), read(item["cert_path"])
        ca = p["ca_certs"].get(item["ca_cert"]) or read(item["ca_cert"])
        if key is None or cert is None or ca is None:
            problems = ["%s missing" % ", ".join(
                what for what, data in (("key", key), ("certificate", cert), ("CA certificate", ca)) if data is None)]
        else:
            problems = pki.issued_problems(cert, key, ca, item, renew_days=p["renew_days"])
            problems += attribute_problems(item["key_path"], p["key_mode"], uid, gid, "key")
            problems += attribute_problems(item["cert_path"], p["cert_mode"], uid, gid, "certificate")
        out.append({"name": item["name"], "current": not problems, "problems": problems})
    cas = []
    for item in p["cas"]:
        key, cert = read(item["key_path"]), read(item["cert_path"])
        if key is None or cert is None:
            problems = ["%s missing" % ", ".join(what for what, data in (("key", key), ("certificate", cert)) if data is None)]
        else:
            problems = pki.made_ca_problems(cert, key, item["common_name"])
            problems += attribute_problems(item["key_path"], "0600", None, None, "key")
            problems += attribute_problems(item["cert_path"], "0644", None, None, "certificate")
        cas.append({"name": item["name"], "current": not problems, "problems": problems})
    module.exit_json(changed=False, certificates=out, cas=cas, stale_cas=[c["name"] for c in cas if not c["current"]],
                     current=[c["name"] for c in out if c["current"]],
                     stale=[c["name"] for c in out if not c["current"]])


if __name__ == "__main__":
    main()
