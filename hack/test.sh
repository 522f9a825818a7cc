#!/usr/bin/env bash
# The test suite, stage by stage, each stage timed (docs/development.md, "Two tiers").
# Usage: hack/test.sh [stage ...]   (default: every stage, in order)
#   XC_TIER=gate (default; `make test`, CI) runs the gate; XC_TIER=full (`make test-full`) every
#   test, every molecule scenario, and e2e on the topology cluster-full. tests/tiers.yml says
#   which tests are in the full tier only (`make test-plan` prints it).
#   XC_TEST_BUDGET: seconds the whole run may take (gate default 4200, 70 minutes: CI stops a
#   run at 90); a stage still running then is stopped and the report printed. 0: no limit
#   (the full tier's default).
source "$(dirname "$0")/common.sh"
cd "$XC_ROOT" || exit 1
export XC_STAGE_LOG="${XC_STAGE_LOG:-$XC_ROOT/.test-stages.log}"
export XC_TIER="${XC_TIER:-gate}"
case "$XC_TIER" in gate|full) ;; *) xc_die "XC_TIER=$XC_TIER: use gate (make test) or full (make test-full)" ;; esac
# The full tier's e2e runs on the topology cluster-full (the loong64 machine too).
[ "$XC_TIER" = full ] && export XC_E2E_FULL=1
# Each pytest stage writes a JUnit report here; the slowest tests of the run come from them.
export XC_TEST_REPORTS="${XC_TEST_REPORTS:-$XC_ROOT/.test-reports}"
# The slowest tests a pytest stage prints at its end, and the run at its end.
XC_SLOWEST=15

run_setup()       { hack/setup.sh && hack/deps.sh; }
# The docs site (hack/docs.sh: antsibull-docs' linter, then the HTML) is built here, so a doc
# error fails CI; timed as its own line, and run even when ansible-lint failed.
run_lint() {
  source hack/env.sh
  local rc=0
  yamllint -s . && ansible-lint --profile production --strict || rc=1
  local plan
  plan="$(mktemp)"
  xc_stage test-plan run_plan >"$plan" 2>&1 || { tail -n 20 "$plan"; rc=1; }
  rm -f "$plan"
  xc_stage lint-docs hack/docs.sh || rc=1
  return "$rc"
}
run_sanity()      { source hack/env.sh; hack/sanity.sh; }
run_unit()        { source hack/env.sh; pytest -q -p no:cacheprovider --junitxml="$XC_TEST_REPORTS/unit.xml" tests/unit; }
# Which tier each test is in, and no entry of tests/tiers.yml that matches nothing (collection only).
run_plan()        { source hack/env.sh; pytest -q -p no:cacheprovider --collect-only --tier-plan tests; }
run_build()       { source hack/env.sh; hack/build-collection.sh; }
run_lab()         { hack/lab.sh images; }
# lint, sanity and unit only read the tree (sanity works on a copy) and mostly use one core
# each: on this 2-core machine they run together, each still timed as its own stage, their
# output printed in turn once all have ended.
run_checks() {
  local names=(lint sanity unit) pids=() rc=0 dir i
  dir="$(mktemp -d)"
  for i in "${!names[@]}"; do
    (xc_stage "${names[$i]}" "run_${names[$i]}") >"$dir/$i.log" 2>&1 &
    pids+=("$!")
  done
  for i in "${!names[@]}"; do
    wait "${pids[$i]}" || rc=1
    cat "$dir/$i.log"
  done
  rm -rf "$dir"
  return "$rc"
}
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
    --dist loadscope --no-loadscope-reorder --durations="$XC_SLOWEST" --junitxml="$XC_TEST_REPORTS/integration.xml" \
    tests/integration
}
run_molecule()    { source hack/env.sh; hack/molecule.sh; }
# The main job end to end: site.yml, scale.yml, remove_node.yml on the lab's cluster topology.
run_e2e()         { source hack/env.sh; hack/e2e.sh --durations="$XC_SLOWEST" --junitxml="$XC_TEST_REPORTS/e2e.xml"; }
# The lab cluster on the bridge CNI (kubernetes_cni: bridge) instead of flannel: the first
# rollout on amd64 and arm64, then the tests of the nodes, their Pods and the Pod network.
E2E_BRIDGE_TESTS="first_rollout or node_is_a_ready or family_pod_runs_on_its or next_node or pod_network_of_the_inventory or cluster_ip_service or dns_answers or network_policies_hold"
run_e2e-bridge()  {
  source hack/env.sh
  XC_LAB_CNI=bridge XC_E2E_FULL=0 XC_TIER=gate hack/e2e.sh -k "$E2E_BRIDGE_TESTS" --durations="$XC_SLOWEST" \
    --junitxml="$XC_TEST_REPORTS/e2e-bridge.xml"
}

# `make demo` from a fresh clone with an empty cache (the full tier's last stage: 75-111 min measured,
# outside its 150-minute warm budget; docs/development.md).
run_demo-cold()   { hack/demo-cold.sh; }

all=(setup checks build lab binaries integration molecule e2e)
[ "$XC_TIER" = full ] && all+=(e2e-bridge demo-cold)
# `hack/test.sh --run-one STAGE`: the stage's body alone (what the loop below runs, bounded).
if [ "${1:-}" = --run-one ]; then
  "run_$2"
  exit
fi
stages=("$@")
[ "${#stages[@]}" -eq 0 ] && stages=("${all[@]}")
for s in "${stages[@]}"; do
  declare -F "run_$s" >/dev/null || xc_die "unknown stage '$s'; stages: ${all[*]} (checks: lint sanity unit; plan)"
done

default_budget=4200
[ "$XC_TIER" = full ] && default_budget=0
budget="${XC_TEST_BUDGET:-$default_budget}"
: >"$XC_STAGE_LOG"
rm -rf "$XC_TEST_REPORTS" && mkdir -p "$XC_TEST_REPORTS"
xc_log "tier $XC_TIER; budget $([ "$budget" -gt 0 ] && echo "${budget}s" || echo none); stages: ${stages[*]}"

total_start=$(date +%s)
failed=()
ran=()
over=""
for s in "${stages[@]}"; do
  ran+=("$s")
  if [ "$budget" -gt 0 ]; then
    left=$(( total_start + budget - $(date +%s) ))
    if [ "$left" -le 0 ]; then
      over="$s"; failed+=("$s"); break
    fi
    # timeout stops the stage's whole process group (pytest, ansible-playbook, QEMU it started).
    # Each stage's output is kept too ($XC_TEST_REPORTS/STAGE.log): the end says what failed.
    rc=0
    xc_stage "$s" timeout --kill-after=30 "$left" "$XC_ROOT/hack/test.sh" --run-one "$s" 2>&1 \
      | tee "$XC_TEST_REPORTS/$s.log" || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then over="$s"; failed+=("$s"); break; fi
  else
    rc=0
    xc_stage "$s" "run_$s" 2>&1 | tee "$XC_TEST_REPORTS/$s.log" || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    failed+=("$s")
    # setup failing makes every later stage meaningless.
    [ "$s" = setup ] && break
  fi
done
# The end of a run is what CI shows of it: the slowest tests first, then the stage times, then
# what failed, one line each, last.
echo
echo "== the $XC_SLOWEST slowest tests of this run (setup + call + teardown, from $XC_TEST_REPORTS) =="
reports=()
for s in "${ran[@]}"; do
  case "$s" in unit|integration|e2e|e2e-bridge) reports+=("$XC_TEST_REPORTS/$s.xml") ;; checks) reports+=("$XC_TEST_REPORTS/unit.xml") ;; esac
done
python3 "$XC_ROOT/hack/slowest.py" "$XC_SLOWEST" "${reports[@]}" || true
echo
echo "== stage times (tier $XC_TIER) =="
cat "$XC_STAGE_LOG"
printf 'STAGE %-24s %5ds\n' total "$(( $(date +%s) - total_start ))"
if [ -n "$over" ]; then
  echo "STOPPED in stage $over: the run passed its budget of ${budget}s (XC_TEST_BUDGET); the stages after it did not run"
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo
  echo "== what failed (each stage's output: $XC_TEST_REPORTS/STAGE.log) =="
  python3 "$XC_ROOT/hack/slowest.py" --failed 10 "${reports[@]}" || true
  # Stages without a JUnit report (or that failed outside a test): their last error lines.
  for s in "${failed[@]}"; do
    log="$XC_TEST_REPORTS/$s.log"
    [ -f "$log" ] || continue
    sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'fatal:|FAILED|ERROR|Error:|error:|failed:' \
      | grep -vE '^STAGE |^(FAILED|ERROR) tests/' | tail -n 4 | cut -c1-220 | sed "s/^/$s: /" || true
  done
  echo "FAILED stages: ${failed[*]}"
  exit 1
fi
