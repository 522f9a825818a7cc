#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: harbor_robot
short_description: Manage robot accounts of Harbor projects
version_added: 0.2.0
description:
  - Makes a project robot account of Harbor (the credentials CI pushes with and nodes pull
    with) look as the task says, through Harbor's REST API v2.0 (robot accounts v2).
  - The secret exists only in the answer that creates the robot (or rotates its secret);
    the module returns it then as RV(secret), and never again. Register the result with
    C(no_log) and store the secret at once (a vault, a Kubernetes pull secret).
  - Changing O(permissions), O(duration_days), O(description) or O(disable) updates the
    robot in place and keeps its secret; a new secret is made only with O(rotate=true).
  - The project must exist; a robot for a missing project is an error naming it, before any
    write.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.harbor_auth
  - xinchuang.cloud.attributes
options:
  name:
    description:
      - Robot name inside the project, lower case (Harbor names the account
        C(robot$<project>+<name>)).
    type: str
    required: true
  project:
    description: The project the robot belongs to and gets permissions on.
    type: str
    required: true
  permissions:
    description:
      - "What the robot may do in O(project), each a Harbor resource and action, for example
        C({resource: repository, action: pull}) and C({resource: repository, action: push}).
        Required with O(state=present); compared as a set."
    type: list
    elements: dict
    suboptions:
      resource:
        description: A Harbor resource (C(repository), C(artifact), C(tag), C(scan), ...).
        type: str
        required: true
      action:
        description: An action on it (C(pull), C(push), C(read), C(list), C(create), ...).
        type: str
        required: true
  duration_days:
    description:
      - Days the robot is valid after its creation; C(-1) never expires (the default, so
        that node pull secrets do not lapse). With a number of days, schedule O(rotate=true).
    type: int
  description:
    description: Free text shown in Harbor's portal.
    type: str
  disable:
    description: Disable the robot without deleting it.
    type: bool
  rotate:
    description:
      - Make Harbor generate a new secret for an existing robot; returned as RV(secret). Not
        idempotent by nature, so the task always reports a change.
    type: bool
    default: false
  state:
    description: V(absent) deletes the robot.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: xinchuang.cloud.harbor_project
"""

EXAMPLES = r"""
- name: Robot CI pushes the platform's images with
  xinchuang.cloud.harbor_robot:
    url: https://harbor.example.com
    username: admin
    password: "{{ harbor_admin_password }}"
    name: ci
    project: platform
    permissions:
      - {resource: repository, action: pull}
      - {resource: repository, action: push}
      - {resource: artifact, action: read}
  delegate_to: localhost
  register: ci_robot
  no_log: true

- name: Keep the secret (it is only shown once)
  ansible.builtin.copy:
    content: "{{ ci_robot.secret }}"
    dest: /etc/xinchuang/secrets/harbor-ci
    mode: "0600"
  delegate_to: localhost
  when: ci_robot.secret is defined
  no_log: true

- name: Rotate the pull robot's secret
  xinchuang.cloud.harbor_robot:
    url: https://harbor.example.com
    username: admin
    password: "{{ harbor_admin_password }}"
    name: nodes
    project: platform
    permissions: [{resource: repository, action: pull}]
    rotate: true
  delegate_to: localhost
  register: nodes_robot
  no_log: true
"""

RETURN = r"""
robot:
  description: The robot after the task (as it would be, in check mode); null when absent.
  returned: always
  type: dict
  sample:
    id: 7
    name: robot$platform+ci
    description: ""
    duration_days: -1
    disable: false
    expires_at: -1
    permissions: [{resource: repository, action: pull}, {resource: repository, action: push}]
secret:
  description:
    - The robot's secret, only when the task created the robot or rotated its secret.
  returned: when created or rotated (not in check mode)
  type: str
  sample: 5a6b7c8d9e0fA1B2C3D4
changes:
  description: The fields that were (would be) changed; C(secret) when rotated.
  returned: state is present
  type: list
  elements: str
  sample: [permissions]
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
    RobotReconciler)


def main():
    harbor_api.run_module(
        dict(
            name=dict(type="str", required=True),
            project=dict(type="str", required=True),
            permissions=dict(type="list", elements="dict", options=dict(
                resource=dict(type="str", required=True),
                action=dict(type="str", required=True))),
            duration_days=dict(type="int"),
            description=dict(type="str"),
            disable=dict(type="bool"),
            rotate=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        RobotReconciler.for_module,
        required_if=[("state", "present", ["permissions"])])


if __name__ == "__main__":
    main()
