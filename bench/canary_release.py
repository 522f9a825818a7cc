"""How soon the Gateway serves a release step: from "step applied" (canary_weights returned)
to "the data plane serves the new split", over 10 steps of the sample application's release
C86 -> ARM, beside the soak time (canary_release_pause_seconds) a release waits per step.

Runs on the converged lab (`make demo`, or the e2e's first rollout): playbooks/sample_app.yml
puts the sample application behind the lab's Gateway (the amd64 node and the arm64 machine),
then each step sets the route's weights with xinchuang.cloud.canary_weights and requests go
through the Gateway from this machine:
  first request   the first answer from the backend whose weight rose (aarch64, the canary)
  split in bounds the end of the first batch of BATCH requests whose aarch64 share lies within
                  4 standard deviations of the step's (the data plane serves the new split)
The steps move the canary 10, 20, ... 100 percent, then the route goes back to 100/0.

    source hack/env.sh && python bench/canary_release.py [--soak 60] [--batch 100]

Prints one table: per step the weights, both times, and the split time as a share of the soak.
A soak shorter than the split time judges traffic of the previous split.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, ".collections")):
    if path not in sys.path:
        sys.path.insert(0, path)

from tests.e2e import lab  # noqa: E402
from tests.e2e import test_cluster as e2e  # noqa: E402

STEPS = list(range(10, 101, 10))
TIMEOUT = 120


def set_weights(canary_percent):
    weights = {e2e.SAMPLE_BACKENDS["c86"]: 100 - canary_percent, e2e.SAMPLE_BACKENDS["arm"]: canary_percent}
    report, proc, _took = lab.playbook("../tests/e2e/playbooks/route_weights.yml",
                                       "-e", "route_namespace=" + e2e.SAMPLE_NS, "-e", "route_name=" + e2e.SAMPLE_APP,
                                       "-e", json.dumps({"route_weights": weights}))
    lab.assert_ok(report, proc)
    return weights


def time_to_serve(weights, batch):
    """(seconds to the first canary answer, seconds to the first batch within bounds)."""
    applied = time.time()
    first = None
    while first is None:
        if weights[e2e.SAMPLE_BACKENDS["arm"]] == 0 or e2e.answer_through_gateway()[1] == "aarch64":
            first = time.time() - applied
        elif time.time() - applied > TIMEOUT:
            raise SystemExit("no aarch64 answer %d s after %s" % (TIMEOUT, weights))
    while True:
        counts = {}
        for _request in range(batch):
            answer = e2e.answer_through_gateway()
            counts[answer] = counts.get(answer, 0) + 1
        if e2e.within_bounds(counts, weights):
            return first, time.time() - applied
        if time.time() - applied > TIMEOUT:
            raise SystemExit("the split of %s not within bounds %d s after it was applied: %s" % (
                weights, TIMEOUT, counts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--soak", type=int, default=60, help="the soak time to compare with (canary_release_pause_seconds)")
    ap.add_argument("--batch", type=int, default=100, help="requests per batch of the split check")
    args = ap.parse_args()
    report, proc, _took = lab.playbook("sample_app.yml")
    lab.assert_ok(report, proc)
    lab.kubectl("delete", "httproute", "-n", e2e.SAMPLE_NS, e2e.SAMPLE_APP)
    report, proc, _took = lab.playbook("sample_app.yml")  # the route anew, at 100/0
    lab.assert_ok(report, proc)
    for name in e2e.SAMPLE_BACKENDS.values():
        lab.kubectl("rollout", "status", "-n", e2e.SAMPLE_NS, "deployment/" + name, "--timeout=600s", timeout=630)
    lab.wait_for("the Gateway serving the sample application",
                 lambda: e2e.answer_through_gateway() == (200, "x86_64"), timeout=180, interval=2)
    rows = []
    for percent in STEPS:
        weights = set_weights(percent)
        rows.append((weights,) + time_to_serve(weights, args.batch))
    set_weights(0)
    print("\nThe Gateway serving each step of the release C86 -> ARM (lab: Traefik on the amd64 node; "
          "batches of %d requests; soak %d s)" % (args.batch, args.soak))
    print("| step | c86/arm | first arm answer (s) | split in bounds (s) | soak (s) | split / soak |")
    print("|---:|---|---:|---:|---:|---:|")
    for number, (weights, first, split) in enumerate(rows, 1):
        print("| %d | %d/%d | %.1f | %.1f | %d | %.2f |" % (
            number, weights[e2e.SAMPLE_BACKENDS["c86"]], weights[e2e.SAMPLE_BACKENDS["arm"]], first, split,
            args.soak, split / args.soak))
    worst = max(split for _w, _f, split in rows)
    print("\nslowest step served its split in %.1f s: a soak of %d s leaves %.1f s of the new split to judge" % (
        worst, args.soak, args.soak - worst))


if __name__ == "__main__":
    main()
