#!/usr/bin/env bash
# The mixed-architecture lab: containers of four CPU architectures on one x86_64
# machine, run through QEMU user emulation, reached with `docker exec`.
# See docs/lab.md.
#
# Usage: hack/lab.sh COMMAND [ARCH ...]
#   binfmt              register the QEMU binfmt_misc handlers (idempotent)
#   images [ARCH ...]   build (cached in $XC_CACHE/lab) and load the lab images
#   up [ARCH ...]       start the lab hosts (builds the images first)
#   down [ARCH ...]     remove the lab hosts
#   status              images, hosts and binfmt handlers
# ARCH is one of: amd64 arm64 mips64el loong64 (default: all).
# Environment: XC_LAB_PROFILE=base|worker (up), XC_LAB_REBUILD=1 (images: ignore
# the cached archives), XC_LAB_JOBS (parallel image builds, default 4),
# XC_LAB_QEMU_REFRESH=1 (binfmt: fetch trixie's current qemu-user again).

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

LAB_COMMANDS=(binfmt images up down status help)

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
  local arches=()
  case "$cmd" in
    binfmt|status|help)
      [ "$#" -eq 0 ] || xc_die "'$cmd' takes no arguments (got: $*)" ;;
    images|up|down)
      mapfile -t arches < <(lab_arches "$@")
      [ "${#arches[@]}" -gt 0 ] || exit 1 ;;   # lab_arches already said why
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
    up)     lab_images "${arches[@]}"; lab_up "${arches[@]}" ;;
    down)   lab_down "${arches[@]}" ;;
    status) lab_status ;;
    help)   lab_usage ;;
  esac
}

main "$@"
