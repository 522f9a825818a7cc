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
# recipes.py; the module offline_images and playbooks/images.yml run the same); this script maps
# its environment onto the builder's options. Each image is cached
# as an OCI layout under
#   $XC_CACHE/bundle/images/<name>/<tag>/<goarch>/<recipe>/oci      (XC_IMAGES_DIR)
# where <recipe> is a hash of everything that makes the image (sources, compiler, flags,
# image config, the layout tools' identities): a change of any of them builds a new one.
# push copies each GOARCH's image to <name>:<tag>-<goarch> (its blobs and manifest as they are;
# XC_IMAGES_PUSH_JOBS copies at once, default 3; a tag that has it already is left alone), then
# makes <name>:<tag> (and the pause aliases) an OCI index of them with image_manifest's code,
# every pushed platform required (PUSH and INDEX lines on stderr).
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

# img_push REGISTRY [--ca FILE] [--username U --password-file F] [--insecure] [GOARCH ...]: the
# builder's push (the password read from its file by the builder, never on a command line).
img_push() {
  [ "$#" -gt 0 ] || usage
  img_cli push --pause-aliases "$IMG_PAUSE_ALIASES" --push-jobs "$IMG_PUSH_JOBS" "$@"
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
