# shellcheck shell=bash disable=SC2034  # the tables are read by the other hack/lab/ files
# The lab's architecture table: one row per lab host. Sourced by hack/lab.sh.
# Keys are Debian architecture names (what debootstrap takes); the OCI platform
# uses Go's names (GOARCH), which differ for MIPS (mips64el vs mips64le).

LAB_ARCHES=(amd64 arm64 mips64el loong64)

# The Debian suite carrying each architecture (loong64: only sid's main archive), as the
# offline bundle's table says (plugins/module_utils/bundle/policy.py, DEBIAN_SUITES).
declare -A LAB_SUITE=()
while read -r _lab_a _lab_suite; do LAB_SUITE[$_lab_a]=$_lab_suite; done < <(xc_cli module_utils.bundle.build suite "${LAB_ARCHES[@]}")
[ "${#LAB_SUITE[@]}" -eq "${#LAB_ARCHES[@]}" ] || xc_die "no Debian suite for every lab architecture (${LAB_ARCHES[*]})"
unset _lab_suite
# OCI/Docker platform (architecture, variant written into the image config) and what
# `uname -m` prints inside the host: asked of the architecture model
# (plugins/module_utils/model/arch.py) once, not typed again here.
declare -A LAB_OCI_ARCH=() LAB_OCI_VARIANT=() LAB_UNAME=()
while read -r _lab_a _lab_oci _lab_variant _lab_uname; do
  LAB_OCI_ARCH[$_lab_a]=$_lab_oci
  LAB_OCI_VARIANT[$_lab_a]=${_lab_variant#-}
  LAB_UNAME[$_lab_a]=$_lab_uname
done < <(xc_model_rows oci_arch oci_variant uname -- "${LAB_ARCHES[@]}")
unset _lab_a _lab_oci _lab_variant _lab_uname
# binfmt_misc entry that runs the arch's binaries (none for the native arch).
# loong64 gets its own entry name because bookworm's qemu-loongarch64 (7.2)
# cannot run sid binaries (SIGILL); hack/lab.sh binfmt registers trixie's.
declare -A LAB_BINFMT=([amd64]="" [arm64]=qemu-aarch64 [mips64el]=qemu-mips64el [loong64]=xc-qemu-loongarch64)
# Packages added to minbase. systemd as PID 1 is wanted where it works under
# emulation (bookworm); the sid loong64 host runs a plain init (docker --init).
# Node tools (amd64, arm64: the hosts that run kubelet in the cluster topology):
#   iptables (iptables-restore/-save, nft backend by default), nftables (`nft`, for
#   kube-proxy's nftables mode), conntrack, ipset (kube-proxy ipvs mode), iproute2
#   (ip, tc), kmod (modprobe), procps (sysctl, ps), socat, netbase (/etc/protocols,
#   /etc/services), ca-certificates (update-ca-certificates for a registry CA).
#   These are the os_prep role's Debian list without chrony: with every capability a
#   chronyd in a worker container could set the machine's clock.
# libseccomp2: Debian's runc (in the offline bundle) links it; bookworm images get it
# through systemd, the sid loong64 image needs it named.
_lab_node_pkgs=iptables,nftables,conntrack,ipset,iproute2,kmod,procps,socat,netbase,ca-certificates
declare -A LAB_INCLUDE=(
  [amd64]="python3,systemd,systemd-sysv,sudo,$_lab_node_pkgs,python3-cryptography,python3-cffi-backend,apache2-utils"
  [arm64]="python3,systemd,systemd-sysv,sudo,$_lab_node_pkgs"
  [mips64el]="python3,systemd,systemd-sysv,sudo"
  [loong64]="python3,sudo,libseccomp2"
)
unset _lab_node_pkgs
# Recipe version per image: bump an architecture's number whenever what goes into its
# image changes (LAB_INCLUDE above, lab_tweak_rootfs, the image config), so that only
# that image is rebuilt; a change shared by all images bumps every number.
#   2: python3, systemd, sudo; no-credentials drop-ins (all)
#   3: node tools (amd64, arm64); libseccomp2 (loong64)
#   4: python3-cryptography (amd64: the control plane host issues the cluster's certificates
#      with community.crypto) + python3-cffi-backend (debootstrap does not resolve the
#      virtual python3-cffi-backend-api-* it depends on)
#   5: apache2-utils (amd64: htpasswd, which the registry role uses on the registry host; the
#      registry binary itself comes from the offline bundle, as on a host without the package)
declare -A LAB_RECIPE=([amd64]=5 [arm64]=3 [mips64el]=2 [loong64]=3)
declare -A LAB_SYSTEMD=([amd64]=yes [arm64]=yes [mips64el]=yes [loong64]=no)

lab_check_arch() {
  local a
  for a in "${LAB_ARCHES[@]}"; do [ "$a" = "$1" ] && return 0; done
  xc_die "unknown lab architecture '$1'; accepted: ${LAB_ARCHES[*]}"
}

lab_image()     { printf 'xinchuang-lab:%s-%s' "${LAB_SUITE[$1]}" "$1"; }
lab_container() { printf 'xc-lab-%s' "$1"; }
# The platform given to `docker run --platform` (the variant is normalised away for arm64).
lab_platform()  { printf 'linux/%s' "${LAB_OCI_ARCH[$1]}"; }
lab_native()    { [ "$(dpkg --print-architecture)" = "$1" ]; }
