# shellcheck shell=bash
# Shared by the hack/ scripts: where caches live, and how a stage reports its time.
# Heavy artifacts (lab images, Go builds, the virtualenv's wheels) live outside the
# repository, keyed by version, so a clean clone reuses them.
set -euo pipefail

XC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
XC_CACHE="${XC_CACHE:-/var/cache/xinchuang}"
XC_VENV="${XC_VENV:-$XC_ROOT/.venv}"
export XC_ROOT XC_CACHE XC_VENV
mkdir -p "$XC_CACHE"

xc_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
xc_die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# xc_stage NAME CMD...: run CMD, print how long it took, keep its exit code.
xc_stage() {
  local name="$1"; shift
  local start rc
  start=$(date +%s)
  xc_log "stage ${name}: start"
  set +e
  "$@"
  rc=$?
  set -e
  printf 'STAGE %-24s %5ds  %s\n' "$name" "$(( $(date +%s) - start ))" \
    "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)")" | tee -a "${XC_STAGE_LOG:-/dev/null}" >&2
  return "$rc"
}

# Debian packages, installed once; apt-get update only when something is missing.
xc_apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  xc_log "apt-get install ${missing[*]}"
  # Parallel installs (helpers, test set-ups) wait for the dpkg lock instead of failing.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# dockerd from Debian's docker.io, started in the background when none answers.
xc_ensure_docker() {
  xc_apt_install docker.io
  if docker info >/dev/null 2>&1; then return 0; fi
  xc_log "starting dockerd"
  mkdir -p /var/log/xinchuang
  # Not a job of the caller (a bare `wait` there would block on dockerd forever), and with
  # no inherited descriptors (it would hold the caller's locks for its whole life).
  (setsid /usr/sbin/dockerd </dev/null >/var/log/xinchuang/dockerd.log 2>&1 9>&- &)

  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -n 20 /var/log/xinchuang/dockerd.log >&2
  xc_die "dockerd did not answer within 60 s; log: /var/log/xinchuang/dockerd.log"
}

# xc_debian_package SUITE DEB_ARCH PACKAGE: Debian's package for that architecture, unpacked
# once under $XC_CACHE/debian-packages/SUITE/DEB_ARCH/PACKAGE (printed), with its version in
# VERSION there: the offline bundle's fetcher (bundle_build.DebianPackages, an apt
# configuration of its own, the archive's signature checked). XC_DEBIAN_MIRROR picks the mirror.
xc_debian_package() { xc_cli module_utils.bundle.build debian "$@"; }

# The collection importable from the working tree (.collections/ansible_collections/xinchuang/cloud).
xc_link_collection() {
  if [ ! -e "$XC_ROOT/.collections/ansible_collections/xinchuang/cloud" ]; then
    mkdir -p "$XC_ROOT/.collections/ansible_collections/xinchuang"
    ln -sfn "$XC_ROOT" "$XC_ROOT/.collections/ansible_collections/xinchuang/cloud"
  fi
}

# xc_py_cli MODULE ARGS...: the cli() of the Python module MODULE (dotted), with the collection
# and the working tree's own packages (hack.awx_survey) importable.
xc_py_cli() {
  local module="$1"; shift
  xc_link_collection
  PYTHONPATH="$XC_ROOT/.collections:$XC_ROOT" python3 -c \
    "import sys; from $module import cli; sys.exit(cli())" "$@"
}

# xc_cli MODULE ARGS...: the cli() of plugins/MODULE (dotted: module_utils.bundle.build,
# plugin_utils.cluster.components): how the scripts ask the collection's Python instead of repeating it.
xc_cli() {
  local module="$1"; shift
  xc_py_cli "ansible_collections.xinchuang.cloud.plugins.$module" "$@"
}

# xc_model_rows FIELD... -- NAME...: one line per NAME, "NAME VALUE...", the fields of its row
# in the architecture model (None printed as "-"): one Python start for a whole table.
xc_model_rows() {
  local fields=()
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do fields+=("$1"); shift; done
  shift
  xc_link_collection
  PYTHONPATH="$XC_ROOT/.collections" python3 -c '
import sys
from ansible_collections.xinchuang.cloud.plugins.module_utils.model.arch import lookup
fields, names = sys.argv[1].split(), sys.argv[2:]
for name in names:
    row = lookup(name)
    print(name, *("-" if getattr(row, f) is None else getattr(row, f) for f in fields))
' "${fields[*]}" "$@"
}

# xc_model FIELD NAME: a field of the architecture model's row for NAME (goarch, deb_arch,
# upstream_go, ...): every architecture name question goes to plugins/module_utils/model/arch.py.
xc_model() {
  local row
  row="$(xc_model_rows "$1" -- "$2")" || return 1
  printf '%s\n' "${row#* }"
}
