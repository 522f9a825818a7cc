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
#                    the library packages they link (hack/images/debian_tree.py)
#
#   XC_IMAGES_SET=apps: the recipes of plugins/module_utils/images/app_images.py (nginx, redis,
#                    memcached, fio ..., through hack/images/debian_apps.py): the files each
#                    takes of Debian's packages of the architecture's suite with the libraries
#                    they link (debian_tree.py), the project's own configuration files, a user
#                    other than root; tag = the upstream version each child holds (children
#                    of another version get another tag; a mixed index is refused)
#
# Each image is cached as an OCI layout under
#   $XC_CACHE/bundle/images/<name>/<tag>/<goarch>/<recipe>/oci      (XC_IMAGES_DIR)
# where <recipe> is a hash of everything that makes the image (sources, compiler, flags,
# image config, hack/images/oci.py): a change of any of them builds a new one.
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
TB_STATE="${TB_STATE:-$XC_ROOT/.testbed}"
# shellcheck source=hack/testbed/build.sh
source "$XC_ROOT/hack/testbed/build.sh"
# shellcheck source=hack/lab/archs.sh
source "$XC_ROOT/hack/lab/archs.sh"   # LAB_SUITE: the Debian suite carrying each architecture

IMG_DIR="${XC_IMAGES_DIR:-$XC_CACHE/bundle/images}"
IMG_PAUSE_ALIASES="${XC_IMAGES_PAUSE_ALIASES-3.10.1}"
IMG_PUSH_JOBS="${XC_IMAGES_PUSH_JOBS:-3}"
IMG_CROSS_SUITE="${XC_IMAGES_CROSS_SUITE:-trixie}"
IMG_MIRROR="${XC_IMAGES_MIRROR:-http://deb.debian.org/debian}"
IMG_BUSYBOX_SUITE="${XC_IMAGES_BUSYBOX_SUITE:-trixie}"
IMG_DEFAULT_GOARCHES=(amd64 arm64 loong64 mips64le)
IMG_OCI="$XC_ROOT/hack/images/oci.py"
IMG_TOOLCHAINS="$XC_CACHE/toolchains"

xc_link_collection

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

img_oci() { PYTHONPATH="$XC_ROOT/.collections" python3 "$IMG_OCI" "$@"; }
img_sha() { sha256sum "$1" | cut -d' ' -f1; }
img_matrix_version() { tb_bundle version "$1"; }

# --- the pause program ---------------------------------------------------------------------

# The k8s.io/kubernetes module of the matrix, from the Go module cache (downloaded once).
img_kubernetes_dir() {
  local version dir
  version="$(img_matrix_version kube-apiserver)"
  dir="$(tb_bundle source kube-apiserver)" || xc_die "cannot fetch k8s.io/kubernetes@$version"
  [ -f "$dir/build/pause/linux/pause.c" ] || xc_die "k8s.io/kubernetes@$version has no build/pause/linux/pause.c (in $dir)"
  echo "$dir"
}

# The GNU triplet of a GOARCH, from its dpkg architecture (the model's deb_arch).
img_triplet() {
  local deb_arch; deb_arch="$(xc_model deb_arch "$1")"
  dpkg-architecture -a "$deb_arch" -qDEB_HOST_GNU_TYPE 2>/dev/null \
    || xc_die "dpkg-architecture knows no GNU type for $deb_arch ($1): no Debian cross gcc"
}

# img_toolchain GOARCH: "" when <triplet>-gcc is on the host, else the root of a chroot of
# Debian $IMG_CROSS_SUITE that has it (made once with debootstrap).
img_toolchain() {
  local goarch="$1" triplet deb_arch root
  triplet="$(img_triplet "$goarch")"
  if command -v "$triplet-gcc" >/dev/null 2>&1; then echo ""; return 0; fi
  deb_arch="$(xc_model deb_arch "$goarch")"
  root="$IMG_TOOLCHAINS/$IMG_CROSS_SUITE-cross-$deb_arch"
  if [ ! -x "$root/usr/bin/$triplet-gcc" ]; then
    mkdir -p "$IMG_TOOLCHAINS"
    exec 7>"$IMG_TOOLCHAINS/.lock"
    flock 7
    if [ ! -x "$root/usr/bin/$triplet-gcc" ]; then
      command -v debootstrap >/dev/null || xc_die "debootstrap is missing: run hack/deps.sh"
      xc_log "no $triplet-gcc on this machine: making a Debian $IMG_CROSS_SUITE chroot with it ($root, log $root.log)"
      rm -rf "$root.tmp"
      if ! debootstrap --variant=minbase --include="gcc-$triplet,libc6-dev-$deb_arch-cross" \
          "$IMG_CROSS_SUITE" "$root.tmp" "$IMG_MIRROR" >"$root.log" 2>&1; then
        tail -n 15 "$root.log" >&2
        rm -rf "$root.tmp"
        xc_die "debootstrap of $IMG_CROSS_SUITE with gcc-$triplet failed (log $root.log); set XC_IMAGES_MIRROR or XC_IMAGES_CROSS_SUITE"
      fi
      rm -rf "$root.tmp/var/cache/apt/archives/"*.deb
      rm -rf "$root"; mv "$root.tmp" "$root"
    fi
    exec 7>&-
  fi
  echo "$root"
}

# img_run_in ROOT ARGS...: ARGS on this machine (ROOT "") or in the chroot ROOT.
img_run_in() {
  local root="$1"; shift
  if [ -z "$root" ]; then "$@"; else chroot "$root" "$@"; fi
}

# img_cc ROOT TRIPLET TOOL ARGS...: run <triplet>-TOOL on the host (ROOT "") or in the chroot.
img_cc() {
  local root="$1" triplet="$2" tool="$3"; shift 3
  img_run_in "$root" "$triplet-$tool" "$@"
}

img_pause_tag() {
  local tag
  tag="$(sed -n 's/^TAG ?= *\([0-9][0-9.]*\)[[:space:]]*$/\1/p' "$1/build/pause/Makefile")"
  [ -n "$tag" ] || xc_die "no 'TAG ?= x.y' in $1/build/pause/Makefile"
  echo "$tag"
}

# img_prune DIR: the images of other recipes beside DIR (same name, tag, GOARCH) are stale.
img_prune() {
  local d
  for d in "$(dirname "$1")"/*/; do
    d="${d%/}"
    [ "$d" = "$1" ] || rm -rf "$d"
  done
}

# img_store NAME TAG GOARCH RECIPE MAKER: the image of RECIPE, cached under
# $IMG_DIR/NAME/TAG/GOARCH/<hash of RECIPE>; when absent, MAKER (a function, reading its
# caller's variables) writes oci/ and image.json into the directory it is given, which then
# replaces the images of other recipes. Prints "name<TAB>tag<TAB>dir".
img_store() {
  local name="$1" tag="$2" goarch="$3" recipe="$4" maker="$5" id dir t0
  id="$(sha256sum <<<"$recipe" | cut -c1-16)"
  dir="$IMG_DIR/$name/$tag/$goarch/$id"
  # One builder per image at a time (two test workers may ask for the same cold image): the
  # second waits, then finds it built.
  mkdir -p "$(dirname "$dir")"
  exec 8>"$(dirname "$dir")/.lock"
  flock 8
  if [ ! -f "$dir/oci/index.json" ]; then
    t0=$(date +%s)
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    "$maker" "$dir.tmp" || xc_die "making the $name:$tag image for $goarch failed"
    printf '%s\n' "$recipe" >"$dir.tmp/recipe"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    img_prune "$dir"
    printf 'IMAGE %-18s %-8s %-9s %4ds  %s\n' "$name" "$tag" "$goarch" "$(( $(date +%s) - t0 ))" "$dir" >&2
  fi
  exec 8>&-
  printf '%s\t%s\t%s\n' "$name" "$tag" "$dir"
}

# img_build_pause GOARCH: prints "name<TAB>tag<TAB>dir" of the cached image.
img_build_pause() {
  local goarch="$1" k8s src tag k8s_version triplet root cc_id cflags recipe
  k8s="$(img_kubernetes_dir)"
  src="$k8s/build/pause/linux/pause.c"
  tag="$(img_pause_tag "$k8s")"
  k8s_version="${k8s##*@}"
  triplet="$(img_triplet "$goarch")"
  root="$(img_toolchain "$goarch")"
  cc_id="$(img_cc "$root" "$triplet" gcc --version | head -n1)" \
    || xc_die "$triplet-gcc does not run; run hack/deps.sh"
  # upstream's CFLAGS (build/pause/Makefile); its REV is `git describe`, here the module version.
  cflags="-Os -Wall -Werror -static -DVERSION=v$tag-$k8s_version"
  recipe="$(printf 'image library/pause:%s %s\nsource k8s.io/kubernetes@%s build/pause/linux/pause.c sha256:%s\ncompiler %s-gcc %s%s\ncflags %s\nstrip %s-strip\nconfig entrypoint=/pause user=65535:65535\ntool oci.py sha256:%s\n' \
    "$tag" "$goarch" "$k8s_version" "$(img_sha "$src")" "$triplet" "$cc_id" \
    "${root:+ (chroot $IMG_CROSS_SUITE)}" "$cflags" "$triplet" "$(img_sha "$IMG_OCI")")"
  img_store library/pause "$tag" "$goarch" "$recipe" img_make_pause
}

img_make_pause() {
  local out="$1"
  if [ -z "$root" ]; then
    # shellcheck disable=SC2086 # the flags are words
    img_cc "" "$triplet" gcc $cflags -o "$out/pause" "$src" >&2 \
      || xc_die "compiling pause.c for $goarch failed"
    img_cc "" "$triplet" strip "$out/pause"
  else
    local work; work="$(mktemp -d "$root/tmp/xc-pause.XXXXXX")"
    cp "$src" "$work/pause.c"
    # shellcheck disable=SC2086
    img_cc "$root" "$triplet" gcc $cflags -o "${work#"$root"}/pause" "${work#"$root"}/pause.c" >&2 \
      || { rm -rf "$work"; xc_die "compiling pause.c for $goarch in $root failed"; }
    img_cc "$root" "$triplet" strip "${work#"$root"}/pause"
    mv "$work/pause" "$out/pause"; rm -rf "$work"
  fi
  img_oci build --goarch "$goarch" --tag "$tag" --out "$out/oci" \
    --file "pause=$out/pause:0755" --entrypoint /pause --user 65535:65535 \
    --created-by "pause.c of k8s.io/kubernetes@$k8s_version, $cc_id, $cflags" >"$out/image.json"
}

# --- CoreDNS -------------------------------------------------------------------------------

img_build_coredns() {
  local goarch="$1" version bin certs recipe
  version="$(img_matrix_version coredns)"
  tb_build coredns "$goarch"
  bin="$(tb_row_path coredns "$goarch" coredns)"
  certs=/etc/ssl/certs/ca-certificates.crt
  [ -f "$certs" ] || xc_die "$certs is missing: run hack/deps.sh (ca-certificates)"
  recipe="$(printf 'image coredns/coredns:%s %s\nbinary coredns sha256:%s\nfile /etc/ssl/certs/ca-certificates.crt sha256:%s\nconfig entrypoint=/coredns user=65532:65532 cap_net_bind_service expose=53/tcp,53/udp\ntool oci.py sha256:%s\n' \
    "$version" "$goarch" "$(img_sha "$bin")" "$(img_sha "$certs")" "$(img_sha "$IMG_OCI")")"
  img_store coredns/coredns "$version" "$goarch" "$recipe" img_make_coredns
}

img_make_coredns() {
  img_oci build --goarch "$goarch" --tag "$version" --out "$1/oci" \
    --file "coredns=$bin:0755" --cap coredns=net_bind_service \
    --file "etc/ssl/certs/ca-certificates.crt=$certs:0644" \
    --entrypoint /coredns --user 65532:65532 --expose 53/tcp --expose 53/udp \
    --created-by "coredns $version of the component table (bundle_policy.py)" >"$1/image.json"
}

# --- busybox (a toolbox for tests and debugging) -----------------------------------------------

# busybox is compiled here, for every GOARCH from one Debian source package (IMG_BUSYBOX_SUITE's,
# default trixie) with Debian's own static configuration, so that every child of the index holds
# the version its tag says. Debian's binary packages could not give that: bookworm's 1.35.0 (the
# only one for mips64el) is built without FEATURE_WGET_TIMEOUT, and its `wget -T N` writes N
# through a null pointer (a segmentation fault that looks like a network failure), while
# loong64 has only sid's. The build asserts the option, and the image test fetches with -T.
img_busybox_source() {
  XC_DEBIAN_MIRROR="$IMG_MIRROR" xc_cli module_utils.bundle.build debian-source "$IMG_BUSYBOX_SUITE" busybox \
    || xc_die "the busybox source package of Debian $IMG_BUSYBOX_SUITE could not be fetched; set XC_IMAGES_MIRROR or XC_IMAGES_BUSYBOX_SUITE"
}

# img_build_tools ROOT: the chroot of a cross gcc (img_toolchain) gets what busybox's build runs
# besides the cross gcc (make, a gcc for its own host programs, bzip2), installed once.
IMG_BUILD_TOOLS=(make gcc bzip2)
img_build_tools() {
  local root="$1" tool missing=()
  [ -n "$root" ] || return 0
  for tool in "${IMG_BUILD_TOOLS[@]}"; do [ -x "$root/usr/bin/$tool" ] || missing+=("$tool"); done
  [ "${#missing[@]}" -gt 0 ] || return 0
  exec 7>"$IMG_TOOLCHAINS/.lock"
  flock 7
  xc_log "installing ${missing[*]} in $root (log $root.tools.log)"
  { chroot "$root" apt-get -q update && chroot "$root" env DEBIAN_FRONTEND=noninteractive \
      apt-get -q install -y --no-install-recommends "${IMG_BUILD_TOOLS[@]}" libc6-dev; } >"$root.tools.log" 2>&1 \
    || { tail -n 15 "$root.tools.log" >&2; xc_die "installing ${missing[*]} in $root failed (log $root.tools.log)"; }
  rm -rf "$root/var/cache/apt/archives/"*.deb
  exec 7>&-
}

# img_build_busybox GOARCH: the toolbox image, busybox with a symbolic link per applet in /bin
# (`busybox --install -s /bin`, the layout of the busybox image users know), so that `sleep` or
# `sh` run by name; the applets are read from the binary (hack/images/busybox_applets.py).
img_build_busybox() {
  local goarch="$1" src version tag triplet root cc_id config recipe
  src="$(img_busybox_source)"
  version="$(cat "$src/VERSION")"
  tag="$(img_apps upstream "$version")"   # the rule of app_images.upstream_version
  triplet="$(img_triplet "$goarch")"
  root="$(img_toolchain "$goarch")"
  img_build_tools "$root"
  cc_id="$(img_cc "$root" "$triplet" gcc --version | head -n1)" \
    || xc_die "$triplet-gcc does not run; run hack/deps.sh"
  # Debian's flavour "static" (debian/rules: the os config, then the flavour's), with the
  # option this build exists for set whatever the suite's configuration says.
  config="$(cat "$src/debian/config/os/linux" "$src/debian/config/pkg/static" \
    | sed -e '/^# CONFIG_FEATURE_WGET_TIMEOUT is not set$/d' -e '/^CONFIG_FEATURE_WGET_TIMEOUT=/d')
CONFIG_FEATURE_WGET_TIMEOUT=y"
  recipe="$(printf 'image library/busybox:%s %s\nsource busybox %s (Debian %s)\nconfig sha256:%s\ncompiler %s-gcc %s%s\nstrip %s-strip\nlinks /bin/<applet> -> busybox\nconfig cmd=sh label version=%s\ntool oci.py sha256:%s busybox_applets.py sha256:%s\n' \
    "$tag" "$goarch" "$version" "$IMG_BUSYBOX_SUITE" "$(sha256sum <<<"$config" | cut -d' ' -f1)" \
    "$triplet" "$cc_id" "${root:+ (chroot $IMG_CROSS_SUITE)}" "$triplet" "$tag" \
    "$(img_sha "$IMG_OCI")" "$(img_sha "$XC_ROOT/hack/images/busybox_applets.py")")"
  img_store library/busybox "$tag" "$goarch" "$recipe" img_make_busybox
}

img_make_busybox() {
  local out="$1" work inner links=() applet applets
  work="$(mktemp -d "${root:-}/tmp/xc-busybox.XXXXXX")"
  inner="${work#"$root"}"
  cp -a "$src" "$work/src"; mkdir "$work/b"
  printf '%s\n' "$config" >"$work/b/.config"
  xc_log "compiling busybox $version for $goarch ($triplet-gcc${root:+ in $root}; log $out/build.log)"
  # `yes` ends on SIGPIPE: its status is not the build's (pipefail).
  if ! { { yes "" || true; } | img_run_in "$root" env KCONFIG_NOTIMESTAMP=1 make -C "$inner/b" -f "$inner/src/Makefile" \
           KBUILD_SRC="$inner/src" silentoldconfig \
         && img_run_in "$root" env KCONFIG_NOTIMESTAMP=1 make -C "$inner/b" -j"$(nproc)" busybox \
           CROSS_COMPILE="$triplet-" SKIP_STRIP=y BB_EXTRA_VERSION="Debian $version"; } >"$out/build.log" 2>&1; then
    tail -n 20 "$out/build.log" >&2; rm -rf "$work"
    xc_die "compiling busybox $version for $goarch failed (log above)"
  fi
  if ! grep -qx 'CONFIG_FEATURE_WGET_TIMEOUT=y' "$work/b/.config" || ! grep -qx 'CONFIG_STATIC=y' "$work/b/.config"; then
    rm -rf "$work"; xc_die "busybox's configuration lost FEATURE_WGET_TIMEOUT or STATIC (Debian $version)"
  fi
  img_cc "$root" "$triplet" strip "$inner/b/busybox"
  mv "$work/b/busybox" "$out/busybox"; rm -rf "$work"
  applets="$(python3 "$XC_ROOT/hack/images/busybox_applets.py" "$out/busybox")" \
    || xc_die "no applet list in the busybox built for $goarch"
  while IFS= read -r applet; do
    [ "$applet" = busybox ] || links+=(--symlink "bin/$applet=busybox")
  done <<<"$applets"
  # No entrypoint, `sh` as command: `docker run busybox sleep 5` / `kubectl run -- sleep 5`
  # run the applet by name, as with the image users know.
  img_oci build --goarch "$goarch" --tag "$tag" --out "$out/oci" \
    --file "bin/busybox=$out/busybox:0755" "${links[@]}" --cmd sh \
    --label "org.opencontainers.image.version=$tag" \
    --created-by "busybox $version of Debian $IMG_BUSYBOX_SUITE, its static configuration, $cc_id; a link per applet in /bin" >"$out/image.json"
}

# --- static Go programs: the CSI sidecars, the Gateway API data plane -------------------------

# Static Go programs of the component table, like upstream's images: the binary as /<binary>
# and the entrypoint, with Debian's CA bundle as distroless carries one. Fields: image, set,
# component, binary, user (root: no USER, as the CSI Dockerfiles: FROM gcr.io/distroless/static),
# exposed ports (comma-separated, - for none).
# Not here, because the Go module proxy serves none of their modules (403 for every version):
# sig-storage/nfsplugin (github.com/kubernetes-csi/csi-driver-nfs), csi-node-driver-registrar
# and livenessprobe; their go.mod paths lack the /v4, /v2 of their release tags, so only
# pseudo-versions could name a release anyway. With a row for nfsplugin in the table,
# img_build_nfsplugin makes its image (below).
# library/traefik: the gateway role's data plane (docs/roles/gateway.md), listening on
# unprivileged ports (8000 traffic, 8080 metrics and health) as user 65532.
IMG_STATIC_IMAGES=(
  "sig-storage/csi-provisioner csi csi-provisioner csi-provisioner root -"
  "library/traefik gateway traefik traefik 65532:65532 8000/tcp,8080/tcp"
)

img_build_static() {
  local name="$1" set="$2" component="$3" binary="$4" user="$5" ports="$6" goarch="$7"
  local version bin certs recipe config
  version="$(img_matrix_version "$component")"
  tb_build "$set" "$goarch"
  bin="$(tb_row_path "$set" "$goarch" "$binary")"
  [ -x "$bin" ] || xc_die "no $binary for $goarch in the build cache after building set $set ($bin)"
  certs=/etc/ssl/certs/ca-certificates.crt
  [ -f "$certs" ] || xc_die "$certs is missing: run hack/deps.sh (ca-certificates)"
  config="entrypoint=/$binary user=$user"
  [ "$ports" = - ] || config+=" expose=$ports"
  recipe="$(printf 'image %s:%s %s\nbinary %s sha256:%s\nfile /etc/ssl/certs/ca-certificates.crt sha256:%s\nconfig %s\ntool oci.py sha256:%s\n' \
    "$name" "$version" "$goarch" "$binary" "$(img_sha "$bin")" "$(img_sha "$certs")" "$config" "$(img_sha "$IMG_OCI")")"
  img_store "$name" "$version" "$goarch" "$recipe" img_make_static
}

img_make_static() {
  local extra=() port
  [ "$user" = root ] || extra+=(--user "$user")
  if [ "$ports" != - ]; then
    for port in ${ports//,/ }; do extra+=(--expose "$port"); done
  fi
  img_oci build --goarch "$goarch" --tag "$version" --out "$1/oci" \
    --file "$binary=$bin:0755" --file "etc/ssl/certs/ca-certificates.crt=$certs:0644" \
    --entrypoint "/$binary" "${extra[@]}" \
    --created-by "$component $version of the component table (bundle_policy.py)" >"$1/image.json"
}

# The NFS node plugin runs `mount -t nfs`: util-linux's mount and nfs-common's mount.nfs of the
# architecture's Debian suite, with the library packages they link and those libraries'
# own (hack/images/debian_tree.py; plugins/module_utils/images/debian_closure.py), and netbase's
# /etc/services, /etc/protocols and /etc/rpc (upstream's image installs mount, nfs-common and
# netbase). Each: PACKAGE:FILES:LIBRARY PACKAGES THE FILES LINK (name prefixes).
IMG_NFS_TAKES=(
  "mount:usr/bin/mount:libc6,libmount1,libselinux1"
  "nfs-common:usr/sbin/mount.nfs,usr/sbin/mount.nfs4,usr/sbin/umount.nfs,usr/sbin/umount.nfs4:libc6,libmount1,libtirpc3"
  "netbase:etc/"
)

# img_debian_tree GOARCH WHAT TAKE...: the tab-separated file list (debian_tree.py's output) of
# the TAKEs of GOARCH's Debian suite (WHAT names them in an error); packages fetched once into
# $XC_CACHE/debian-packages.
img_debian_tree() {
  local goarch="$1" what="$2" deb_arch suite
  shift 2
  deb_arch="$(xc_model deb_arch "$goarch")"
  suite="${LAB_SUITE[$deb_arch]:-bookworm}"
  XC_DEBIAN_MIRROR="$IMG_MIRROR" PYTHONPATH="$XC_ROOT/.collections" \
    python3 "$XC_ROOT/hack/images/debian_tree.py" --suite "$suite" --arch "$deb_arch" "$@" \
    || xc_die "$what of Debian $suite ($deb_arch) could not be gathered; set XC_IMAGES_MIRROR"
}

# img_tree_tools: the recipe's "tool" words of an image made from a Debian tree (what lays it
# out and gathers it), so a change of either builds it again.
img_tree_tools() {
  printf 'oci.py sha256:%s debian_tree.py sha256:%s debian_closure.py sha256:%s' "$(img_sha "$IMG_OCI")" \
    "$(img_sha "$XC_ROOT/hack/images/debian_tree.py")" "$(img_sha "$XC_ROOT/plugins/module_utils/images/debian_closure.py")"
}

# img_nfs_tools GOARCH: the file list of the NFS tools for GOARCH.
img_nfs_tools() { img_debian_tree "$1" "the NFS tools" "${IMG_NFS_TAKES[@]}"; }

# img_layer_args FILELIST: oci.py's --file and --symlink arguments (one a line) of a file list.
img_layer_args() {
  awk -F'\t' '$1 == "file" { print "--file"; print $2 "=" $3 ":" $4 }
              $1 == "link" { print "--symlink"; print $2 "=" $3 }' <<<"$1"
}

# img_build_nfsplugin GOARCH: the node plugin (component nfsplugin, set csi) on the NFS tools.
img_build_nfsplugin() {
  local goarch="$1" name=sig-storage/nfsplugin binary=nfsplugin component=nfsplugin version bin tools recipe
  version="$(img_matrix_version nfsplugin)"
  tb_build csi "$goarch"
  bin="$(tb_row_path csi "$goarch" nfsplugin)"
  tools="$(img_nfs_tools "$goarch")"
  recipe="$(printf 'image %s:%s %s\nbinary nfsplugin sha256:%s\n%s\nconfig entrypoint=/nfsplugin user=root\ntool %s\n' \
    "$name" "$version" "$goarch" "$(img_sha "$bin")" "$(grep '^package' <<<"$tools")" "$(img_tree_tools)")"
  img_store "$name" "$version" "$goarch" "$recipe" img_make_nfsplugin
}

img_make_nfsplugin() {
  local args=()
  mapfile -t args < <(img_layer_args "$tools")
  img_oci build --goarch "$goarch" --tag "$version" --out "$1/oci" \
    --file "nfsplugin=$bin:0755" "${args[@]}" --entrypoint /nfsplugin \
    --created-by "nfsplugin $version of the component table, mount and mount.nfs of Debian $(grep -c '^package' <<<"$tools") packages" \
    >"$1/image.json"
}

# --- the Pod network: flannel and kube-router -----------------------------------------------

# flannel/flannel: the Pod network's daemon (component flannel, set network; the kubernetes role's
# kubernetes_cni: flannel), like upstream's image: /opt/bin/flanneld as entrypoint, root (it sets
# up the node's VXLAN link, routes and netfilter rules from the host's network namespace), with
# the tools it runs: iptables in its nf_tables variant (the names upstream's Alpine image has,
# as links to xtables-nft-multi, with its extensions) and nft (its nftables mode) of the
# architecture's Debian suite, with the libraries they link. Tag: the component's version, v
# included, as upstream tags it.
IMG_XTABLES_TAKE="iptables:usr/sbin/xtables-nft-multi,usr/lib/:libc6,libxtables,libnftnl,libmnl,libnetfilter-conntrack,libnfnetlink"
IMG_FLANNEL_TAKES=("$IMG_XTABLES_TAKE" "nftables:usr/sbin/nft:libc6,libnftables,libedit")
# cloudnativelabs/kube-router: the NetworkPolicy engine (component kube-router, set network; the
# network role's network_policy_engine), like upstream's image: /usr/local/bin/kube-router as
# entrypoint, root, with the tools its firewall runs: iptables (nf_tables, as the node's
# kube-proxy and flanneld write) and ipset. Tag: the component's version.
IMG_KUBE_ROUTER_TAKES=("$IMG_XTABLES_TAKE" "ipset:usr/sbin/ipset:libc6,libipset")
IMG_XTABLES_LINKS=(iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore)

# img_build_flannel GOARCH / img_build_kube_router GOARCH
img_build_flannel() {
  img_build_netfilter_daemon "$1" flannel/flannel flannel flanneld opt/bin/flanneld "nft" "${IMG_FLANNEL_TAKES[@]}"
}
img_build_kube_router() {
  img_build_netfilter_daemon "$1" cloudnativelabs/kube-router kube-router kube-router usr/local/bin/kube-router \
    "ipset" "${IMG_KUBE_ROUTER_TAKES[@]}"
}

# img_build_netfilter_daemon GOARCH NAME COMPONENT BINARY PATH TOOL TAKES...: an image of one
# program of set network at /PATH (its entrypoint, run as root from the host's network
# namespace) with Debian's iptables (nf_tables; the usual names as links) and TOOL.
img_build_netfilter_daemon() {
  local goarch="$1" name="$2" component="$3" binary="$4" path="$5" tool="$6" version bin tools recipe
  shift 6
  version="$(img_matrix_version "$component")"
  tb_build network "$goarch"
  bin="$(tb_row_path network "$goarch" "$binary")"
  [ -x "$bin" ] || xc_die "no $binary for $goarch in the build cache after building set network ($bin)"
  tools="$(img_debian_tree "$goarch" "$binary's iptables and $tool" "$@")"
  recipe="$(printf 'image %s:%s %s\nbinary %s sha256:%s\n%s\nlinks %s\nconfig entrypoint=/%s user=root\ntool %s\n' \
    "$name" "$version" "$goarch" "$binary" "$(img_sha "$bin")" "$(grep '^package' <<<"$tools")" "${IMG_XTABLES_LINKS[*]}" \
    "$path" "$(img_tree_tools)")"
  img_store "$name" "$version" "$goarch" "$recipe" img_make_netfilter_daemon
}

img_make_netfilter_daemon() {
  local args=() link
  mapfile -t args < <(img_layer_args "$tools")
  for link in "${IMG_XTABLES_LINKS[@]}"; do args+=(--symlink "usr/sbin/$link=xtables-nft-multi"); done
  img_oci build --goarch "$goarch" --tag "$version" --out "$1/oci" \
    --file "$path=$bin:0755" "${args[@]}" --entrypoint "/$path" \
    --label "org.opencontainers.image.version=$version" \
    --created-by "$binary $version of the component table, iptables (nf_tables) and $tool of Debian $(grep -c '^package' <<<"$tools") packages" \
    >"$1/image.json"
}

# img_nfs_tools_layout GOARCH OUT: the NFS tools alone as an image layout at OUT (not cached,
# no entrypoint): the nfsplugin image's Debian layer, for tests while no nfsplugin is built.
img_nfs_tools_layout() {
  local goarch="$1" out="$2" tools args=()
  [ ! -e "$out" ] || xc_die "$out exists"
  tools="$(img_nfs_tools "$goarch")"
  mapfile -t args < <(img_layer_args "$tools")
  img_oci build --goarch "$goarch" --tag nfs-tools --out "$out" "${args[@]}" \
    --created-by "mount and mount.nfs of Debian: $(grep '^package' <<<"$tools" | cut -f2,3 | tr '\t\n' '= ')"
}

# Whether the component table has a row named COMPONENT.
img_has_component() { tb_bundle version "$1" >/dev/null 2>&1; }

# --- commands ------------------------------------------------------------------------------

# img_goarches ARGS...: the GOARCHes asked for (model names), sw64-like ones dropped with a word.
img_goarches() {
  local g out=()
  [ "$#" -gt 0 ] || set -- "${IMG_DEFAULT_GOARCHES[@]}"
  for g in "$@"; do
    g="$(xc_model goarch "$g")" || xc_die "'$g' is not an architecture the model knows"
    if [ "$(xc_model upstream_go "$g")" != True ]; then
      xc_log "skipping $g: neither upstream Go (CoreDNS, the CSI programs) nor a Debian cross gcc (pause) targets it"
      continue
    fi
    out+=("$g")
  done
  [ "${#out[@]}" -gt 0 ] || xc_die "no GOARCH left to build images for"
  echo "${out[@]}"
}

# --- application images of Debian packages (the app store's, the storage benchmark's fio) ------

IMG_APPS="$XC_ROOT/hack/images/debian_apps.py"
img_apps() { PYTHONPATH="$XC_ROOT/.collections" python3 "$IMG_APPS" "$@"; }

# img_build_app NAME GOARCH SUITE REPOSITORY PACKAGE VERSION TAG TOOLS RECIPE: the image of
# recipe NAME (plugins/module_utils/images/app_images.py) as `debian_apps.py plan` resolved it: the files
# it takes of the architecture's Debian packages with the libraries they link (TOOLS, the output
# of debian_tree.py), the project's own files and configuration (RECIPE).
# Tag and label org.opencontainers.image.version: the upstream version of the main package that
# this child holds. Children of different Debian suites (loong64 comes from sid) that hold
# another version get their own tag; the index of a tag is refused when its children differ
# (img_push publishes with same_label), so one tag runs one version on every architecture.
img_build_app() {
  local app="$1" goarch="$2" suite="$3" repo="$4" main="$5" version="$6" tag="$7" tools="$8" app_recipe="$9" recipe
  recipe="$(printf 'image %s:%s %s
%s
%s
label version=%s source=Debian %s %s %s
tool %s
' \
    "$repo" "$tag" "$goarch" "$(grep '^package' <<<"$tools")" "$app_recipe" \
    "$tag" "$suite" "$main" "$version" "$(img_tree_tools)")"
  img_store "$repo" "$tag" "$goarch" "$recipe" img_make_app
}

# deb_arch: the Debian architecture of the child img_build is making (its loop variable).
img_make_app() {
  local layer=() config=() own
  own="$1/files"; mkdir -p "$own"
  mapfile -t layer < <(img_layer_args "$tools")
  mapfile -t config < <(img_apps oci-args "$app" "$suite" "${deb_arch:?}" "$own")
  img_oci build --goarch "$goarch" --tag "$tag" --out "$1/oci" "${layer[@]}" "${config[@]}" \
    --label "org.opencontainers.image.version=$tag" \
    --label "org.opencontainers.image.source=Debian $suite $main $version" \
    --created-by "$app: $main $version of Debian $suite and $(grep -c '^package' <<<"$tools") packages (hack/images/debian_apps.py)" \
    >"$1/image.json"
}

# img_build GOARCH...: build (or find cached) every image of the set XC_IMAGES_SET (cluster:
# pause, CoreDNS, busybox, the CSI images; apps: the recipes of app_images.py); prints name,
# tag, goarch, dir.
img_build() {
  if [ "${XC_IMAGES_SET:-cluster}" = apps ]; then
    local g app line deb_arch suite plan rows repo main version tag
    plan="$(mktemp -d)"
    for g in "$@"; do
      deb_arch="$(xc_model deb_arch "$g")"
      suite="${LAB_SUITE[$deb_arch]:-bookworm}"
      # Every recipe's child for G resolved in one Python process; each image is then found in
      # the cache, or made, here.
      rows="$(XC_DEBIAN_MIRROR="$IMG_MIRROR" img_apps plan "$g" "$suite" "$deb_arch" "$plan")" \
        || { rm -rf "$plan"; xc_die "the application images of $g could not be planned (above)"; }
      while IFS=$'\t' read -r app repo main version tag; do
        [ -n "$app" ] || continue
        if [ "$repo" = - ]; then  # a family whose Debian suite lacks the package
          xc_log "no $app child for $g: its recipe's families leave it out (plugins/module_utils/images/app_images.py)"
          continue
        fi
        line="$(img_build_app "$app" "$g" "$suite" "$repo" "$main" "$version" "$tag" \
          "$(cat "$plan/$app.tools")" "$(cat "$plan/$app.recipe")")"
        printf '%s\t%s\t%s\t%s\n' "${line%%$'\t'*}" "$(cut -f2 <<<"$line")" "$g" "${line##*$'\t'}"
      done <<<"$rows"
    done
    rm -rf "$plan"
    return 0
  fi
  [ "${XC_IMAGES_SET:-cluster}" = cluster ] || xc_die "XC_IMAGES_SET=${XC_IMAGES_SET}: cluster or apps"
  local g line spec name set component binary user ports lines nfsplugin=0
  if img_has_component nfsplugin; then
    nfsplugin=1
  else
    xc_log "no sig-storage/nfsplugin: the component table has no nfsplugin row (the Go module proxy serves no github.com/kubernetes-csi/csi-driver-nfs)"
  fi
  for g in "$@"; do
    # One assignment per image: a failed build stops here (set -e), not in an array.
    line="$(img_build_pause "$g")"; lines=("$line")
    line="$(img_build_coredns "$g")"; lines+=("$line")
    line="$(img_build_busybox "$g")"; lines+=("$line")
    for spec in "${IMG_STATIC_IMAGES[@]}"; do
      read -r name set component binary user ports <<<"$spec"
      line="$(img_build_static "$name" "$set" "$component" "$binary" "$user" "$ports" "$g")"; lines+=("$line")
    done
    if [ "$nfsplugin" = 1 ]; then line="$(img_build_nfsplugin "$g")"; lines+=("$line"); fi
    line="$(img_build_flannel "$g")"; lines+=("$line")
    line="$(img_build_kube_router "$g")"; lines+=("$line")
    for line in "${lines[@]}"; do
      printf '%s\t%s\t%s\t%s\n' "${line%%$'\t'*}" "$(cut -f2 <<<"$line")" "$g" "${line##*$'\t'}"
    done
  done
}

img_list() {
  local name tag goarch dir
  while IFS=$'\t' read -r name tag goarch dir; do
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$tag" "$goarch" \
      "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$dir/image.json")" "$dir/oci"
  done
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
  local goarches list built
  list="$(img_goarches "${args[@]}")"
  read -r -a goarches <<<"$list"
  built="$(img_build "${goarches[@]}")"

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
  local name tag goarch dir t0 running=0
  t0=$(date +%s)
  # A few copies at once: each is mostly waiting on the registry's round trips.
  while IFS=$'\t' read -r name tag goarch dir; do
    if [ "$running" -ge "$IMG_PUSH_JOBS" ]; then wait -n || true; running=$((running - 1)); fi
    ( if skopeo copy "${skopeo_args[@]}" "oci:$dir/oci:$tag" "docker://$registry/$name:$tag-$goarch"; then
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
    python3 - "$registry" "$user" "$pwfile" "$ca" "$insecure" "$IMG_PAUSE_ALIASES" "$tmp/built.tsv" \
      "$tmp/vars.json" "${XC_IMAGES_SET:-cluster}" <<'PY'
import json, sys
registry, user, pwfile, ca, insecure, aliases, built, out, image_set = sys.argv[1:]
images = {}
for line in open(built).read().splitlines():
    name, tag, goarch, _dir = line.split("\t")
    images.setdefault((name, tag), []).append(goarch)
indexes = []
for (name, tag), goarches in sorted(images.items()):
    tags = [tag] + [a for a in (aliases.split() if name == "library/pause" else []) if a != tag]
    for published in tags:
        indexes.append({
            "repository": name, "tag": published,
            "sources": [{"ref": "%s-%s" % (tag, g), "platform": g} for g in goarches],
            "required_platforms": goarches,
            "annotations": {"org.opencontainers.image.version": published},
        })
        # An application's children come from Debian suites of their own: one version per tag.
        if image_set == "apps":
            indexes[-1]["same_label"] = "org.opencontainers.image.version"
doc = {"images_registry": registry, "images_indexes": indexes,
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
  build)
    list="$(img_goarches "$@")"
    read -r -a goarches <<<"$list"
    start=$(date +%s)
    img_build "${goarches[@]}" | img_list
    xc_log "images for ${goarches[*]} ready in $(( $(date +%s) - start ))s under $IMG_DIR"
    ;;
  list)
    list="$(img_goarches "$@")"
    read -r -a goarches <<<"$list"
    img_build "${goarches[@]}" | img_list
    ;;
  push) img_push "$@" ;;
  nfs-tools)
    [ "$#" -eq 2 ] || usage
    list="$(img_goarches "$1")"
    img_nfs_tools_layout "$list" "$2"
    ;;
  *) usage ;;
esac
