# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options of every Kubernetes module (plugins/module_utils/cluster/kube.py).
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig as a dictionary.
      - Falls back to E(K8S_AUTH_KUBECONFIG), then the in-cluster service account, then
        C(~/.kube/config).
    type: raw
  context:
    description:
      - Context of the kubeconfig to use. Falls back to E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the API server, for example C(https://127.0.0.1:6443). Falls back to
        E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for the API server. Falls back to E(K8S_AUTH_API_KEY). Never logged.
    type: str
  ca_cert:
    description:
      - CA bundle that signed the API server's certificate. Falls back to E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Client certificate for mutual TLS. Falls back to E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Key of O(client_cert). Falls back to E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Verify the API server's TLS certificate. On unless set to V(false) here or in
        E(K8S_AUTH_VERIFY_SSL); the kubeconfig's own setting applies when unset.
    type: bool
    aliases: [verify_ssl]
requirements:
  - python >= 3.9
  - kubernetes >= 24.2.0
"""
