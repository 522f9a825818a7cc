#!/usr/bin/env bash
# The offline bundle the cluster roles install from, for the lab and the tests: the same
# builder as the product's playbook (playbooks/bundle.yml, module xinchuang.cloud.offline_bundle,
# plugins/module_utils/bundle/build.py), run here with its progress on stderr (docs/bundle.md):
#   hack/bundle.sh [--full] [GOARCH ...]     default: every family upstream Go builds for
# Prints the bundle's directory (<XC_BUNDLE_DIR>/<version>) last.
#
# Environment (each maps to an option of the module):
#   XC_BUNDLE_DIR           dest (default $XC_CACHE/bundle)
#   XC_BUNDLE_SETS          sets for every GOARCH, comma-separated (e.g. containerd,cni)
#   XC_BUNDLE_FULL_GOARCHES full_goarches (default amd64; `all`); --full: every GOARCH given
#   XC_BUNDLE_VERSION       version
#   XC_BUNDLE_KUBERNETES_VERSION kubernetes_version (the previous minor: docs/bundle.md)
#   XC_BUNDLE_BUILD=0       build: false (fail naming what is missing)
#   XC_BUNDLE_RUNC=0        runc: false
#   XC_BUNDLE_REGISTRY=0    registry: false
#   XC_BUNDLE_MIRROR        debian_mirror
#   XC_SW64_GOROOT          sw64_goroot (without it sw64 is skipped, saying so)
# shellcheck source=hack/common.sh
source "$(dirname "$0")/common.sh"
# shellcheck source=hack/testbed/build.sh
source "$XC_ROOT/hack/testbed/build.sh"

args=(--dest "${XC_BUNDLE_DIR:-$XC_CACHE/bundle}" --full-goarches "${XC_BUNDLE_FULL_GOARCHES:-amd64}")
for a in "$@"; do
  case "$a" in
    --full) args+=(--full-goarches all) ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) xc_die "unknown option '$a' (hack/bundle.sh [--full] [GOARCH ...])" ;;
    *) args+=(--goarch "$a") ;;
  esac
done
[ -z "${XC_BUNDLE_SETS:-}" ] || args+=(--sets "$XC_BUNDLE_SETS")
[ -z "${XC_BUNDLE_VERSION:-}" ] || args+=(--version "$XC_BUNDLE_VERSION")
[ -z "${XC_BUNDLE_KUBERNETES_VERSION:-}" ] || args+=(--kubernetes-version "$XC_BUNDLE_KUBERNETES_VERSION")
[ "${XC_BUNDLE_BUILD:-1}" != 0 ] || args+=(--no-build)
[ "${XC_BUNDLE_RUNC:-1}" != 0 ] || args+=(--no-runc)
[ "${XC_BUNDLE_REGISTRY:-1}" != 0 ] || args+=(--no-registry)
[ -z "${XC_BUNDLE_MIRROR:-}" ] || args+=(--debian-mirror "$XC_BUNDLE_MIRROR")
[ -z "${XC_SW64_GOROOT:-}" ] || args+=(--sw64-goroot "$XC_SW64_GOROOT")
tb_bundle bundle "${args[@]}"
