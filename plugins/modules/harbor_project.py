#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: harbor_project
short_description: Create, update and delete Harbor projects
version_added: 0.2.0
description:
  - Makes a Harbor project look as the task says, through Harbor's REST API v2.0, that is
    its visibility, automatic vulnerability scan on push, storage quota, and whether it is a
    proxy cache of a registry endpoint.
  - Options left out are not managed (Harbor's value stays); a new project is private,
    without automatic scan and with Harbor's default quota unless told otherwise.
  - "Everything that could refuse the change is checked before the first write: the name
    (Harbor's names are lower case), a quota below what the project already stores (Harbor
    would accept it and then refuse every push), a proxy cache registry that Harbor cannot
    change after creation or that does not exist."
  - Idempotent; a run that changes nothing costs two GET requests (the project and its
    summary, which holds the quota and the proxy cache endpoint and which the project's
    administrators may read; quotas are set by Harbor system administrators only).
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.harbor_auth
  - xinchuang.cloud.attributes
options:
  name:
    description:
      - Project name; Harbor allows lower case letters and digits with C(.), C(_) or C(-)
        between them.
    type: str
    required: true
  public:
    description:
      - Whether anyone may pull from the project without logging in.
    type: bool
  storage_quota:
    description:
      - Storage quota, in binary units (C(10G) is 10 GiB; C(512M), C(1T), C(1073741824)
        bytes), or C(-1) for unlimited.
      - A quota below the project's current usage is refused, naming both.
    type: str
  proxy_cache_registry:
    description:
      - Name of a registry endpoint (M(xinchuang.cloud.harbor_registry)) this project is a
        proxy cache of. Harbor fixes it when the project is created; a different value for an
        existing project is an error that says how to recreate it.
    type: str
  auto_scan:
    description:
      - Scan images for vulnerabilities when they are pushed.
    type: bool
  state:
    description:
      - V(absent) deletes the project; Harbor refuses while it holds repositories, and the
        module says so before trying.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: xinchuang.cloud.harbor_registry
  - module: xinchuang.cloud.harbor_robot
  - module: xinchuang.cloud.harbor_info
"""

EXAMPLES = r"""
- name: The platform's project, private, 200 GiB, scanned on push
  xinchuang.cloud.harbor_project:
    url: https://harbor.example.com
    username: admin
    password: "{{ harbor_admin_password }}"
    ca_path: /etc/pki/xinchuang/ca.crt
    name: platform
    public: false
    storage_quota: 200G
    auto_scan: true
  delegate_to: localhost

- name: A proxy cache of Docker Hub for every family's nodes
  xinchuang.cloud.harbor_project:
    name: dockerhub-cache
    public: true
    proxy_cache_registry: docker-hub
    storage_quota: "-1"
  module_defaults:
    group/xinchuang.cloud.harbor:
      url: https://harbor.example.com
      username: admin
      password: "{{ harbor_admin_password }}"
  delegate_to: localhost
"""

RETURN = r"""
project:
  description: The project after the task (as it would be, in check mode); null when absent.
  returned: always
  type: dict
  sample:
    name: platform
    project_id: 3
    public: false
    auto_scan: true
    storage_quota: 214748364800
    storage_quota_human: 200G
    storage_used: 5452595
    proxy_cache_registry: null
    repo_count: 12
changes:
  description: The fields that were (would be) changed.
  returned: state is present
  type: list
  elements: str
  sample: [storage_quota]
requests:
  description: HTTP requests sent to Harbor.
  returned: always
  type: int
  sample: 2
writes:
  description: How many of them were writes.
  returned: always
  type: int
  sample: 0
"""

from ansible_collections.xinchuang.cloud.plugins.module_utils.harbor import api as harbor_api
from ansible_collections.xinchuang.cloud.plugins.module_utils.harbor.reconcile import (
    ProjectReconciler)


def main():
    harbor_api.run_module(
        dict(
            name=dict(type="str", required=True),
            public=dict(type="bool"),
            storage_quota=dict(type="str"),
            proxy_cache_registry=dict(type="str"),
            auto_scan=dict(type="bool"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        ProjectReconciler.for_module)


if __name__ == "__main__":
    main()
