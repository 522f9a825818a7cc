#!/usr/bin/env bash
# Every collection-level molecule scenario (molecule/<scenario>/molecule.yml), each
# timed, after the lab images they start from exist (hack/lab.sh images).
# Usage: hack/molecule.sh [SCENARIO ...]   (default: the scenarios of $XC_TIER in tests/tiers.yml:
# the gate's, or with XC_TIER=full all of them)
# shellcheck source=hack/common.sh
source "$(dirname "$0")/common.sh"
cd "$XC_ROOT" || exit 1

mapfile -t all < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -rn1 basename | sort)
[ "${#all[@]}" -gt 0 ] || xc_die "no scenarios: no molecule/*/molecule.yml under $XC_ROOT"
scenarios=("$@")
if [ "${#scenarios[@]}" -eq 0 ]; then
  listed="$(cd "$XC_ROOT" && "$XC_ROOT/.venv/bin/python" -m tests.tiers molecule "${XC_TIER:-full}")" \
    || xc_die "tests/tiers.yml: the molecule scenarios of tier ${XC_TIER:-full} could not be read"
  mapfile -t scenarios < <(printf '%s\n' "$listed" | awk NF)
  [ "${#scenarios[@]}" -gt 0 ] || { xc_log "no molecule scenario in tier ${XC_TIER:-full} (tests/tiers.yml)"; exit 0; }
fi
for s in "${scenarios[@]}"; do
  [ -f "molecule/$s/molecule.yml" ] || xc_die "unknown scenario '$s'; scenarios: ${all[*]}"
done

hack/lab.sh images
# shellcheck source=hack/env.sh
source hack/env.sh
command -v molecule >/dev/null || xc_die "molecule not in $XC_VENV; run hack/setup.sh"

failed=()
for s in "${scenarios[@]}"; do
  xc_stage "molecule $s" molecule test -s "$s" || failed+=("$s")
done
[ "${#failed[@]}" -eq 0 ] || xc_die "molecule scenarios failed: ${failed[*]}"
