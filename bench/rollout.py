"""How long site.yml takes on the lab: the first rollout, an idempotent rerun and check mode.

Runs on the lab's cluster topology (hack/lab.sh up --topology cluster) from a fresh cluster:
the hosts of the first e2e rollout (the amd64 control plane and node, the arm64 machine) get
site.yml three times in a row, as ops do (build, drift check, check mode before a change).
Prints one table with the three wall times and the two ratios to the first rollout, then the
time per role (task names carry their role's prefix, "Kubernetes | ...") and the ten slowest
tasks of each run, read from the runs' own JSON reports.

    python bench/rollout.py                   # Mitogen strategy, as the e2e tests run it
    python bench/rollout.py --strategy linear # Ansible's own strategy (slow on emulated hosts)
    python bench/rollout.py --keep            # leave the lab up afterwards

Targets (issue 15): rerun and check mode each at most 25 % of the first rollout, changed=0.
"""

import argparse
import collections
import datetime
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, ".collections")):
    if path not in sys.path:
        sys.path.insert(0, path)

from tests.e2e import lab  # noqa: E402

LIMIT = "all:!xc-lab-mips64el"
TARGET = 0.25


def parse_time(text):
    return datetime.datetime.strptime(text.replace("Z", ""), "%Y-%m-%dT%H:%M:%S.%f")


def task_times(report):
    """[(seconds, role prefix, task name)] of every task of a JSON report."""
    out = []
    for play in report.get("plays", []):
        for task in play["tasks"]:
            dur = task["task"].get("duration", {})
            if "start" not in dur or "end" not in dur:
                continue
            name = task["task"]["name"]
            role = name.split(" | ", 1)[0] if " | " in name else "(other)"
            out.append(((parse_time(dur["end"]) - parse_time(dur["start"])).total_seconds(), role, name))
    return out


def changed_count(report):
    return sum(s.get("changed", 0) for s in report.get("stats", {}).values())


def run(name, *args):
    report, proc, took = lab.playbook("site.yml", "--limit", LIMIT, *args)
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (name, "\n".join(lab.failures(report)) or proc.stderr[-3000:]))
    return {"name": name, "seconds": took, "changed": changed_count(report), "tasks": task_times(report)}


def fresh_lab():
    lab.sh([os.path.join(ROOT, "hack", "lab.sh"), "down", "--topology", lab.TOPOLOGY])
    lab.bring_up()


def print_tables(runs):
    first = runs[0]["seconds"]
    print("\n| run | wall time (s) | / first rollout | changed | target |")
    print("|---|---:|---:|---:|---|")
    for r in runs:
        ratio = r["seconds"] / first
        target = "" if r is runs[0] else ("<= %.2f: %s" % (TARGET, "met" if ratio <= TARGET else "NOT met"))
        print("| %s | %.0f | %.2f | %d | %s |" % (r["name"], r["seconds"], ratio, r["changed"], target))
    roles = sorted({task[1] for r in runs for task in r["tasks"]})
    print("\n| role (task prefix) | " + " | ".join(r["name"] for r in runs) + " |")
    print("|---|" + "---:|" * len(runs))
    per = [collections.Counter() for _run in runs]
    for i, r in enumerate(runs):
        for secs, role, _name in r["tasks"]:
            per[i][role] += secs
    for role in sorted(roles, key=lambda x: -per[0][x]):
        print("| %s | %s |" % (role, " | ".join("%.1f" % p[role] for p in per)))
    for r in runs:
        print("\nTen slowest tasks of the %s (s):" % r["name"])
        for secs, _role, name in sorted(r["tasks"], reverse=True)[:10]:
            print("  %7.1f  %s" % (secs, name))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--strategy", default="mitogen_linear", help="ANSIBLE_STRATEGY for the runs")
    ap.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = ap.parse_args()
    os.environ["XC_E2E_STRATEGY"] = args.strategy
    start = time.time()
    fresh_lab()
    print("lab up in %.0f s (strategy %s)" % (time.time() - start, args.strategy), file=sys.stderr)
    runs = [run("first rollout"), run("idempotent rerun"), run("check mode", "--check")]
    print("\nsite.yml on the lab (%s), hosts: %s, strategy %s" % (
        lab.TOPOLOGY, ", ".join(h for h in lab.HOSTS if h != "xc-lab-mips64el"), args.strategy))
    print_tables(runs)
    if not args.keep:
        lab.sh([os.path.join(ROOT, "hack", "lab.sh"), "down", "--topology", lab.TOPOLOGY])
    bad = [r["name"] for r in runs[1:] if r["changed"] or r["seconds"] / runs[0]["seconds"] > TARGET]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
