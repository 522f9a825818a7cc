#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: harbor_registry
short_description: Manage Harbor's registry endpoints (for proxy cache and replication)
version_added: 0.2.0
description:
  - Makes a registry endpoint of Harbor (the upstream a proxy cache project pulls from, or a
    replication target) look as the task says, through Harbor's REST API v2.0.
  - Before creating an endpoint or changing its URL, credentials or TLS setting, Harbor is
    asked to reach it (C(POST /registries/ping)); an endpoint Harbor cannot reach is an
    error naming the URL, and nothing is written.
  - Harbor never gives a stored secret back, so O(access_secret) is sent when the endpoint is
    created and, with O(update_secret=always), on every run (which then reports a change).
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.harbor_auth
  - xinchuang.cloud.attributes
options:
  name:
    description: Name of the endpoint in Harbor; proxy cache projects refer to it by it.
    type: str
    required: true
  type:
    description:
      - Registry type as Harbor names its adapters, for example C(docker-registry) (CNCF
        distribution and most mirrors), C(harbor), C(docker-hub). Checked against the list
        the Harbor itself supports before creating.
      - Required to create an endpoint; Harbor cannot change it afterwards.
    type: str
  endpoint_url:
    description:
      - URL of the upstream registry, with its scheme, for example
        C(https://registry-1.docker.io). Required with O(state=present).
    type: str
  access_key:
    description: User name (or access key) Harbor logs in to the upstream with.
    type: str
  access_secret:
    description: Password (or secret) of O(access_key). Never logged.
    type: str
  update_secret:
    description:
      - V(on_create) sends O(access_secret) only when creating the endpoint; V(always) sends
        it on every run (Harbor cannot show the stored one to compare).
    type: str
    choices: [on_create, always]
    default: on_create
  insecure:
    description:
      - Let Harbor skip verifying the upstream's TLS certificate.
    type: bool
  description:
    description: Free text shown in Harbor's portal.
    type: str
  state:
    description:
      - V(absent) deletes the endpoint; Harbor refuses while a proxy cache project or a
        replication rule uses it.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: xinchuang.cloud.harbor_project
"""

EXAMPLES = r"""
- name: Docker Hub as an upstream for proxy cache projects
  xinchuang.cloud.harbor_registry:
    url: https://harbor.example.com
    username: admin
    password: "{{ harbor_admin_password }}"
    name: docker-hub
    type: docker-hub
    endpoint_url: https://hub.docker.com
    access_key: "{{ dockerhub_user }}"
    access_secret: "{{ dockerhub_token }}"
  delegate_to: localhost
  no_log: true

- name: A domestic mirror (CNCF distribution)
  xinchuang.cloud.harbor_registry:
    url: https://harbor.example.com
    username: admin
    password: "{{ harbor_admin_password }}"
    name: mirror-cn
    type: docker-registry
    endpoint_url: https://mirror.example.cn
  delegate_to: localhost
"""

RETURN = r"""
registry:
  description: The endpoint after the task (as it would be, in check mode); null when absent.
  returned: always
  type: dict
  sample:
    id: 2
    name: mirror-cn
    type: docker-registry
    endpoint_url: https://mirror.example.cn
    access_key: null
    has_secret: false
    insecure: false
    description: ""
    status: healthy
changes:
  description: The fields that were (would be) changed; C(access_secret) when it was sent.
  returned: always
  type: list
  elements: str
  sample: [endpoint_url]
requests:
  description: HTTP requests sent to Harbor.
  returned: always
  type: int
  sample: 1
writes:
  description: How many of them changed something (the ping, a POST that changes nothing, is not counted).
  returned: always
  type: int
  sample: 0
"""

from ansible_collections.xinchuang.cloud.plugins.module_utils.harbor import api as harbor_api
from ansible_collections.xinchuang.cloud.plugins.module_utils.harbor.reconcile import (
    RegistryReconciler)


def main():
    harbor_api.run_module(
        dict(
            name=dict(type="str", required=True),
            type=dict(type="str"),
            endpoint_url=dict(type="str"),
            access_key=dict(type="str", no_log=False),
            access_secret=dict(type="str", no_log=True),
            update_secret=dict(type="str", choices=["on_create", "always"],
                               default="on_create"),
            insecure=dict(type="bool"),
            description=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        RegistryReconciler.for_module,
        required_if=[("state", "present", ["endpoint_url"])])


if __name__ == "__main__":
    main()
