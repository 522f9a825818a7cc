#!/usr/bin/env bash
# The images a cluster pulls before any application (docs/bundle.md), built here per GOARCH as
# single-architecture OCI images (one layer, no Docker), and published to a private registry:
#   hack/images.sh build [GOARCH ...]       default: amd64 arm64 loong64 mips64le
#   hack/images.sh push REGISTRY_HOST:PORT [--ca FILE] [--username U --password-file F]
#                       [--insecure] [GOARCH ...]
#   hack/images.sh list [GOARCH ...]        name, tag, GOARCH, digest and layout of each image
#   hack/images.sh nfs-tools GOARCH OUT     the nfsplugin image's Debian layer alone, at OUT
#   XC_IMAGES_SET=apps hack/images.sh build|list|push ...
#                                           the application images instead (below)
#
#   library/pause    the pause program of Kubernetes (C: build/pause/linux/pause.c of the
#                    k8s.io/kubernetes module of the matrix), static, with gcc for amd64 and
#                    Debian's cross gcc per GOARCH; tag from build/pause/Makefile (TAG),
#                    also published as XC_IMAGES_PAUSE_ALIASES (default 3.10.1, the
#                    container_runtime role's sandbox image)
#   coredns/coredns  the bundle's CoreDNS binary (matrix row coredns), like upstream's image:
#                    /coredns with cap_net_bind_service, user 65532, CA certificates
#   library/busybox  busybox compiled here from Debian's source package of XC_IMAGES_BUSYBOX_SUITE
#                    (trixie) with Debian's static configuration, one version for every
#                    GOARCH (gcc and Debian's cross gcc), a link per applet in /bin: a toolbox
#                    for tests and debugging; tag = that upstream version
#   sig-storage/csi-provisioner
#                    the CSI sidecar of the component table (set csi), like upstream's image:
#                    /csi-provisioner as entrypoint, root, CA certificates; tag = its version
#   library/traefik  the Gateway API data plane (component traefik, set gateway): /traefik as
#                    entrypoint, user 65532, ports 8000 and 8080, CA certificates
#   flannel/flannel  the Pod network's daemon (component flannel, set network): /opt/bin/flanneld
#                    as entrypoint, root, with iptables (nf_tables) and nft of the
#                    architecture's Debian suite and the libraries they link
#   cloudnativelabs/kube-router
#                    the NetworkPolicy engine (component kube-router, set network):
#                    /usr/local/bin/kube-router as entrypoint, root, with iptables (nf_tables) and
#                    ipset of the architecture's Debian suite and the libraries they link
#   sig-storage/nfsplugin
#                    when the table has an nfsplugin row (today the module proxy serves none):
#                    /nfsplugin with mount and mount.nfs of the architecture's Debian suite and
#                    the library packages they link
#
#   XC_IMAGES_SET=apps: the recipes of plugins/module_utils/images/app_images.py (nginx, redis,
#                    memcached, fio ...): the files each takes of Debian's packages of the
#                    architecture's suite with the libraries they link, the project's own
#                    configuration files, a user
#                    other than root; tag = the upstream version each child holds (children
#                    of another version get another tag; a mixed index is refused)
#
# The builder is the collection's (plugins/module_utils/images/builder.py, the rules in
# recipes.py); this script maps its environment onto the builder's options. Each image is cached
# as an OCI layout under
#   $XC_CACHE/bundle/images/<name>/<tag>/<goarch>/<recipe>/oci      (XC_IMAGES_DIR)
# where <recipe> is a hash of everything that makes the image (sources, compiler, flags,
# image config, the layout tools' identities): a change of any of them builds a new one.
# push copies each GOARCH's image to <name>:<tag>-<goarch> (skopeo, XC_IMAGES_PUSH_JOBS copies at
# once, default 3), then makes <name>:<tag>
# (and the pause aliases) an OCI index of them with xinchuang.cloud.image_manifest
# (hack/images/publish.yml), every pushed platform required.
# loong64: bookworm has no loongarch cross gcc: a chroot of Debian XC_IMAGES_CROSS_SUITE
# (default trixie) with gcc-loongarch64-linux-gnu is made once with debootstrap under
# $XC_CACHE/toolchains. sw64: no upstream Go nor Debian cross gcc: skipped, saying so.
#
# Environment: XC_IMAGES_DIR, XC_IMAGES_PAUSE_ALIASES, XC_IMAGES_PUSH_JOBS, XC_IMAGES_CROSS_SUITE, XC_IMAGES_BUSYBOX_SUITE,
#   XC_IMAGES_MIRROR (Debian mirror for that chroot; default http://deb.debian.org/debian)
# shellcheck source=hack/common.sh
source "$(dirname "$0")/common.sh"

IMG_PAUSE_ALIASES="${XC_IMAGES_PAUSE_ALIASES-3.10.1}"
IMG_PUSH_JOBS="${XC_IMAGES_PUSH_JOBS:-3}"

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# img_cli COMMAND ARGS...: the collection's image builder with this script's environment.
img_cli() {
  local cmd="$1"; shift
  local opts=(--set "${XC_IMAGES_SET:-cluster}" --cross-suite "${XC_IMAGES_CROSS_SUITE:-trixie}"
              --busybox-suite "${XC_IMAGES_BUSYBOX_SUITE:-trixie}"
              --debian-mirror "${XC_IMAGES_MIRROR:-http://deb.debian.org/debian}")
  [ -z "${XC_IMAGES_DIR:-}" ] || opts+=(--images-dir "$XC_IMAGES_DIR")
  xc_cli module_utils.images.builder "$cmd" "${opts[@]}" "$@"
}

img_push() {
  local registry="" ca="" user="" pwfile="" insecure=0 args=()
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --ca) ca="$(realpath -m "${2:?--ca needs a file}")"; shift 2 ;;
      --username) user="${2:?--username needs a value}"; shift 2 ;;
      --password-file) pwfile="$(realpath -m "${2:?--password-file needs a file}")"; shift 2 ;;
      --insecure) insecure=1; shift ;;
      -*) xc_die "unknown option '$1'" ;;
      *) if [ -z "$registry" ]; then registry="$1"; else args+=("$1"); fi; shift ;;
    esac
  done
  [ -n "$registry" ] || usage
  case "$registry" in */*) xc_die "give the registry as HOST:PORT, without scheme or path (got '$registry')" ;; esac
  [ -z "$ca" ] || [ -f "$ca" ] || xc_die "--ca $ca: no such file"
  if [ -n "$user" ] || [ -n "$pwfile" ]; then
    if [ -z "$user" ] || [ ! -f "$pwfile" ]; then
      xc_die "--username and --password-file (an existing file) go together"
    fi
  fi
  command -v skopeo >/dev/null || xc_die "skopeo is missing: run hack/deps.sh"
  [ -x "$XC_ROOT/.venv/bin/ansible-playbook" ] || xc_die "no project virtualenv: run hack/setup.sh"
  local built
  built="$(img_cli list "${args[@]}")" || xc_die "the images could not be built (above)"

  local tmp; tmp="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  local skopeo_args=(--quiet --preserve-digests --retry-times 2)
  if [ "$insecure" = 1 ]; then
    skopeo_args+=(--dest-tls-verify=false)
  elif [ -n "$ca" ]; then
    mkdir -p "$tmp/certs"; cp "$ca" "$tmp/certs/ca.crt"
    skopeo_args+=(--dest-cert-dir "$tmp/certs")
  fi
  ( umask 077
    python3 - "$registry" "$user" "$pwfile" "$tmp/auth.json" <<'PY'
import base64, json, sys
registry, user, pwfile, out = sys.argv[1:]
auths = {}
if user:
    password = open(pwfile).read().rstrip("\n")
    auths[registry] = {"auth": base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}
json.dump({"auths": auths}, open(out, "w"))
PY
  )
  skopeo_args+=(--dest-authfile "$tmp/auth.json")

  case "$IMG_PUSH_JOBS" in ''|*[!0-9]*|0) xc_die "XC_IMAGES_PUSH_JOBS=$IMG_PUSH_JOBS: give a number of copies at once, 1 or more" ;; esac
  local name tag goarch layout t0 running=0
  t0=$(date +%s)
  # A few copies at once: each is mostly waiting on the registry's round trips.
  while IFS=$'\t' read -r name tag goarch _ layout; do
    if [ "$running" -ge "$IMG_PUSH_JOBS" ]; then wait -n || true; running=$((running - 1)); fi
    ( if skopeo copy "${skopeo_args[@]}" "oci:$layout:$tag" "docker://$registry/$name:$tag-$goarch"; then
        printf 'PUSH %s/%s:%s-%s\n' "$registry" "$name" "$tag" "$goarch" >&2
      else
        printf '%s:%s (%s)\n' "$name" "$tag" "$goarch" >>"$tmp/failed"
      fi ) &
    running=$((running + 1))
  done <<<"$built"
  wait
  [ ! -s "$tmp/failed" ] || xc_die "skopeo copy to $registry failed (above) for: $(paste -sd ' ' "$tmp/failed")"
  xc_log "pushed $(grep -c . <<<"$built") images in $(( $(date +%s) - t0 ))s; publishing the indexes"

  ( umask 077
    printf '%s\n' "$built" >"$tmp/built.tsv"
    PYTHONPATH="$XC_ROOT/.collections" python3 - "$registry" "$user" "$pwfile" "$ca" "$insecure" "$IMG_PAUSE_ALIASES" \
      "$tmp/built.tsv" "$tmp/vars.json" "${XC_IMAGES_SET:-cluster}" <<'PY'
import json, sys
from ansible_collections.xinchuang.cloud.plugins.module_utils.images.recipes import index_specs
registry, user, pwfile, ca, insecure, aliases, built, out, image_set = sys.argv[1:]
children = [line.split("\t")[:3] for line in open(built).read().splitlines()]
doc = {"images_registry": registry, "images_indexes": index_specs(children, image_set, aliases.split()),
       "images_username": user or None,
       "images_password": open(pwfile).read().rstrip("\n") if user else None,
       "images_ca_path": ca or None, "images_validate_certs": insecure != "1"}
json.dump(doc, open(out, "w"))
PY
  )
  local out
  if ! out="$(
      # shellcheck source=hack/env.sh
      source "$XC_ROOT/hack/env.sh"
      unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE
      ANSIBLE_STDOUT_CALLBACK=ansible.posix.json ansible-playbook -i localhost, -c local \
        "$XC_ROOT/hack/images/publish.yml" -e "@$tmp/vars.json" 2>"$tmp/publish.err" </dev/null)"; then
    printf '%s\n' "$out" | python3 -c 'import json, sys
try:
    for t in json.load(sys.stdin)["plays"][0]["tasks"]:
        print(t["hosts"]["localhost"].get("msg", ""))
except Exception:
    pass' >&2
    tail -n 20 "$tmp/publish.err" >&2
    xc_die "publishing the indexes on $registry failed (hack/images/publish.yml)"
  fi
  # One line per index: INDEX registry/name:tag digest platforms changed|unchanged
  # [version=VALUE: the one version the publisher read on every child]
  printf '%s\n' "$out" | python3 -c 'import json, sys
res = json.load(sys.stdin)["plays"][0]["tasks"][0]["hosts"]["localhost"]
for i in res["indexes"]:
    print("INDEX %s/%s:%s %s %s %s%s" % (sys.argv[1], i["repository"], i["tag"], i["digest"],
          ",".join(i["platforms"]), "changed" if i["changed"] else "unchanged",
          " version=%s" % i["same_label_value"] if i.get("same_label_value") else ""))' "$registry" >&2
  xc_log "published in $(( $(date +%s) - t0 ))s"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  build|list) img_cli "$cmd" "$@" ;;
  push) img_push "$@" ;;
  nfs-tools)
    [ "$#" -eq 2 ] || usage
    img_cli nfs-tools "$1" "$(realpath -m "$2")"
    ;;
  *) usage ;;
esac
