#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: offline_images
short_description: Build the cluster and application images of every architecture, and publish them
version_added: 0.5.0
description:
  - Builds, on a connected machine, the images a cluster pulls before any application, for each
    GOARCH asked, as single-architecture OCI image layouts (one layer, no Docker, no emulator),
    and with O(registry) publishes them as multi-architecture tags. The sibling of
    M(xinchuang.cloud.offline_bundle), whose cache it shares.
  - The C(cluster) set is C(library/pause) (Kubernetes' pause.c, compiled static with gcc and
    Debian's cross gcc per GOARCH; for loong64 in a Debian chroot made once with debootstrap),
    C(coredns/coredns), C(sig-storage/csi-provisioner) and C(library/traefik) (Go programs of
    the component table with Debian's CA bundle), C(library/busybox) (compiled from Debian's
    source package, one version for every GOARCH), C(flannel/flannel) and
    C(cloudnativelabs/kube-router) (with Debian's iptables, nft or ipset and the libraries they
    link). The C(apps) set is the application images of the app store's recipes.
  - Each image is cached under O(images_dir) by a hash of everything that makes it (sources,
    compiler, flags, packages, config), so a rerun builds nothing; the same inputs give the
    same digests.
  - The program each child runs is checked to be an ELF program of the child's GOARCH (its
    C(e_machine)); a child of another machine is refused before it is stored or published.
  - With O(registry), each child is copied as C(<name>:<tag>-<goarch>) (its blobs and manifest
    bytes as they are, so its digest is the layout's; nothing is copied when the tag already
    has it), then C(<name>:<tag>) is made an OCI index of the children, every platform
    required, by the code of M(xinchuang.cloud.image_manifest). Application tags get an index
    only when every child carries one version (C(same_label)).
  - Nothing is built until every input is checked; with O(build=false), until every image is
    known to be in the cache.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.attributes
requirements:
  - python >= 3.9
  - requests, when O(registry) is given
  - Go 1.25 or newer and access to a Go module proxy, when a Go program is to be built
  - gcc, Debian's cross gcc (C(gcc-aarch64-linux-gnu), C(gcc-mips64el-linux-gnuabi64)), make,
    bzip2, debootstrap, dpkg-dev, apt-get and dpkg-deb (a Debian machine), when an image is to be built
attributes:
  check_mode:
    support: full
    details: Says what would be built, fetched and pushed, with the recipe of every image whose
      inputs are here; builds, fetches, writes and pushes nothing. An index is checked against
      the registry when every child is there, else reported as to be made.
  diff_mode:
    support: none
    description: Nothing to diff; RV(images) lists each image with its state.
options:
  image_set:
    description:
      - V(cluster), the images a cluster pulls, or V(apps), the application images.
    type: str
    choices: [cluster, apps]
    default: cluster
  goarches:
    description:
      - Architectures to build for, in any name the architecture model knows (C(c86), C(arm),
        C(loongarch), C(mips), GOARCHes, C(uname -m) names).
      - Default is amd64, arm64, loong64 and mips64le. sw64 is skipped with a word (neither
        upstream Go nor a Debian cross gcc targets it).
    type: list
    elements: str
  build:
    description:
      - Build what is missing from the cache. With V(false), an image missing from the cache
        fails the task, naming it, before anything is pushed.
    type: bool
    default: true
  cache_dir:
    description: Build and package cache (Go caches and binaries, Debian packages, toolchains).
    type: path
    default: /var/cache/xinchuang
  images_dir:
    description: Where the image layouts are cached. Default is C(<cache_dir>/bundle/images).
    type: path
  debian_mirror:
    description: Debian mirror for the packages, the busybox source and the cross chroot.
    type: str
    default: http://deb.debian.org/debian
  cross_suite:
    description: Debian suite of the chroot whose cross gcc builds for loong64 (bookworm has none).
    type: str
    default: trixie
  busybox_suite:
    description: Debian suite whose busybox source package every child is compiled from.
    type: str
    default: trixie
  go_binary:
    description: The Go toolchain to build with (a name on PATH or a path).
    type: str
    default: go
  registry:
    description:
      - The registry to publish to, as C(host[:port]) (HTTPS); a C(http://) prefix for a lab
        registry without TLS. Without it the images are only built.
    type: str
  username:
    description: User of the registry. Required together with O(password).
    type: str
  password:
    description: Password or robot-account token of O(username). Never logged.
    type: str
  ca_path:
    description: PEM file of the CA that signed the registry's certificate.
    type: path
  validate_certs:
    description: Verify the registry's TLS certificate. Set V(false) only for a lab.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each answer of the registry.
    type: float
    default: 30
  retries:
    description: How many times a request is repeated after a transient failure of the registry.
    type: int
    default: 3
  pause_aliases:
    description:
      - More tags of C(library/pause) published as the same index, for what runtimes ask by
        another tag (the container_runtime role's sandbox image is C(library/pause:3.10.1)).
    type: list
    elements: str
    default: ['3.10.1']
  push_jobs:
    description: How many children are copied at once.
    type: int
    default: 3
notes:
  - Run it where the Go module proxy and a Debian mirror are reachable (or with the caches
    filled), then carry the registry's content, or O(images_dir), to the site.
  - A cold build of the cluster set takes about an hour on two cores (the Go programs of four
    architectures); with the Go binaries cached, about four minutes.
seealso:
  - module: xinchuang.cloud.offline_bundle
  - module: xinchuang.cloud.image_manifest
  - name: The images
    description: docs/bundle.md in the collection, section Images.
    link: https://github.com/xinchuang-cloud/xinchuang.cloud/blob/main/docs/bundle.md
"""

EXAMPLES = r"""
- name: Build the cluster images of every family and publish them to the site's registry
  xinchuang.cloud.offline_images:
    registry: registry.site.local:5000
    username: admin
    password: "{{ registry_password }}"
    ca_path: /etc/xinchuang/registry-ca.crt

- name: Only build the application images for Kunpeng and Loongson machines
  xinchuang.cloud.offline_images:
    image_set: apps
    goarches: [kunpeng, loongarch]

- name: Publish what is already built (fails naming any image missing from the cache)
  xinchuang.cloud.offline_images:
    registry: registry.site.local:5000
    build: false
"""

RETURN = r"""
images:
  description:
    - One entry per child. C(state) is C(cached), C(built) or (check mode) C(to build);
      C(pushed) is C(present), C(pushed), C(to push) or null without O(registry).
    - C(program_goarch) is the GOARCH of the ELF program the child runs (always its own
      GOARCH; another one fails the task). C(recipe) is the cache id of its recipe (null when an
      input is missing in check mode, with C(missing) saying which).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: library/pause, tag: 3.10.2, goarch: arm64, platform: linux/arm64/v8, recipe: e105a58888c320b6,
       state: cached, digest: "sha256:4448a2...", layout: /var/cache/xinchuang/bundle/images/library/pause/3.10.2/arm64/e105a58888c320b6/oci,
       program_goarch: arm64, pushed: present}
built:
  description: C(<goarch>/<name>:<tag>) of each image built by this run (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [loong64/library/busybox:1.37.0]
goarches:
  description: Per GOARCH, its family and how many images it has.
  returned: always
  type: dict
  sample: {arm64: {family: arm, images: 7}}
indexes:
  description:
    - With O(registry), the result of each multi-architecture tag as M(xinchuang.cloud.image_manifest)
      returns it (C(repository), C(tag), C(digest), C(platforms), C(changed), C(same_label_value)).
  returned: always
  type: list
  elements: dict
log:
  description: Progress lines of the run (builds with their times, Debian packages fetched).
  returned: always
  type: list
  elements: str
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle.build import DEFAULT_CACHE
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle.policy import DEFAULT_DEBIAN_MIRROR
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import builder, recipes
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg


def argument_spec():
    spec = reg.registry_argument_spec()
    spec["registry"] = dict(type="str")  # without one the images are only built
    spec.update(
        image_set=dict(type="str", choices=list(recipes.IMAGE_SETS), default="cluster"),
        goarches=dict(type="list", elements="str"),
        build=dict(type="bool", default=True),
        cache_dir=dict(type="path", default=DEFAULT_CACHE),
        images_dir=dict(type="path"),
        debian_mirror=dict(type="str", default=DEFAULT_DEBIAN_MIRROR),
        cross_suite=dict(type="str", default=recipes.DEFAULT_CROSS_SUITE),
        busybox_suite=dict(type="str", default=recipes.DEFAULT_BUSYBOX_SUITE),
        go_binary=dict(type="str", default="go"),
        pause_aliases=dict(type="list", elements="str", default=list(recipes.DEFAULT_PAUSE_ALIASES)),
        push_jobs=dict(type="int", default=builder.DEFAULT_PUSH_JOBS),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_together=[["username", "password"]])
    log = []
    try:
        result = builder.run(module.params, check_mode=module.check_mode, log=log.append)
    except XinchuangError as exc:
        module.fail_json(msg=str(exc), log=log)
    except Exception as exc:  # pragma: no cover - unexpected: keep the trace for a bug report
        module.fail_json(msg="offline_images: unexpected error: %s" % exc, log=log,
                         exception=traceback.format_exc())
    for line in log:
        if line.startswith("skipping "):
            module.warn(line)
    result["log"] = log
    module.exit_json(**result)


if __name__ == "__main__":
    main()
