#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: app_image
short_description: Make an application artefact (a WAR, a JAR) one multi-architecture image
version_added: 0.5.0
description:
  - Puts the artefact at O(artifact) as one layer on the child of each family of O(families) of the
    multi-architecture base image O(base) (for a WAR, the app store's Tomcat built from Debian's
    packages), pushes each child by digest and publishes them as one index under O(image), so every
    node pulls the image of its own architecture.
  - A base whose children sit under several tags is given as a list, and each family takes its child
    from the first base that has its platform. The app store's Tomcat is one such base, with
    C(10.1.55) from bookworm for amd64, arm64 and mips64le and C(10.1.60) from sid for loong64.
  - A WAR goes to Tomcat's C(webapps) and answers under its file name's context path (C(shop.war) at
    C(/shop), C(ROOT.war) at C(/)) on port 8080. A JAR goes to C(/app) and is the entrypoint
    (C(java -jar)) on a base with a JRE, on O(port).
  - Nothing is built on the machine and nothing runs privileged or under emulation. The layer is a tar
    made in memory the same way every time (root-owned, fixed modes and times), so the same artefact
    gives the same digests, and a rerun finds the index in place and writes nothing. The base's layers
    are mounted from its repository.
  - Everything is read and computed before the first write; a family that no base has is
    refused naming the platforms each base has. The index is the last write, so a failure never leaves the
    tag naming missing children.
  - The module runs where the task runs (usually the controller, with C(delegate_to=localhost));
    O(artifact) is read there.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.registry_auth
  - xinchuang.cloud.attributes
options:
  registry:
    description:
      - Where the module reaches the registry, C(host[:port]). Default is the registry O(image) names;
        give it when the controller reaches that registry at another address.
    type: str
    required: false
  artifact:
    description: Path of the WAR or JAR (its name decides the kind and, for a WAR, the context path).
    type: path
    required: true
  base:
    description:
      - The base image, C(registry/repository:tag) (or C(@digest)), an index holding a child for each of
        O(families) (a single image serves the one family of its platform).
      - Several bases, when the families' children are under different tags; each family takes its
        child from the first base listed that has its platform.
      - Their registry is the one of O(image) (the base's layers are mounted, not copied between registries).
    type: list
    elements: str
    required: true
  image:
    description:
      - The image to publish, C(registry/repository:tag), naming the registry as the nodes pull from it.
        The module reaches that registry at O(registry), which may be another address of it (the
        controller's way in); the registry part of O(image) and O(base) may also be left out.
    type: str
    required: true
  families:
    description: The families the image is for, by the paper's names or any name the architecture model knows.
    type: list
    elements: str
    required: true
  port:
    description: The port a JAR listens on (required for a JAR; a WAR is on Tomcat's 8080).
    type: int
  source:
    description: The label C(org.opencontainers.image.source) (where the artefact's sources live).
    type: str
    default: ""
  revision:
    description: The label C(org.opencontainers.image.revision) (the sources' revision).
    type: str
    default: ""
  created:
    description:
      - The image's creation time, RFC 3339 in UTC (C(2026-12-01T08:00:00Z)); also the time of the
        layer's entries.
      - Default is C(1970-01-01T00:00:01Z), as jib and ko do, so the same artefact gives the same image
        however often it is rebuilt (a reproducible build gives the same bytes with a new file time).
    type: str
  format:
    description: The index format.
    type: str
    choices: [oci, docker]
    default: oci
attributes:
  check_mode:
    support: full
    details: Reads the base and computes every digest; writes nothing.
  diff_mode:
    support: full
    details: The index digest and platforms before and after.
notes:
  - Requires the Python C(requests) library on the host the task runs on.
seealso:
  - module: xinchuang.cloud.image_manifest
"""

EXAMPLES = r"""
- name: The WAR on Tomcat for C86 and ARM
  xinchuang.cloud.app_image:
    registry: registry.local:5000
    username: "{{ registry_user }}"
    password: "{{ registry_password }}"
    ca_path: /etc/xinchuang/registry-ca.crt
    artifact: target/shop.war
    base:
      - registry.local:5000/appstore/tomcat:10.1.55
      - registry.local:5000/appstore/tomcat:10.1.60  # loong64: sid's Tomcat
    image: registry.local:5000/apps/shop:1.4.2
    families: [c86, arm, loongarch]
    revision: "{{ git_revision }}"
  delegate_to: localhost
"""

RETURN = r"""
image:
  description: The image published.
  returned: always
  type: str
  sample: registry.local:5000/apps/shop:1.4.2
digest:
  description: Digest of the index under O(image).
  returned: always
  type: str
previous_digest:
  description: What O(image) pointed at before (null when it did not exist).
  returned: always
  type: str
platforms:
  description: The platforms of the index, in the architecture table's order.
  returned: always
  type: list
  elements: str
  sample: [linux/amd64, linux/arm64/v8]
manifests:
  description: Each child, C({platform, digest}).
  returned: always
  type: list
  elements: dict
layer_digest:
  description: Digest of the artefact's layer (the same in every child).
  returned: always
  type: str
path:
  description: Where the artefact is in the image.
  returned: always
  type: str
  sample: /var/lib/tomcat/webapps/shop.war
context_path:
  description: The URL path the application answers under (a WAR's context path; C(/) for a JAR).
  returned: always
  type: str
  sample: /shop
port:
  description: The port the image exposes for it.
  returned: always
  type: int
  sample: 8080
requests:
  description: HTTP requests sent to the registry.
  returned: always
  type: int
writes:
  description: Of those, the writes (none on a rerun).
  returned: always
  type: int
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_image
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_image_build
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


def main():
    argument_spec = reg.registry_argument_spec()
    # Default: the registry O(image) names.
    argument_spec["registry"] = dict(type="str")
    argument_spec.update(
        artifact=dict(type="path", required=True),
        base=dict(type="list", elements="str", required=True),
        image=dict(type="str", required=True),
        families=dict(type="list", elements="str", required=True),
        port=dict(type="int"),
        source=dict(type="str", default=""),
        revision=dict(type="str", default=""),
        created=dict(type="str"),
        format=dict(type="str", choices=["oci", "docker"], default="oci"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=reg.REGISTRY_REQUIRED_TOGETHER)
    if not reg.HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=str(reg.REQUESTS_IMPORT_ERROR))
    p = module.params
    if not os.path.isfile(p["artifact"]):
        module.fail_json(msg="artifact %s is not a file here (%s): build it first, or give its path on the host "
                             "the task runs on" % (p["artifact"], os.uname()[1]))
    if not p["registry"]:
        try:
            p["registry"] = app_image.same_registry(p["image"], p["base"])
        except XinchuangError as err:
            module.fail_json(msg=str(err))
        if not p["registry"]:
            module.fail_json(msg="neither registry nor image %s names a registry: give registry (host:port), or "
                                 "registry/repository:tag as image" % p["image"])
    with open(p["artifact"], "rb") as fh:
        data = fh.read()
    client = reg.client_from_params(p)
    try:
        created, mtime = app_image.image_time(p["created"])
        planned = app_image_build.plan(
            client, p["base"], p["image"], data, os.path.basename(p["artifact"]), p["families"], port=p["port"],
            labels=app_image.labels(source=p["source"], revision=p["revision"],
                                    title=os.path.splitext(os.path.basename(p["artifact"]))[0]),
            created=created, mtime=mtime, fmt=p["format"])
        changed = not app_image_build.published(planned)
        if changed and not module.check_mode:
            app_image_build.apply(client, planned)
    except XinchuangError as err:
        module.fail_json(msg=str(err), requests=client.requests, writes=client.writes)
    result = app_image_build.summary(planned, changed)
    if module._diff:
        result["diff"] = {"before": {"digest": result["previous_digest"]},
                          "after": {"digest": result["digest"], "platforms": result["platforms"]}}
    result.update(requests=client.requests, writes=client.writes)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
