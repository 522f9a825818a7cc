#!/usr/bin/env bash
# The AWX execution environment (awx/execution-environment.yml, docs/awx.md):
#   hack/ee.sh create CONTEXT_DIR                      the collection artifact and the build context
#   hack/ee.sh build CONTEXT_DIR --base-image IMAGE [--tag TAG]
#                                                      also the image, with docker, from IMAGE
#                                                      (present locally: nothing is pulled)
# shellcheck source=hack/common.sh
source "$(dirname "$0")/common.sh"
cmd="${1:-}"; context="${2:-}"
if [ -z "$cmd" ] || [ -z "$context" ]; then sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
shift 2
base="" tag="xinchuang/ee:$(sed -n 's/^version: *//p' "$XC_ROOT/galaxy.yml")"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --base-image) base="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    *) xc_die "unknown option '$1' (hack/ee.sh create|build CONTEXT_DIR [--base-image IMAGE] [--tag TAG])" ;;
  esac
done
case "$cmd" in
  create|build) ;;
  *) xc_die "unknown command '$cmd': create or build" ;;
esac
[ "$cmd" = create ] || [ -n "$base" ] || xc_die "build needs --base-image IMAGE: no base image can be pulled here; give one that is present (docker image ls)"
mkdir -p "$XC_ROOT/awx/build"
(cd "$XC_ROOT" && "$XC_VENV/bin/ansible-galaxy" collection build --force --output-path awx/build . >&2)
version="$(sed -n 's/^version: *//p' "$XC_ROOT/galaxy.yml")"
mv -f "$XC_ROOT/awx/build/xinchuang-cloud-$version.tar.gz" "$XC_ROOT/awx/build/xinchuang-cloud.tar.gz"
(cd "$XC_ROOT/awx" && "$XC_VENV/bin/ansible-builder" create -f execution-environment.yml -c "$context" >&2)
if [ "$cmd" = build ]; then
  xc_ensure_docker
  docker image inspect "$base" >/dev/null 2>&1 || xc_die "the base image $base is not present: load it first (docker load -i ...)"
  docker build --pull=false --build-arg "EE_BASE_IMAGE=$base" -t "$tag" "$context" >&2
  xc_log "image $tag built from $base"
fi
echo "$context"
