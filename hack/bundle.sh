#!/usr/bin/env bash
# The offline bundle the cluster roles install from, laid out per GOARCH
# (docs/architecture: bundle/<kubernetes version>/<goarch>/{bin,cni}; docs/bundle.md):
#   hack/bundle.sh [--full] [GOARCH ...]     default: amd64 arm64 loong64 mips64le
# What each GOARCH gets: the matrix set `bundle` (kubelet, kube-proxy, containerd, ctr, shim, CNI
# plugins, CoreDNS, and runc below: what a node runs) everywhere; the set `cluster` too (etcd,
# etcdctl, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl) for the GOARCHes of
# XC_BUNDLE_FULL_GOARCHES (default amd64), or for every GOARCH given with --full.
# Binaries come from the build matrix (hack/testbed/matrix.tsv) cache, built first when missing;
# rows of component cni-plugins go to cni/, all others to bin/. runc needs cgo (its nsenter is
# C), so no matrix row builds it: bin/runc is Debian's runc package for that architecture
# (dynamically linked: glibc and libseccomp2 of bookworm or newer; on older OSes prefer the OS
# runc, which the container_runtime role takes when recent enough).
# bin/registry (the private registry for hosts whose OS does not package it: the registry role's
# bundle source) is the binary of Debian's docker-registry package for that architecture, CNCF
# distribution built by Debian (static Go, links only libc); where Debian has no such package
# the bundle goes without it, saying so.
# sw64: upstream Go cannot target it. Give the vendor toolchain's GOROOT as XC_SW64_GOROOT;
# without it sw64 is skipped, saying so (a vendor Go 1.16 cannot build containerd 2.x or
# Kubernetes 1.37 either: take sw64 binaries from the vendor's repository then).
#
# Environment:
#   XC_BUNDLE_DIR       output root (default $XC_CACHE/bundle)
#   XC_BUNDLE_SETS      matrix sets to include for every GOARCH, comma-separated (default: bundle,
#                       plus cluster for the full GOARCHes); e.g. containerd,cni for the runtime only
#   XC_BUNDLE_FULL_GOARCHES  GOARCHes that also get the set cluster (default amd64; `all`)
#   XC_BUNDLE_VERSION   directory name (default: the kube-apiserver version of the matrix)
#   XC_BUNDLE_BUILD=0   do not build missing rows: fail naming them
#   XC_BUNDLE_RUNC=0    no runc from Debian
#   XC_BUNDLE_REGISTRY=0  no registry from Debian
#   XC_BUNDLE_MIRROR    Debian mirror for runc and the registry (default http://deb.debian.org/debian)
# shellcheck source=hack/common.sh
source "$(dirname "$0")/common.sh"
TB_STATE="${TB_STATE:-$XC_ROOT/.testbed}"
# shellcheck source=hack/testbed/build.sh
source "$XC_ROOT/hack/testbed/build.sh"
# shellcheck source=hack/lab/archs.sh
source "$XC_ROOT/hack/lab/archs.sh"   # LAB_SUITE: the Debian suite carrying each architecture

BUNDLE_DIR="${XC_BUNDLE_DIR:-$XC_CACHE/bundle}"
BUNDLE_FULL_GOARCHES="${XC_BUNDLE_FULL_GOARCHES:-amd64}"
BUNDLE_MIRROR="${XC_BUNDLE_MIRROR:-http://deb.debian.org/debian}"
BUNDLE_DEFAULT_GOARCHES=(amd64 arm64 loong64 mips64le)

xc_link_collection

# The architecture model answers every name question (GOARCH -> dpkg architecture).
bundle_deb_arch() { xc_model deb_arch "$1"; }
bundle_upstream_go() { [ "$(xc_model upstream_go "$1")" = True ]; }

bundle_version() {
  [ -n "${XC_BUNDLE_VERSION:-}" ] && { echo "$XC_BUNDLE_VERSION"; return 0; }
  awk '$1 == "kube-apiserver" { print $2; exit }' "$TB_MATRIX"
}

# bundle_sets GOARCH: the matrix sets that GOARCH's bundle holds.
bundle_sets() {
  if [ -n "${XC_BUNDLE_SETS:-}" ]; then echo "$XC_BUNDLE_SETS"; return 0; fi
  case ",${BUNDLE_FULL_GOARCHES// /,}," in
    *,all,*|*",$1,"*) echo bundle,cluster ;;
    *) echo bundle ;;
  esac
}

# bundle_rows SETS GOARCH: rows of every set in SETS buildable for GOARCH, without duplicates.
bundle_rows() {
  local sets="$1" goarch="$2" set
  for set in ${sets//,/ }; do tb_matrix_rows "$set" "$goarch"; done | sort -u
}

# bundle_debian_binary GOARCH PACKAGE PATH FILE OUT SWITCH [optional]: the binary PATH of
# Debian's PACKAGE for the architecture (xc_debian_package, cached) as OUT/FILE, and its
# manifest line. SWITCH is the setting that leaves it out. Where Debian has no such package,
# an optional one is left out with a log line; any other stops the bundle.
bundle_debian_binary() {
  local goarch="$1" package="$2" path="$3" file="$4" out="$5" switch="$6" optional="${7:-}"
  local deb_arch suite cache
  deb_arch="$(bundle_deb_arch "$goarch")"
  suite="${LAB_SUITE[$deb_arch]:-bookworm}"
  if ! cache="$(XC_DEBIAN_MIRROR="$BUNDLE_MIRROR" xc_debian_package "$suite" "$deb_arch" "$package")"; then
    [ -n "$optional" ] || xc_die "$package for $goarch: set XC_BUNDLE_MIRROR or $switch"
    xc_log "no $file in the $goarch bundle: Debian $suite has no $package for $deb_arch ($switch to stop trying)"
    return 0
  fi
  ln -f "$cache/$path" "$out/$file" 2>/dev/null || cp -f "$cache/$path" "$out/$file"
  printf '%s\t%s\tdebian-%s\t%s\n' "${file#*/}" "$(cat "$cache/VERSION")" "$suite" "$file"
}

bundle_goarch() {
  local goarch="$1" version="$2" out rows component v module package binary profile src sub
  if ! bundle_upstream_go "$goarch"; then
    if [ -z "${XC_SW64_GOROOT:-}" ]; then
      xc_log "skipping $goarch: upstream Go cannot build for it; set XC_SW64_GOROOT to the vendor Go toolchain (GOROOT of 'go version' = go1.16.4 linux/sw64 or newer) to build it"
      return 0
    fi
    [ -x "$XC_SW64_GOROOT/bin/go" ] || xc_die "XC_SW64_GOROOT=$XC_SW64_GOROOT has no bin/go"
    export PATH="$XC_SW64_GOROOT/bin:$PATH" GOROOT="$XC_SW64_GOROOT"
    xc_log "$goarch: using the vendor Go at $XC_SW64_GOROOT ($("$XC_SW64_GOROOT/bin/go" version))"
  fi
  local sets; sets="$(bundle_sets "$goarch")"
  rows="$(bundle_rows "$sets" "$goarch")"
  [ -n "$rows" ] || xc_die "the matrix has no rows in sets '$sets' for GOARCH $goarch"
  xc_log "bundle $version/$goarch: sets $sets"
  if [ "${XC_BUNDLE_BUILD:-1}" != 0 ]; then
    local set
    for set in ${sets//,/ }; do
      [ -n "$(tb_matrix_rows "$set" "$goarch")" ] && tb_build "$set" "$goarch"
    done
  fi
  out="$BUNDLE_DIR/$version/$goarch"
  # Every row checked before any file is placed: a missing one leaves the bundle as it was.
  while IFS=$'\t' read -r component v module package binary profile; do
    tb_current "$(tb_binary_path "$component" "$v" "$goarch" "$binary")" "$profile" "$v" \
      || xc_die "$binary ($component $v, $goarch) is not built, or built by an older recipe: \
run hack/testbed.sh build <set> $goarch, or drop XC_BUNDLE_BUILD=0"
  done <<<"$rows"
  mkdir -p "$out/bin" "$out/cni"
  local manifest="$out/MANIFEST.tsv.tmp" entries="$out/MANIFEST.tsv.new"
  : >"$entries"
  while IFS=$'\t' read -r component v module package binary profile; do
    src="$(tb_binary_path "$component" "$v" "$goarch" "$binary")"
    sub=bin; [ "$component" = cni-plugins ] && sub=cni
    ln -f "$src" "$out/$sub/$binary" 2>/dev/null || cp -f "$src" "$out/$sub/$binary"
    printf '%s\t%s\t%s\t%s\n' "$component" "$v" "$module" "$sub/$binary" >>"$entries"
  done <<<"$rows"
  if [ "${XC_BUNDLE_RUNC:-1}" != 0 ]; then
    bundle_debian_binary "$goarch" runc usr/sbin/runc bin/runc "$out" XC_BUNDLE_RUNC=0 >>"$entries"
  fi
  if [ "${XC_BUNDLE_REGISTRY:-1}" != 0 ]; then
    bundle_debian_binary "$goarch" docker-registry usr/bin/docker-registry bin/registry "$out" \
      XC_BUNDLE_REGISTRY=0 optional >>"$entries"
  fi
  # A run with fewer sets (XC_BUNDLE_SETS=containerd,cni) leaves the other files of an earlier
  # run in place: the manifest keeps naming them, so it always lists every file present.
  local line
  {
    printf '# component\tversion\tsource\tfile\n'
    {
      cat "$entries"
      if [ -f "$out/MANIFEST.tsv" ]; then
        while IFS= read -r line; do
          [ -e "$out/${line##*$'\t'}" ] && printf '%s\n' "$line"
        done < <(awk -F'\t' 'NR == FNR { fresh[$4] = 1; next } !/^#/ && !($4 in fresh)' \
                   "$entries" "$out/MANIFEST.tsv")
      fi
    } | sort -t$'\t' -k4,4
  } >"$manifest"
  rm -f "$entries"
  mv "$manifest" "$out/MANIFEST.tsv"
  xc_log "bundle $version/$goarch: $(find "$out" -type f ! -name 'MANIFEST*' | wc -l) files in $out"
}

main() {
  local version goarches=() g
  for g in "$@"; do
    case "$g" in
      --full) BUNDLE_FULL_GOARCHES=all ;;
      -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      -*) xc_die "unknown option '$g' (hack/bundle.sh [--full] [GOARCH ...])" ;;
      *) goarches+=("$g") ;;
    esac
  done
  [ "${#goarches[@]}" -gt 0 ] || goarches=("${BUNDLE_DEFAULT_GOARCHES[@]}")
  version="$(bundle_version)"
  [ -n "$version" ] || xc_die "no kube-apiserver row in $TB_MATRIX to name the bundle; set XC_BUNDLE_VERSION"
  for g in "${goarches[@]}"; do
    bundle_deb_arch "$g" >/dev/null || xc_die "'$g' is not an architecture the model knows"
    g="$(xc_model goarch "$g")"
    bundle_goarch "$g" "$version"
  done
  echo "$BUNDLE_DIR/$version"
}

main "$@"
