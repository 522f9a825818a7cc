#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: offline_bundle
short_description: Build the offline bundle of every architecture from upstream source
version_added: 0.4.0
description:
  - Builds, on a connected machine, everything the cluster roles install offline, for each
    GOARCH asked, and lays it out as the roles expect it
    (C(<dest>/<version>/<goarch>/bin/<binary>) and C(cni/<plugin>)).
  - Kubernetes, etcd, containerd, the CNI plugins and CoreDNS are built from upstream source
    through the Go module proxy (C(CGO_ENABLED=0), C(-trimpath), stripped, the version variables
    of upstream's release builds). C(bin/runc), which needs cgo, and C(bin/registry) are the
    binaries of Debian's C(runc) and C(docker-registry) packages of that architecture.
  - The Kubernetes manifests roles apply from the controller come with the C(cluster) set (or
    their own set C(gateway-api)), namely the Gateway API CRDs (standard channel) of
    C(sigs.k8s.io/gateway-api), copied from its module zip to C(manifests/gateway-api/), for the
    gateway role and canary releases.
  - Each GOARCH directory gets C(MANIFEST.tsv) (component, version, source, file, SHA-256) and
    C(SHA256SUMS) (for C(sha256sum -c)). The manifest is written last, and names only files
    in place; a run with fewer O(sets) keeps naming the files an earlier run left.
  - Builds are cached under O(cache_dir), keyed by component, version, GOARCH and recipe
    (profile, build tags, linker flags), so a rerun builds and copies nothing and reports
    C(changed=false). Files are hard links into the cache where the file system allows.
  - The component table (what each set holds, versions, modules) is
    C(plugins/module_utils/bundle/policy.py); the architecture names come from the
    architecture model, so any name of a family is accepted.
  - Nothing is built or placed until every input is checked; with O(build=false), until every
    binary is known to be in the cache.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.attributes
requirements:
  - Go 1.25 or newer and access to a Go module proxy, when something is to be built
  - apt-get and dpkg-deb (a Debian or Ubuntu machine), when Debian's runc or registry is to be fetched
attributes:
  check_mode:
    details: Says what would be built, fetched and placed; builds and fetches nothing (a manifest
      source not yet in the cache is listed as C(to fetch)).
  diff_mode:
    details: The manifest of each GOARCH before and after.
options:
  dest:
    description:
      - Root of the bundle; the bundle of this version is C(<dest>/<version>). Without it the
        binaries are only built into O(cache_dir) (what the project's test bed does).
    type: path
  goarches:
    description:
      - Architectures to build for, in any name the architecture model knows (C(c86), C(arm),
        C(loongarch), C(mips), C(sw64), GOARCHes, C(uname -m) names).
      - Default is every family upstream Go builds for (amd64, arm64, loong64, mips64le).
    type: list
    elements: str
  sets:
    description:
      - Sets of the component table every GOARCH gets (C(bundle), C(cluster), C(testbed),
        C(kubelet), C(kube-proxy), C(containerd), C(cni), C(coredns), C(helm), C(gateway-api),
        the programs of the cluster images C(csi), C(gateway) and C(network) (flanneld), or C(all)).
      - Default is C(bundle) (what a node runs) for every GOARCH, plus C(cluster) (control plane,
        etcd, etcdctl, etcdutl, kubectl, helm, the Gateway API CRDs) for the GOARCHes of
        O(full_goarches).
    type: list
    elements: str
  full_goarches:
    description:
      - Architectures whose bundle also holds the control plane (set C(cluster)); C(all) for every one.
      - Ignored when O(sets) is given.
    type: list
    elements: str
    default: [amd64]
  version:
    description: Directory name of the bundle. Default is the Kubernetes version of its Kubernetes rows.
    type: str
  kubernetes_version:
    description:
      - The Kubernetes release of the bundle's Kubernetes programs (the control plane, kubectl, kubelet,
        kube-proxy); the other components keep the table's versions. Default is the table's.
      - One of the releases the table builds, the table's own and the previous minor's (C(v1.36.3)), so a
        cluster can be installed at the previous minor and upgraded (C(playbooks/upgrade.yml)); another
        release is refused naming them.
    type: str
    version_added: 0.5.0
  build:
    description:
      - Build what is missing from the cache. With C(false), a missing binary fails the task,
        naming it, before anything is placed.
    type: bool
    default: true
  runc:
    description: Put Debian's runc of each architecture in C(bin/runc).
    type: bool
    default: true
  registry:
    description:
      - Put the binary of Debian's C(docker-registry) (CNCF distribution) in C(bin/registry).
        Where Debian has none for an architecture, the bundle goes without it, with a warning.
    type: bool
    default: true
  debian_mirror:
    description: Debian mirror for runc and the registry.
    type: str
    default: http://deb.debian.org/debian
  cache_dir:
    description: Build and package cache (Go module and build caches, binaries, Debian packages).
    type: path
    default: /var/cache/xinchuang
  go_binary:
    description: The Go toolchain to build with (a name on PATH or a path).
    type: str
    default: go
  sw64_goroot:
    description:
      - GOROOT of the vendor's Go toolchain for sw64 (its C(go version) says C(linux/sw64)), since
        upstream Go cannot target sw64. Without it sw64 is skipped with a warning.
      - The vendor Go 1.16 cannot build containerd 2.x or Kubernetes 1.37; take sw64 binaries
        from the vendor's repository then.
    type: path
notes:
  - Run it where the Go module proxy and a Debian mirror are reachable, then carry O(dest) to
    the site (the cluster roles' C(*_bundle_dir) variables name it).
  - A cold build of the default bundle takes about an hour on two cores; C(async) with a
    long timeout, or the playbook C(xinchuang.cloud.bundle) from a shell, suits it.
seealso:
  - name: The offline bundle
    description: docs/bundle.md in the collection.
    link: https://github.com/xinchuang-cloud/xinchuang.cloud/blob/main/docs/bundle.md
"""

EXAMPLES = r"""
- name: Bundle for every family upstream Go builds for, the control plane for C86
  xinchuang.cloud.offline_bundle:
    dest: /srv/xinchuang/bundle

- name: Bundle whose ARM machines can be control planes too
  xinchuang.cloud.offline_bundle:
    dest: /srv/xinchuang/bundle
    goarches: [c86, arm, loongarch, mips]
    full_goarches: [c86, arm]

- name: Lay out only what is already built (fails naming anything missing)
  xinchuang.cloud.offline_bundle:
    dest: /srv/xinchuang/bundle
    build: false

- name: Containerd and CNI plugins for Kunpeng hosts only
  xinchuang.cloud.offline_bundle:
    dest: /srv/xinchuang/runtime-bundle
    goarches: [kunpeng]
    sets: [containerd, cni]
    registry: false
"""

RETURN = r"""
version:
  description: Directory name of the bundle.
  returned: always
  type: str
  sample: v1.37.2
path:
  description: The bundle of this version (C(<dest>/<version>)), or null without O(dest).
  returned: always
  type: str
  sample: /srv/xinchuang/bundle/v1.37.2
goarches:
  description: Per GOARCH, its family, the sets it got, the binaries it lacked in the cache, or why it was skipped.
  returned: always
  type: dict
  sample:
    arm64: {family: arm, sets: [bundle], missing: []}
    sw64: {family: sw64, sets: [bundle], skipped: "upstream Go cannot build for sw64: give sw64_goroot ..."}
built:
  description: C(<goarch>/<binary>) of each binary built by this run (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [arm64/kubelet]
log:
  description: Progress lines of the run (builds with their times, Debian packages fetched, files laid out).
  returned: always
  type: list
  elements: str
  sample: ["arm64: 7 of 8 binaries cached under /var/cache/xinchuang/build"]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle.build import DEFAULT_CACHE, Bundle
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle.policy import (
    DEFAULT_DEBIAN_MIRROR,
    DEFAULT_FULL_GOARCHES,
)
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


def argument_spec():
    return dict(
        dest=dict(type="path"),
        goarches=dict(type="list", elements="str"),
        sets=dict(type="list", elements="str"),
        full_goarches=dict(type="list", elements="str", default=list(DEFAULT_FULL_GOARCHES)),
        version=dict(type="str"),
        kubernetes_version=dict(type="str"),
        build=dict(type="bool", default=True),
        runc=dict(type="bool", default=True),
        registry=dict(type="bool", default=True),
        debian_mirror=dict(type="str", default=DEFAULT_DEBIAN_MIRROR),
        cache_dir=dict(type="path", default=DEFAULT_CACHE),
        go_binary=dict(type="str", default="go"),
        sw64_goroot=dict(type="path"),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    log = []
    bundle = Bundle(module.params, check_mode=module.check_mode, log=log.append)
    try:
        result = bundle.run()
    except XinchuangError as exc:
        module.fail_json(msg=str(exc), log=log)
    except Exception as exc:  # pragma: no cover - unexpected: keep the trace for a bug report
        module.fail_json(msg="offline_bundle: unexpected error: %s" % exc, log=log,
                         exception=traceback.format_exc())
    for warning in bundle.warnings:
        module.warn(warning)
    diff = result.pop("diff")
    if module._diff and diff:
        result["diff"] = diff
    result["log"] = log
    module.exit_json(**result)


if __name__ == "__main__":
    main()
