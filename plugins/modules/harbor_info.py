#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: harbor_info
short_description: What a Harbor runs and holds, projects with their quota usage
version_added: 0.2.0
description:
  - Reads, through Harbor's REST API v2.0, the system information (version, authentication
    mode), the health of Harbor's components, the projects with their storage quota and
    usage, the registry endpoints, and the robot accounts (of every project, and the system
    ones).
  - Lists are read whole, a hundred items per request (Harbor's page maximum).
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.harbor_auth
  - xinchuang.cloud.attributes.INFO_MODULE
options:
  gather:
    description:
      - What to read; leave out what is not needed to save requests (robots cost one request
        per project).
    type: list
    elements: str
    choices: [system, health, projects, registries, robots]
    default: [system, health, projects, registries, robots]
seealso:
  - module: xinchuang.cloud.harbor_project
"""

EXAMPLES = r"""
- name: Quota usage of every project
  xinchuang.cloud.harbor_info:
    url: https://harbor.example.com
    username: admin
    password: "{{ harbor_admin_password }}"
    gather: [projects]
  delegate_to: localhost
  register: harbor

- name: Projects above 80 % of their quota
  ansible.builtin.debug:
    msg: "{{ item.name }} uses {{ item.storage_used }} of {{ item.storage_quota }} bytes"
  loop: "{{ harbor.projects | selectattr('storage_quota', 'gt', 0) }}"
  when: item.storage_used > 0.8 * item.storage_quota
"""

RETURN = r"""
system:
  description: Harbor's C(GET /systeminfo) (version, external URL, authentication mode ...).
  returned: when gathered
  type: dict
  sample: {harbor_version: v2.11.0-1a2b3c4, auth_mode: db_auth, external_url: https://harbor.example.com}
health:
  description: Overall status and each component's.
  returned: when gathered
  type: dict
  sample: {status: healthy, components: [{name: core, status: healthy}]}
projects:
  description: Every project the user sees, with its quota (bytes; C(-1) unlimited) and usage.
  returned: when gathered
  type: list
  elements: dict
  sample:
    - {name: platform, project_id: 3, public: false, auto_scan: true, storage_quota: 214748364800,
       storage_quota_human: 200G, storage_used: 5452595, proxy_cache_registry: null, repo_count: 12}
registries:
  description: Registry endpoints (secrets are never returned by Harbor).
  returned: when gathered
  type: list
  elements: dict
  sample:
    - {id: 1, name: docker-hub, type: docker-hub, endpoint_url: https://hub.docker.com,
       access_key: ops, has_secret: true, insecure: false, description: "", status: healthy}
robots:
  description: Robot accounts, with their level and project.
  returned: when gathered
  type: list
  elements: dict
  sample:
    - {id: 7, name: robot$platform+ci, level: project, project: platform, duration_days: -1,
       disable: false, expires_at: -1, description: "",
       permissions: [{resource: repository, action: push}]}
requests:
  description: HTTP requests sent to Harbor.
  returned: always
  type: int
  sample: 6
writes:
  description: Always 0.
  returned: always
  type: int
  sample: 0
"""

from ansible_collections.xinchuang.cloud.plugins.module_utils.harbor import api as harbor_api
from ansible_collections.xinchuang.cloud.plugins.module_utils.harbor.reconcile import (
    INFO_SUBSETS, gather_info)


def main():
    harbor_api.run_module(
        dict(gather=dict(type="list", elements="str", choices=list(INFO_SUBSETS),
                         default=list(INFO_SUBSETS))),
        lambda api, module: gather_info(api, module.params["gather"]))


if __name__ == "__main__":
    main()
