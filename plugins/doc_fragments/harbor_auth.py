# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options of every Harbor module (harbor_argument_spec() in
    # plugins/module_utils/harbor/api.py). Set them once for the group:
    #   module_defaults: {group/xinchuang.cloud.harbor: {url: ..., username: ..., password: ...}}
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Harbor's address, C(https://harbor.example.com) (a bare host means HTTPS); the API is
        asked under C(/api/v2.0).
    type: str
    required: true
  username:
    description:
      - Harbor user (or robot account, by its full name C(robot$project+name)) for HTTP basic
        authentication. Most changes need a Harbor system administrator; robots of a project
        may be managed by that project's administrators.
      - Required together with O(password).
    type: str
  password:
    description:
      - Password (or robot secret) of O(username). Never logged.
    type: str
  ca_path:
    description:
      - PEM file of the CA that signed Harbor's certificate; passed with every request, so it
        wins over E(REQUESTS_CA_BUNDLE).
    type: path
  validate_certs:
    description:
      - Verify Harbor's TLS certificate. Set V(false) only for a lab.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each answer of Harbor.
    type: float
    default: 30
  retries:
    description:
      - How many times a read or an update is repeated after HTTP 429, 5xx, a timeout or a
        dropped connection (never a create, which could then happen twice).
    type: int
    default: 3
requirements:
  - python >= 3.9
  - requests
notes:
  - Uses Harbor's REST API v2.0 (Harbor 2.x). The module keeps no session cookie, so Harbor's
    CSRF protection of browser sessions does not apply to it.
"""
