#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: image_manifest_info
short_description: Read images of a registry and the platforms each one serves
version_added: 0.1.0
description:
  - For each of O(references), reads the manifest the reference resolves to and reports its
    media type, digest and platforms with their child digests; with O(required_platforms),
    which platforms each reference misses.
  - This is the preflight "every image of the catalogue exists for every architecture of the
    inventory" that roles run before they deploy.
  - One C(GET) per index, two for a single-platform image (manifest and config); at most
    O(concurrency) requests in flight over one keep-alive connection pool (the Python
    C(requests) library; see M(xinchuang.cloud.image_manifest) for why).
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.registry_auth
  - xinchuang.cloud.attributes.info_module
options:
  references:
    description:
      - Images to read, as C(repository:tag) or C(repository@sha256:...); a leading
        C(registry/) equal to O(registry) is accepted.
    type: list
    elements: str
    required: true
  required_platforms:
    description:
      - Platforms every reference should serve, by any name of the architecture model
        (C(linux/arm64/v8), C(aarch64), C(loong64), C(sw64), C(mips64el)).
    type: list
    elements: str
  concurrency:
    description:
      - References read in parallel, at most.
    type: int
    default: 4
seealso:
  - module: xinchuang.cloud.image_manifest
"""

EXAMPLES = r"""
- name: Every image of the catalogue serves every architecture of the inventory
  xinchuang.cloud.image_manifest_info:
    registry: registry.example.com:5000
    username: ci
    password: "{{ registry_password }}"
    ca_path: /etc/pki/xinchuang/registry-ca.crt
    references:
      - library/app:1.0
      - library/nginx:1.25
    required_platforms: "{{ groups['all'] | map('extract', hostvars, 'ansible_architecture')
                           | map('xinchuang.cloud.oci_platform') | unique }}"
  delegate_to: localhost
  register: catalogue

- name: Stop when something is missing
  ansible.builtin.assert:
    that: catalogue.all_present
    fail_msg: "missing: {{ catalogue.missing }}"
"""

RETURN = r"""
images:
  description: One entry per reference, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: The reference as given.
      type: str
    exists:
      description: Whether the reference resolves to anything.
      type: bool
    media_type:
      description: Media type of what the reference resolves to.
      type: str
    digest:
      description: Its digest.
      type: str
    platforms:
      description: Platforms served (known architectures only).
      type: list
      elements: str
    manifests:
      description: Children (or the image itself) with platform, digest, media_type, size.
      type: list
      elements: dict
    missing_platforms:
      description: O(required_platforms) this reference does not serve.
      type: list
      elements: str
  sample:
    - ref: library/app:1.0
      exists: true
      media_type: application/vnd.oci.image.index.v1+json
      digest: sha256:0e8b7a3d0a2f1b4e5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b
      platforms: [linux/amd64, linux/loong64]
      manifests:
        - {platform: linux/amd64, digest: "sha256:1f...", media_type: application/vnd.oci.image.manifest.v1+json, size: 402, known: true}
      missing_platforms: [linux/sw64]
missing:
  description: References that miss something, with what they miss (all of O(required_platforms) when absent).
  returned: always
  type: dict
  sample: {"library/app:1.0": [linux/sw64]}
all_present:
  description: Every reference exists and serves every required platform.
  returned: always
  type: bool
  sample: false
requests:
  description: HTTP requests sent to the registry (and its token server), retries included.
  returned: always
  type: int
  sample: 3
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


def main():
    argument_spec = reg.registry_argument_spec()
    argument_spec.update(
        references=dict(type="list", elements="str", required=True),
        required_platforms=dict(type="list", elements="str"),
        concurrency=dict(type="int", default=4),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=reg.REGISTRY_REQUIRED_TOGETHER)
    if not reg.HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"),
                         exception=str(reg.REQUESTS_IMPORT_ERROR))
    p = module.params
    if p["concurrency"] < 1:
        module.fail_json(msg="concurrency must be at least 1, got %d" % p["concurrency"])
    client = reg.client_from_params(p)
    try:
        images = reg.inspect_references(client, p["references"], p["required_platforms"],
                                        p["concurrency"])
    except XinchuangError as err:
        module.fail_json(msg=str(err), requests=client.requests)
    missing = dict((i["ref"], i["missing_platforms"]) for i in images
                   if i["missing_platforms"] or not i["exists"])
    module.exit_json(changed=False, images=images, missing=missing,
                     all_present=not missing, requests=client.requests)


if __name__ == "__main__":
    main()
