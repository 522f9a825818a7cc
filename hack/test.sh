#!/usr/bin/env bash
# The whole test suite, stage by stage, each stage timed (`make test`).
# Usage: hack/test.sh [stage ...]   (default: every stage, in order)
source "$(dirname "$0")/common.sh"
cd "$XC_ROOT" || exit 1
export XC_STAGE_LOG="${XC_STAGE_LOG:-$XC_ROOT/.test-stages.log}"
: >"$XC_STAGE_LOG"

run_setup()       { hack/setup.sh && hack/deps.sh; }
# The docs site (hack/docs.sh: antsibull-docs' linter, then the HTML) is built here, so a doc
# error fails CI; timed as its own line, and run even when ansible-lint failed.
run_lint() {
  source hack/env.sh
  local rc=0
  yamllint -s . && ansible-lint --profile production --strict || rc=1
  xc_stage lint-docs hack/docs.sh || rc=1
  return "$rc"
}
run_sanity()      { source hack/env.sh; hack/sanity.sh; }
run_unit()        { source hack/env.sh; pytest -q -p no:cacheprovider tests/unit; }
run_build()       { source hack/env.sh; hack/build-collection.sh; }
run_lab()         { hack/lab.sh images; }
# Go builds of the upstream components (cached by version); a cold build must not run inside
# a pytest fixture, where the per-test timeout applies.
run_binaries()    { hack/testbed.sh build testbed && hack/bundle.sh && hack/images.sh build && XC_IMAGES_SET=apps hack/images.sh build; }
# Two workers (this machine has 2 cores; the tests mostly wait on servers): a unit of work is
# a test module or a SHARED_UNITS directory, longest first (tests/integration/parallel_schedule.py).
# The stage is CPU-bound (vmstat: ~2 % idle with 3 workers): Mitogen's strategy keeps one Python
# per host for a whole run instead of one per task, which halves each ansible-playbook's CPU
# (tests/integration/tenancy: 36 -> 19 s); XC_TEST_STRATEGY=linear runs Ansible's own.
run_integration() {
  source hack/env.sh
  ANSIBLE_STRATEGY="${XC_TEST_STRATEGY:-mitogen_linear}" pytest -q -p no:cacheprovider -n "${XC_TEST_WORKERS:-2}" \
    --dist loadscope --no-loadscope-reorder --durations=25 tests/integration
}
run_molecule()    { source hack/env.sh; hack/molecule.sh; }
# The main job end to end: site.yml, scale.yml, remove_node.yml on the lab's cluster topology.
run_e2e()         { source hack/env.sh; hack/e2e.sh; }

all=(setup lint sanity unit build lab binaries integration molecule e2e)
stages=("$@")
[ "${#stages[@]}" -eq 0 ] && stages=("${all[@]}")

total_start=$(date +%s)
failed=()
for s in "${stages[@]}"; do
  declare -F "run_$s" >/dev/null || xc_die "unknown stage '$s'; stages: ${all[*]}"
  # setup failing makes every later stage meaningless.
  if ! xc_stage "$s" "run_$s"; then
    failed+=("$s")
    [ "$s" = setup ] && break
  fi
done
echo
echo "== stage times =="
cat "$XC_STAGE_LOG"
printf 'STAGE %-24s %5ds\n' total "$(( $(date +%s) - total_start ))"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED stages: ${failed[*]}"
  exit 1
fi
