#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: image_sync
short_description: Copy a catalogue of multi-architecture images into the private registry
version_added: 0.2.0
description:
  - Copies every image of O(images) into O(destination) (Harbor or CNCF distribution), each
    from the first registry of O(sources) that serves it B(whole), that is with every
    platform the image must serve (its O(images[].platforms), else O(required_platforms)).
  - "A source whose index lacks a required platform, for example a mirror or a Harbor proxy
    cache that stored a multi-architecture list trimmed to the platforms it happened to
    fetch, is skipped for that image and the next source is asked; RV(images[].skipped)
    says which and why (C(missing platforms: loong64, mips64le)). RV(images[].source) names
    the source used."
  - Indexes are copied whole and byte for byte, so the destination's digest is the
    source's; children first (their blobs, then their manifests), the index under the tag
    last, so a tag never points at an index with missing children.
  - "Reads before it writes: every image is planned first (the source chosen, the
    destination tag read); when any image is served by no source the task fails naming
    each such image and why every source was skipped, and nothing is written."
  - "Requests: an image whose destination tag already holds the source's digest costs one
    GET at the source and one HEAD at the destination. A copied blob costs one POST when the
    destination already has it (a mount from the repository itself) and a POST and a PUT
    when it has not (the data streamed from the source); a blob copied earlier in the run
    into another repository is mounted from there. Each child manifest costs a GET and a
    PUT, the index one PUT."
  - With O(offline=true) the images are read from an OCI image layout directory of the
    offline bundle (O(offline_layout)) instead of O(sources).
  - Talks to the registries with the collection's registry client (the one of
    M(xinchuang.cloud.image_manifest)), with HTTP basic or bearer tokens (Harbor), retries
    with backoff, TLS verified unless told otherwise.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.attributes
options:
  images:
    description:
      - The catalogue to copy.
    type: list
    elements: dict
    required: true
    suboptions:
      repository:
        description:
          - Repository without registry and without prefix, for example C(library/nginx).
            The same name is looked up in every source (after its O(sources[].prefix)) and
            written in the destination (after O(destination.prefix)).
        type: str
        required: true
      tag:
        description: The tag to copy.
        type: str
        required: true
      platforms:
        description:
          - Platforms this image must serve, any name of the architecture model
            (C(linux/arm64/v8), C(aarch64), C(loong64), C(sw_64), C(mips64el)). Default
            O(required_platforms).
          - The whole index is copied even when it serves more.
        type: list
        elements: str
  sources:
    description:
      - Registries to copy from, in the order they are tried; the first that serves an
        image whole wins. Required unless O(offline=true).
    type: list
    elements: dict
    suboptions: &endpoint
      url:
        description:
          - The registry, C(host[:port]) (HTTPS) or C(https://host[:port]); C(http://) speaks
            plain HTTP, for a lab registry only.
        type: str
        required: true
      username:
        description: User (or robot account) for HTTP basic or Harbor's token flow.
        type: str
      password:
        description: Password or robot secret of O(sources[].username). Never logged.
        type: str
      ca_path:
        description: PEM file of the CA that signed the registry's certificate.
        type: path
      prefix:
        description:
          - Path in front of every repository in this registry, for example
            C(library) for a mirror that serves C(nginx) as C(library/nginx), or the Harbor
            project of a destination.
        type: str
        default: ""
      validate_certs:
        description: Verify the registry's TLS certificate. Set V(false) only for a lab.
        type: bool
        default: true
  destination:
    description:
      - The private registry to copy into; same suboptions as O(sources).
    type: dict
    required: true
    suboptions: *endpoint
  required_platforms:
    description:
      - Platforms every image must serve unless it names its own O(images[].platforms).
        Without either, any source holding the image serves it.
    type: list
    elements: str
  offline:
    description:
      - Read the images from O(offline_layout) instead of O(sources) (an air-gapped site).
    type: bool
    default: false
  offline_layout:
    description:
      - OCI image layout directory of the offline bundle; an image is the entry of its
        C(index.json) whose C(org.opencontainers.image.ref.name) is C(<repository>:<tag>)
        (as C(skopeo copy --all docker://... oci:<dir>:<repository>:<tag>) writes it).
      - Required with O(offline=true).
    type: path
  concurrency:
    description: How many images are planned and copied at the same time.
    type: int
    default: 4
  timeout:
    description: Seconds to wait for each answer of a registry.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is repeated after HTTP 429, 5xx, a timeout or a dropped
        connection (streamed uploads are not repeated).
    type: int
    default: 3
notes:
  - The module runs where the task runs (usually the controller, with C(delegate_to=localhost)).
  - A destination that rewrites manifests (converts formats) cannot hold a byte-for-byte
    copy; the module fails naming the image rather than report a different digest.
requirements:
  - python >= 3.9
  - requests
seealso:
  - module: xinchuang.cloud.image_manifest
  - module: xinchuang.cloud.harbor_project
"""

EXAMPLES = r"""
- name: Copy the catalogue into Harbor, upstream when the mirror's copy is trimmed
  xinchuang.cloud.image_sync:
    images:
      - {repository: library/nginx, tag: "1.27"}
      - {repository: coredns/coredns, tag: "1.12.0"}
      - {repository: library/redis, tag: "7.4", platforms: [amd64, arm64]}
    sources:
      - url: harbor-cache.example.com       # a proxy cache: may hold trimmed lists
        username: robot$cache+sync
        password: "{{ cache_robot_secret }}"
        prefix: dockerhub-cache
      - url: mirror.example.cn
        prefix: library
      - url: registry-1.docker.io
    destination:
      url: harbor.example.com
      username: robot$platform+sync
      password: "{{ platform_robot_secret }}"
      ca_path: /etc/pki/xinchuang/ca.crt
      prefix: platform
    required_platforms: [amd64, arm64, loong64, sw64, mips64le]
  delegate_to: localhost
  no_log: true

- name: Air-gapped site, from the bundle's OCI layout
  xinchuang.cloud.image_sync:
    offline: true
    offline_layout: /opt/xinchuang/bundle/images
    images: "{{ platform_images }}"
    destination:
      url: harbor.example.com
      username: admin
      password: "{{ harbor_admin_password }}"
      ca_path: /etc/pki/xinchuang/ca.crt
      prefix: platform
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
images:
  description: One result per item of O(images), in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    repository:
      description: The repository as given.
      type: str
    tag:
      description: The tag.
      type: str
    destination:
      description: Where the image is, C(host/prefix/repository:tag).
      type: str
    source:
      description: The O(sources[].url) (or O(offline_layout)) the image came from.
      type: str
    source_repository:
      description: The repository read in that source.
      type: str
    digest:
      description: Digest of the index (or image) the tag holds (would hold).
      type: str
    media_type:
      description: Its media type.
      type: str
    platforms:
      description: The platforms it serves.
      type: list
      elements: str
    previous_digest:
      description: What the destination tag held before, or null.
      type: str
    changed:
      description: Whether the tag was (would be) written.
      type: bool
    skipped:
      description: Sources asked before the one used, each with the reason it was skipped.
      type: list
      elements: dict
      sample: [{source: mirror.example.cn, reason: "missing platforms: loong64, mips64le"}]
    manifests_copied:
      description: Manifests written (children and the index).
      type: int
    blobs_uploaded:
      description: Blobs sent to the destination.
      type: int
    blobs_mounted:
      description: Blobs mounted from another destination repository.
      type: int
    blobs_present:
      description: Blobs the destination already had.
      type: int
  sample:
    - repository: library/nginx
      tag: "1.27"
      destination: harbor.example.com/platform/library/nginx:1.27
      source: registry-1.docker.io
      digest: sha256:0e8b7a3d0a2f1b4e5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b
      platforms: [linux/amd64, linux/arm64/v8, linux/loong64, linux/sw64, linux/mips64le]
      changed: true
      skipped:
        - {source: harbor-cache.example.com, reason: "missing platforms: loong64, sw64, mips64le"}
requests:
  description: HTTP requests sent to all registries (and token servers), retries included.
  returned: always
  type: int
  sample: 54
writes:
  description: How many requests to the destination were writes (POST, PUT, PATCH, DELETE).
  returned: always
  type: int
  sample: 26
bytes_sent:
  description: Bytes of request bodies sent to the destination (blobs and manifests).
  returned: always
  type: int
  sample: 1048576
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import image_sync as sync
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


def main():
    module = AnsibleModule(
        argument_spec=sync.argument_spec(), supports_check_mode=True,
        required_if=[("offline", True, ["offline_layout"]), ("offline", False, ["sources"])],
        mutually_exclusive=[["sources", "offline_layout"]])
    if not reg.HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"),
                         exception=str(reg.REQUESTS_IMPORT_ERROR))
    try:
        result = sync.ImageSync(module.params, check_mode=module.check_mode,
                                want_diff=module._diff).run()
    except sync.ImageSyncCopyError as err:
        module.fail_json(msg=str(err), **err.result)
    except XinchuangError as err:
        module.fail_json(msg=str(err))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
