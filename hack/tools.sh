#!/usr/bin/env bash
# The tools of hack/tools.tsv (every external command the tests, bench and hack scripts use):
#   hack/tools.sh packages        the Debian packages of the list, one a line (hack/deps.sh)
#   hack/tools.sh check [SOURCE]  every row present: a command on PATH (venv rows: in .venv),
#                                 a file that exists; fails naming each missing one and its
#                                 source. SOURCE: debian (every package row), venv or go;
#                                 default all of them.
# shellcheck source=hack/common.sh
source "$(dirname "$0")/common.sh"
TOOLS_LIST="${XC_TOOLS_LIST:-$XC_ROOT/hack/tools.tsv}"   # another list: the tests of this script

# tools_rows: "what<TAB>source<TAB>used by" of the list, without comments.
tools_rows() { awk -F'\t' '!/^[[:space:]]*(#|$)/ && NF >= 2' "$TOOLS_LIST"; }

tools_kind() { case "$1" in venv|go) echo "$1" ;; *) echo debian ;; esac; }

tools_check() {
  local want=("$@") what source used kind absent=0 fix
  [ "${#want[@]}" -gt 0 ] || want=(debian venv go)
  while IFS=$'\t' read -r what source used; do
    kind="$(tools_kind "$source")"
    case " ${want[*]} " in *" $kind "*) ;; *) continue ;; esac
    case "$kind" in
      venv) [ -x "$XC_VENV/bin/$what" ] && continue
            fix="from requirements.txt into $XC_VENV: run hack/setup.sh" ;;
      go)   command -v "$what" >/dev/null 2>&1 && continue
            fix="Go >= 1.26 on PATH (README, Quick start)" ;;
      *)    if [ "${what#/}" != "$what" ]; then [ -e "$what" ] && continue
            else command -v "$what" >/dev/null 2>&1 && continue; fi
            fix="Debian package $source: run hack/deps.sh" ;;
    esac
    printf 'MISSING %-34s %s (used by %s)\n' "$what" "$fix" "$used" >&2
    absent=$((absent + 1))
  done < <(tools_rows)
  [ "$absent" -eq 0 ] || xc_die "$absent tool(s) of hack/tools.tsv missing (above)"
  xc_log "tools of hack/tools.tsv present (${want[*]})"
}

case "${1:-}" in
  packages) tools_rows | awk -F'\t' '$2 != "venv" && $2 != "go" { print $2 }' | sort -u ;;
  check) shift; tools_check "$@" ;;
  *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
