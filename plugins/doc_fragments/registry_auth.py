# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options of every registry module (registry_argument_spec() in
    # plugins/module_utils/registry/client.py). Set them once for the group:
    #   module_defaults: {group/xinchuang.cloud.registry: {registry: ..., username: ...}}
    DOCUMENTATION = r"""
options:
  registry:
    description:
      - The registry, as C(host[:port]) (HTTPS), for example C(harbor.example.com) or
        C(127.0.0.1:5000).
      - A C(http://) prefix speaks plain HTTP, for lab registries without TLS only; a
        C(https://) prefix is the same as none.
    type: str
    required: true
  username:
    description:
      - User for HTTP basic authentication, or for the bearer-token flow that Harbor and
        distribution with a token server ask for. Without it the registry is read
        anonymously.
      - Required together with O(password).
    type: str
  password:
    description:
      - Password or robot-account token of O(username). Never logged.
    type: str
  ca_path:
    description:
      - PEM file of the CA that signed the registry's certificate (and the token server's).
      - Passed with every request, so it wins over E(REQUESTS_CA_BUNDLE); without it the
        system trust store (or that variable) applies.
    type: path
  validate_certs:
    description:
      - Verify the registry's TLS certificate. Set V(false) only for a lab.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each answer of the registry.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is repeated after HTTP 429, 500, 502, 503, 504, a timeout
        or a dropped connection. Waits grow 0.5, 1, 2, 4 s ... (at most 30 s); a
        C(Retry-After) header of the registry decides the wait instead (at most 60 s).
    type: int
    default: 3
requirements:
  - python >= 3.9
  - requests
"""
