#!/usr/bin/env bash
# The main job end to end on the lab (tests/e2e): the cluster topology (hack/lab.sh up
# --topology cluster: amd64 containers, arm64 and mips64el machines), the offline bundle and
# the cluster images in the lab's private registry, then site.yml, a second run, --check,
# scale.yml, remove_node.yml and bad inputs.
# Usage: hack/e2e.sh [PYTEST ARGS...]     XC_E2E_KEEP=1 leaves the lab up afterwards;
# XC_E2E_FULL=1 (make e2e-full) uses the topology cluster-full (the loong64 machine too);
# XC_E2E_PROFILE=N logs each playbook run's N slowest tasks.
# shellcheck source=hack/common.sh
source "$(dirname "$0")/common.sh"
cd "$XC_ROOT" || exit 1
# shellcheck source=hack/env.sh
source hack/env.sh
# A fresh cluster: hosts left by an earlier run carry its PKI and etcd data.
topology=cluster
[ "${XC_E2E_FULL:-0}" = 1 ] && topology=cluster-full
hack/lab.sh down --topology "$topology" >/dev/null 2>&1 || true
rc=0
# No test reads standard input; without -s capture every ansible-playbook would inherit the
# caller's, which ansible refuses when another process left it non-blocking (a background job).
pytest -q -p no:cacheprovider -s tests/e2e "$@" </dev/null || rc=$?
# A failed run keeps each machine's serial console beside the test reports (a machine that
# stopped answering SSH shows why there: a panic, the OOM killer, a hung task).
if [ "$rc" -ne 0 ] && [ -n "${XC_TEST_REPORTS:-}" ]; then
  for console in .lab/machines/*/console.log; do
    [ -f "$console" ] || continue
    machine="$(basename "$(dirname "$console")")"
    cp "$console" "$XC_TEST_REPORTS/console-$machine.log"
    xc_log "$machine: its console is in $XC_TEST_REPORTS/console-$machine.log; its end:"
    tail -n 15 "$console" | sed "s/^/  $machine| /"
  done
fi
if [ "${XC_E2E_KEEP:-0}" != 1 ]; then
  hack/lab.sh down --topology "$topology" >/dev/null 2>&1 || true
fi
exit "$rc"
