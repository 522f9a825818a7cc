#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: image_manifest
short_description: Publish one multi-architecture tag from per-architecture images
version_added: 0.1.0
description:
  - Makes O(repository):O(tag) of a private registry (Harbor, CNCF distribution) an OCI image
    index or a Docker manifest list of the images given in O(sources), one per platform, so
    every node pulls the image of its own architecture (C86/amd64, ARM/arm64, LoongArch/loong64,
    SW64/sw64, MIPS/mips64le).
  - Platforms are named the way the collection's architecture model knows them; C(aarch64),
    C(arm64) and C(linux/arm64/v8) are the same platform.
  - Idempotent by digest. The index is built locally, byte for byte the same for the same
    children whatever the order of O(sources), and compared with the digest the tag resolves
    to; nothing is written when they are equal. An index made by another tool with the same
    children is rewritten once in this module's layout.
  - Sources in another repository of the same registry have their blobs mounted
    (C(?mount=&from=), copied when the registry declines to mount) and their manifest pushed
    by digest into O(repository) first; the index PUT is the last write, so a failure never
    leaves the tag pointing at an index with missing children.
  - "Requests: with every O(sources[].platform) given and the sources in O(repository),
    one C(HEAD) per source, one C(HEAD) of the tag and one C(PUT) (none when unchanged).
    For a source without a platform the C(HEAD) becomes a C(GET) and its config is read
    (one C(GET) more). Diff mode reads the old index once more. The number is returned as
    RV(requests)."
  - The module runs where the task runs (usually the controller, with C(delegate_to=localhost))
    and talks to the registry with the Python C(requests) library, chosen over Ansible's
    C(open_url) because it keeps one connection alive for all requests, streams blob copies,
    and takes the CA file per request so that it wins over E(REQUESTS_CA_BUNDLE).
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.registry_auth
  - xinchuang.cloud.attributes
options:
  repository:
    description:
      - Repository of the multi-architecture tag, for example C(library/app).
      - Required unless O(indexes) is given.
    type: str
  tag:
    description:
      - The tag to publish, for example C(1.0).
      - Required unless O(indexes) is given.
    type: str
  state:
    description:
      - V(present) makes the tag an index of O(sources).
      - V(absent) deletes the index the tag resolves to. Distribution and Harbor delete by
        digest, so every other tag pointing at the same index goes too; the registry must
        allow deletion (distribution C(storage.delete.enabled)).
    type: str
    choices: [present, absent]
    default: present
  sources:
    description:
      - The per-architecture images. Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      ref:
        description:
          - A tag (C(1.0-arm64)) or digest (C(sha256:...)) in O(repository), or
            C(repo:tag) / C(repo@sha256:...) of another repository of the same registry
            (a leading C(registry/) equal to O(registry) is accepted).
          - When the reference is itself an index, its child for O(sources[].platform) is
            taken.
        type: str
        required: true
      platform:
        description:
          - Platform of the image, C(linux/arm64/v8), C(linux/loong64), or any architecture
            name of the model (C(aarch64), C(sw_64), C(mips64el), C(x86_64)).
          - When omitted it is read from the image config (one request more).
        type: str
  format:
    description:
      - V(oci) writes C(application/vnd.oci.image.index.v1+json); V(docker) writes a Docker
        manifest list (C(application/vnd.docker.distribution.manifest.list.v2+json)) for old
        clients.
    type: str
    choices: [oci, docker]
    default: oci
  annotations:
    description:
      - Annotations of the index (V(oci) only), for example
        C(org.opencontainers.image.version).
    type: dict
  required_platforms:
    description:
      - Platforms the index must contain; the module fails, naming the missing ones, before
        writing anything.
    type: list
    elements: str
  same_label:
    description:
      - A label of the image configs (for example C(org.opencontainers.image.version)) that
        every child must carry with one value. When the children differ, or one lacks the
        label, the module fails before writing anything and names each child's value. An
        index whose children run different versions under one tag is a trap in a gray
        release (a C86 Pod and an ARM Pod of the same tag would run different programs).
      - Costs a C(GET) of each child's manifest (unless read already) and of its config.
    type: str
    version_added: 0.5.0
  indexes:
    description:
      - Several indexes in one task, for example a whole catalogue, instead of
        O(repository), O(tag) and O(sources). Each item takes C(repository), C(tag),
        C(sources) and may override O(format), O(annotations), O(required_platforms) and
        O(force); the rest is taken from the task's options.
      - Each index is reconciled on its own, with its index PUT last; up to O(concurrency)
        at a time over one connection pool. When some fail, the others still complete and
        the task fails naming the failed ones.
      - One task for fifty indexes avoids fifty module start-ups of a loop.
    type: list
    elements: dict
    suboptions:
      repository:
        description: Repository of the tag.
        type: str
        required: true
      tag:
        description: The tag.
        type: str
        required: true
      sources:
        description: As O(sources).
        type: list
        elements: dict
        suboptions:
          ref:
            description: As O(sources[].ref).
            type: str
            required: true
          platform:
            description: As O(sources[].platform).
            type: str
      format:
        description: As O(format).
        type: str
        choices: [oci, docker]
      annotations:
        description: As O(annotations).
        type: dict
      required_platforms:
        description: As O(required_platforms).
        type: list
        elements: str
      same_label:
        description: As O(same_label).
        type: str
      force:
        description: As O(force).
        type: bool
  concurrency:
    description:
      - With O(indexes), how many indexes are reconciled at the same time.
    type: int
    default: 4
  force:
    description:
      - Replace (or with O(state=absent) delete) the tag even when it holds a single image
        manifest rather than an index. Without it such a tag is an error, because
        overwriting it would hide the image it points at.
    type: bool
    default: false
notes:
  - Only images of the target registry are combined; copy images from elsewhere first
    (for example with C(skopeo copy)).
seealso:
  - module: xinchuang.cloud.image_manifest_info
"""

EXAMPLES = r"""
- name: Publish app:1.0 for the five families
  xinchuang.cloud.image_manifest:
    registry: registry.example.com:5000
    username: ci
    password: "{{ registry_password }}"
    ca_path: /etc/pki/xinchuang/registry-ca.crt
    repository: library/app
    tag: "1.0"
    sources:
      - {ref: 1.0-amd64, platform: linux/amd64}
      - {ref: 1.0-arm64, platform: linux/arm64/v8}
      - {ref: 1.0-loong64, platform: linux/loong64}
      - {ref: 1.0-sw64, platform: linux/sw64}
      - {ref: 1.0-mips64le, platform: linux/mips64le}
    required_platforms: [amd64, arm64, loong64, sw64, mips64le]
    annotations:
      org.opencontainers.image.version: "1.0"
  delegate_to: localhost

- name: Combine images pushed to per-architecture repositories (platform read from config)
  xinchuang.cloud.image_manifest:
    registry: registry.example.com:5000
    repository: library/app
    tag: "1.0"
    sources:
      - ref: build/app-amd64:1.0
      - ref: build/app-loong64@sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270
  delegate_to: localhost

- name: Publish the whole catalogue in one task (one module run, four indexes at a time)
  xinchuang.cloud.image_manifest:
    registry: registry.example.com:5000
    required_platforms: [amd64, arm64, loong64, sw64, mips64le]
    indexes: "{{ catalogue_images | map('community.general.dict_kv', 'repository')
                 | map('combine', {'tag': catalogue_version,
                                   'sources': catalogue_sources}) }}"
  vars:
    catalogue_images: [library/app, library/web, library/worker]
    catalogue_version: "1.0"
    catalogue_sources:
      - {ref: "1.0-amd64", platform: linux/amd64}
      - {ref: "1.0-arm64", platform: linux/arm64/v8}
      - {ref: "1.0-loong64", platform: linux/loong64}
      - {ref: "1.0-sw64", platform: linux/sw64}
      - {ref: "1.0-mips64le", platform: linux/mips64le}
  delegate_to: localhost

- name: Remove the index
  xinchuang.cloud.image_manifest:
    registry: registry.example.com:5000
    repository: library/app
    tag: "1.0"
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
digest:
  description: Digest of the index the tag resolves to (would resolve to, in check mode).
  returned: state is present
  type: str
  sample: sha256:0e8b7a3d0a2f1b4e5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b
media_type:
  description: Media type of the index.
  returned: state is present
  type: str
  sample: application/vnd.oci.image.index.v1+json
platforms:
  description: Platforms of the index, in the architecture table's order.
  returned: always
  type: list
  elements: str
  sample: [linux/amd64, linux/arm64/v8, linux/loong64, linux/sw64, linux/mips64le]
manifests:
  description: The children of the index.
  returned: always
  type: list
  elements: dict
  sample:
    - platform: linux/loong64
      digest: sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270
      media_type: application/vnd.oci.image.manifest.v1+json
      size: 402
      source: app:1.0-loong64
same_label_value:
  description: The value of O(same_label) that every child carries.
  returned: when O(same_label) is given and the index is published
  type: str
  sample: 1.22.1
previous_digest:
  description: What the tag resolved to before the task, or null.
  returned: always
  type: str
  sample: null
requests:
  description: HTTP requests sent to the registry (and its token server), retries included.
  returned: always
  type: int
  sample: 7
writes:
  description: How many of RV(requests) were writes (PUT, POST, DELETE).
  returned: always
  type: int
  sample: 1
platform_changes:
  description: Platforms added, removed, changed (other child digest) and unchanged.
  returned: in diff mode
  type: dict
  sample: {added: [linux/sw64], removed: [], changed: [], unchanged: [linux/amd64]}
indexes:
  description:
    - With O(indexes), one result per item in the same order (the keys above plus
      C(repository), C(tag) and C(changed)); null for an item that failed.
  returned: when O(indexes) is given
  type: list
  elements: dict
  sample:
    - {repository: library/app, tag: "1.0", changed: true, digest: "sha256:0e8b...",
       platforms: [linux/amd64, linux/loong64]}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


def main():
    argument_spec = reg.registry_argument_spec()
    source_spec = dict(ref=dict(type="str", required=True), platform=dict(type="str"))
    argument_spec.update(
        repository=dict(type="str"),
        tag=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        sources=dict(type="list", elements="dict", options=source_spec),
        format=dict(type="str", choices=["oci", "docker"], default="oci"),
        annotations=dict(type="dict"),
        required_platforms=dict(type="list", elements="str"),
        same_label=dict(type="str"),
        force=dict(type="bool", default=False),
        indexes=dict(type="list", elements="dict", options=dict(
            repository=dict(type="str", required=True),
            tag=dict(type="str", required=True),
            sources=dict(type="list", elements="dict", options=source_spec),
            format=dict(type="str", choices=["oci", "docker"]),
            annotations=dict(type="dict"),
            required_platforms=dict(type="list", elements="str"),
            same_label=dict(type="str"),
            force=dict(type="bool"),
        )),
        concurrency=dict(type="int", default=4),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_together=reg.REGISTRY_REQUIRED_TOGETHER + [["repository", "tag"]],
        required_one_of=[["indexes", "repository"]],
        mutually_exclusive=[["indexes", "repository"], ["indexes", "sources"]],
    )
    if not reg.HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"),
                         exception=str(reg.REQUESTS_IMPORT_ERROR))
    p = module.params
    if p["indexes"] is None and p["state"] == "present" and not p["sources"]:
        module.fail_json(msg="state is present but sources is missing: give the images to "
                             "combine, or state: absent")
    if p["concurrency"] < 1:
        module.fail_json(msg="concurrency must be at least 1, got %d" % p["concurrency"])
    client = reg.client_from_params(p)
    if p["indexes"] is not None:
        defaults = dict(format=p["format"], annotations=p["annotations"],
                        required_platforms=p["required_platforms"], force=p["force"],
                        same_label=p["same_label"])
        results, errors = reg.reconcile_many(
            client, p["indexes"], state=p["state"], defaults=defaults,
            concurrency=p["concurrency"], check_mode=module.check_mode, want_diff=module._diff)
        done = [r for r in results if r is not None]
        out = dict(changed=any(r["changed"] for r in done), indexes=results,
                   requests=client.requests, writes=client.writes)
        if module._diff:
            out["diff"] = {
                "before": dict(("%s:%s" % (r["repository"], r["tag"]), r["diff"]["before"])
                               for r in done),
                "after": dict(("%s:%s" % (r["repository"], r["tag"]), r["diff"]["after"])
                              for r in done)}
            for r in done:
                del r["diff"]
        if errors:
            module.fail_json(msg="%d of %d indexes failed: %s"
                                 % (len(errors), len(results), " | ".join(errors)), **out)
        module.exit_json(**out)
    try:
        if p["state"] == "present":
            result = reg.publish_index(
                client, p["repository"], p["tag"], p["sources"], fmt=p["format"],
                annotations=p["annotations"], required_platforms=p["required_platforms"],
                force=p["force"], check_mode=module.check_mode, want_diff=module._diff,
                same_label=p["same_label"])
        else:
            result = reg.delete_index(client, p["repository"], p["tag"], force=p["force"],
                                      check_mode=module.check_mode, want_diff=module._diff)
    except XinchuangError as err:
        module.fail_json(msg=str(err), requests=client.requests, writes=client.writes)
    result["requests"] = client.requests
    result["writes"] = client.writes
    module.exit_json(**result)


if __name__ == "__main__":
    main()
