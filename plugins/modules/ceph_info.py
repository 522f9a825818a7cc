#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ceph_info
short_description: Ask an existing Ceph cluster with one user's key whether it can be used
version_added: 0.4.0
description:
  - Connects to the monitors O(monitors) as C(client.<user>) with O(key) and reads the
    cluster's fsid and pools; for each of O(pools) that exists, lists its RBD images, which
    proves the OSDs accept the user's caps on it; with O(filesystems), lists the CephFS file
    systems.
  - Fails, naming the option to fix, when no monitor answers within O(timeout) seconds or the
    monitors refuse the key. A missing pool is not a failure; it is absent from RV(pools) and
    RV(pool_access), so the caller words the verdict (the role C(xinchuang.cloud.storage_ceph)
    does).
  - Uses the C(ceph) and C(rbd) programs (Debian and EL package C(ceph-common)) rather than the
    Python bindings, which only import in the distribution's own Python. The key is written
    to a file of mode 0600 in the module's temporary directory for the duration of the run,
    never to a command line or the result.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.attributes.INFO_MODULE
requirements:
  - ceph-common (the C(ceph) and C(rbd) programs) on the host the module runs on
options:
  monitors:
    description:
      - The monitors, as C(host:port), C(host) (port 6789) or C([IPv6]:port); the CLI speaks
        msgr2 to port 3300 and msgr1 to any other.
    type: list
    elements: str
    required: true
  user:
    description: The Ceph user without its C(client.) prefix.
    type: str
    required: true
  key:
    description: The user's key, as C(ceph auth get-key client.<user>) prints it.
    type: str
    required: true
  pools:
    description: Pools whose existence and access to check.
    type: list
    elements: str
    default: []
  filesystems:
    description: Also list the CephFS file systems (the user needs C(mon 'allow r')).
    type: bool
    default: false
  timeout:
    description: Seconds to wait for the monitors and for each operation.
    type: int
    default: 10
  ceph_path:
    description: The C(ceph) program.
    type: path
    default: ceph
  rbd_path:
    description: The C(rbd) program.
    type: path
    default: rbd
seealso:
  - module: xinchuang.cloud.image_manifest_info
"""

EXAMPLES = r"""
- name: The cluster answers, the key is accepted and the pool exists
  xinchuang.cloud.ceph_info:
    monitors: [192.0.2.11:6789, 192.0.2.12:6789]
    user: kube
    key: "{{ vault_ceph_kube_key }}"
    pools: [kubernetes]
  register: ceph

- name: Stop when the pool is missing
  ansible.builtin.assert:
    that: "'kubernetes' in ceph.pool_access"
    fail_msg: "pool kubernetes is missing; the cluster has {{ ceph.pools | join(', ') }}"
"""

RETURN = r"""
fsid:
  description: The cluster's fsid (ceph-csi's usual clusterID).
  returned: success
  type: str
  sample: 4439eacf-54c6-4dd6-9822-3ef56bfad6e2
pools:
  description: Every pool of the cluster, sorted.
  returned: success
  type: list
  elements: str
  sample: [device_health_metrics, kubernetes]
pool_access:
  description:
    - For each of O(pools) that exists, C(true) when its images could be listed, else the
      error in words.
  returned: success
  type: dict
  sample: {kubernetes: true}
filesystems:
  description: The CephFS file systems with O(filesystems), else null.
  returned: success
  type: list
  elements: str
  sample: [cephfs]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xinchuang.cloud.plugins.module_utils.storage import ceph_probe
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


def argument_spec():
    return dict(
        monitors=dict(type="list", elements="str", required=True),
        user=dict(type="str", required=True),
        key=dict(type="str", required=True, no_log=True),
        pools=dict(type="list", elements="str", default=[]),
        filesystems=dict(type="bool", default=False),
        timeout=dict(type="int", default=10),
        ceph_path=dict(type="path", default="ceph"),
        rbd_path=dict(type="path", default="rbd"),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    for option in ("ceph_path", "rbd_path"):
        if os.sep not in module.params[option]:
            module.params[option] = module.get_bin_path(module.params[option], required=True)
    try:
        result = ceph_probe.probe(module.run_command, module.tmpdir, module.params)
    except XinchuangError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
