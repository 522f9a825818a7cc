#!/usr/bin/env bash
# The mixed-architecture lab on one x86_64 machine: containers of four CPU architectures
# (foreign ones through QEMU user emulation), reached with `docker exec`, and full-system
# QEMU machines with real foreign kernels, reached over SSH. See docs/lab.md.
#
# Usage: hack/lab.sh COMMAND [--topology NAME] [ARCH|HOST ...]
#   binfmt              register the QEMU binfmt_misc handlers (idempotent)
#   images [ARCH ...]   build (cached in $XC_CACHE/lab) and load the lab images
#   machines [ARCH ...] build (cached in $XC_CACHE/lab/machines) the machine images
#                       (arm64 mips64el loong64)
#   up [ARCH|HOST ...]  start the topology's hosts (builds the images first)
#   down [ARCH|HOST ...]
#                       remove the topology's hosts with their volumes (and its
#                       network once no host uses it)
#   status              images, hosts of every topology, network, registry, binfmt
# ARCH is one of: amd64 arm64 mips64el loong64; HOST a host of the topology
# (default: all). --topology NAME (or XC_LAB_TOPOLOGY), for up and down:
#   default  one host per ARCH, xc-lab-<arch>, profile XC_LAB_PROFILE, network
#            XC_LAB_NETWORK (none)
#   cluster  hack/lab/topologies/cluster.hosts: amd64 containers (control plane, a
#            second node, the private registry) and arm64 and mips64el machines on the
#            internal docker network xc-lab
#   cluster-full  the same and a loong64 machine
# Environment: XC_LAB_PROFILE=base|worker (default topology), XC_LAB_REBUILD=1
# (images: ignore the cached archives), XC_LAB_JOBS (parallel image builds,
# default 4), XC_LAB_QEMU_REFRESH=1 (binfmt: fetch trixie's current qemu-user again),
# XC_LAB_BOOT_TIMEOUT (seconds a machine may take to answer SSH, default 600),
# XC_LAB_SUBNET (the cluster network, default 172.29.0.0/24).

# shellcheck source=hack/common.sh
source "$(dirname "$0")/common.sh"
_lab_dir="$XC_ROOT/hack/lab"
# shellcheck source=hack/lab/archs.sh
source "$_lab_dir/archs.sh"
# shellcheck source=hack/lab/binfmt.sh
source "$_lab_dir/binfmt.sh"
# shellcheck source=hack/lab/images.sh
source "$_lab_dir/images.sh"
# shellcheck source=hack/lab/hosts.sh
source "$_lab_dir/hosts.sh"
# shellcheck source=hack/lab/topology.sh
source "$_lab_dir/topology.sh"
# shellcheck source=hack/lab/registry.sh
source "$_lab_dir/registry.sh"
# shellcheck source=hack/lab/machines.sh
source "$_lab_dir/machines.sh"

LAB_COMMANDS=(binfmt images machines up down status help)

# The header comment of this file, from its second line to the first line that is no comment.
lab_usage() { awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; }

# ARCH arguments, checked; all of them when none is given.
lab_arches() {
  local a
  if [ "$#" -eq 0 ]; then printf '%s\n' "${LAB_ARCHES[@]}"; return 0; fi
  for a in "$@"; do lab_check_arch "$a"; done
  printf '%s\n' "$@"
}

main() {
  local cmd="${1:-help}"
  [ "$#" -gt 0 ] && shift
  case "$cmd" in -h|--help) cmd=help ;; esac
  local arches=() hosts=() args=() machine_arches=() h
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --topology)   [ "$#" -ge 2 ] || xc_die "--topology needs a NAME"; LAB_TOPOLOGY="$2"; shift 2 ;;
      --topology=*) LAB_TOPOLOGY="${1#*=}"; shift ;;
      -*)           xc_die "unknown option '$1'; accepted: --topology NAME" ;;
      *)            args+=("$1"); shift ;;
    esac
  done
  case "$cmd" in
    binfmt|status|help)
      [ "${#args[@]}" -eq 0 ] || xc_die "'$cmd' takes no arguments (got: ${args[*]})" ;;
    images)
      mapfile -t arches < <(lab_arches "${args[@]}")
      [ "${#arches[@]}" -gt 0 ] || exit 1 ;;   # lab_arches already said why
    machines)
      if [ "${#args[@]}" -eq 0 ]; then args=("${!LAB_MACHINE_KERNEL[@]}"); fi
      mapfile -t machine_arches < <(lab_arches "${args[@]}")
      [ "${#machine_arches[@]}" -gt 0 ] || exit 1 ;;
    up|down)
      lab_load_topology "$LAB_TOPOLOGY"
      mapfile -t hosts < <(lab_select_hosts "${args[@]}")
      [ "${#hosts[@]}" -gt 0 ] || exit 1       # lab_select_hosts already said why
      # Container images for the containers, machine images for the machines.
      for h in "${hosts[@]}"; do
        if [ "${LAB_HOST_PROFILE[$h]}" = machine ]; then machine_arches+=("${LAB_HOST_ARCH[$h]}")
        else arches+=("${LAB_HOST_ARCH[$h]}"); fi
      done
      mapfile -t arches < <(printf '%s\n' "${arches[@]}" | awk 'NF && !seen[$0]++')
      mapfile -t machine_arches < <(printf '%s\n' "${machine_arches[@]}" | awk 'NF && !seen[$0]++') ;;
    *)
      xc_die "unknown command '$cmd'; accepted: ${LAB_COMMANDS[*]}" ;;
  esac
  # One lab.sh at a time changes binfmt entries, image builds and hosts: helpers and
  # test stages share this machine, and two builds of one image would share a work dir.
  if [ "$cmd" != status ] && [ "$cmd" != help ]; then
    # Before the lock: a dockerd started from here would inherit the lock's descriptor.
    [ "$cmd" = binfmt ] || xc_ensure_docker
    mkdir -p "$LAB_CACHE"
    exec 9>"$LAB_CACHE/.lock"
    if ! flock -n 9; then
      xc_log "waiting for another hack/lab.sh (lock $LAB_CACHE/.lock)"
      flock 9
    fi
  fi
  case "$cmd" in
    binfmt) lab_binfmt ;;
    images) lab_images "${arches[@]}" ;;
    machines) lab_machine_images "${machine_arches[@]}" ;;
    up)
      if [ "${#arches[@]}" -gt 0 ]; then lab_images "${arches[@]}"; fi
      if [ "${#machine_arches[@]}" -gt 0 ]; then lab_machine_images "${machine_arches[@]}"; fi
      lab_up "${hosts[@]}" ;;
    down)   lab_down "${hosts[@]}" ;;
    status) lab_status ;;
    help)   lab_usage ;;
  esac
}

main "$@"
