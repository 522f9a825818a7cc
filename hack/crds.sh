#!/usr/bin/env bash
# CRDs of the traffic providers, taken from their upstream Go module zips (no registry or
# release page is reachable here; the Go module proxy is, and the zips carry the CRD YAML).
#   hack/crds.sh fetch          download and cache both sets (idempotent, prints the dir)
#   hack/crds.sh path gateway   print the cached file(s) of one provider (gateway|istio)
# The cache is keyed by module version: $XC_CACHE/crds/<module>@<version>/... (Istio) and
# $XC_CACHE/manifests/gateway-api/<version>/ (the bundle's copy).
source "$(dirname "$0")/common.sh"

ISTIO_API_MODULE="istio.io/api"
ISTIO_API_VERSION="${XC_ISTIO_API_VERSION:-v1.32.0}"
export GOMODCACHE="${GOMODCACHE:-$XC_CACHE/go/mod}"
export GOFLAGS="${GOFLAGS:--modcacherw}"
CRD_CACHE="$XC_CACHE/crds"

# module_dir MODULE VERSION: the unpacked module directory in GOMODCACHE.
module_dir() {
  command -v go >/dev/null || xc_die "no Go toolchain on PATH; install Go (>= 1.22) or put /usr/local/go/bin on PATH"
  local json dir
  # go mod download needs no go.mod when given MODULE@VERSION; run it outside any module.
  if ! json="$(cd /tmp && GO111MODULE=on go mod download -json "$1@$2" 2>&1)"; then
    xc_die "go mod download $1@$2 failed (is the module proxy $(go env GOPROXY) reachable?): $json"
  fi
  dir="$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -1)"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then xc_die "go mod download $1@$2 printed no Dir: $json"; fi
  printf '%s\n' "$dir"
}

# The Gateway API CRDs are the bundle's (plugins/module_utils/bundle/policy.py, MANIFESTS):
# one version, one copy in the cache, for the tests and for the gateway role.
fetch_gateway() { xc_cli module_utils.bundle.build manifests gateway-api; }

fetch_istio() {
  local dest="$CRD_CACHE/istio-api@$ISTIO_API_VERSION"
  if [ ! -f "$dest/.complete" ]; then
    local src; src="$(module_dir "$ISTIO_API_MODULE" "$ISTIO_API_VERSION")"
    local f="$src/kubernetes/customresourcedefinitions.gen.yaml"
    [ -f "$f" ] || xc_die "$ISTIO_API_MODULE@$ISTIO_API_VERSION has no kubernetes/customresourcedefinitions.gen.yaml"
    rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
    cp "$f" "$dest.tmp/istio-crds.yaml"
    chmod -R u+w "$dest.tmp"
    touch "$dest.tmp/.complete"
    rm -rf "$dest"; mv "$dest.tmp" "$dest"
    xc_log "cached Istio CRDs ($ISTIO_API_VERSION) in $dest"
  fi
  printf '%s\n' "$dest"
}

case "${1:-}" in
  fetch)
    fetch_gateway
    fetch_istio
    ;;
  path)
    case "${2:-}" in
      gateway) ls -1 "$(fetch_gateway)"/*.yaml ;;
      istio) ls -1 "$(fetch_istio)"/*.yaml ;;
      *) xc_die "usage: hack/crds.sh path gateway|istio" ;;
    esac
    ;;
  *) xc_die "usage: hack/crds.sh fetch | path gateway|istio" ;;
esac
