"""Benchmark: thresholds for N workloads (spread over the five CPU families) in one
xinchuang.cloud.hpa_thresholds task, versus a loop of kubernetes.core.k8s applying the very
same HPA objects, against the same API server in the same run.

Usage (the testbed must be up: hack/testbed.sh up):
    source hack/env.sh
    python bench/hpa_thresholds.py [--workloads 500] [--kubeconfig .testbed/admin.kubeconfig]
        [--output bench/results/hpa_thresholds.md]

Phases, each timed as the wall time of one ansible-playbook run (bench/testbed_bench.py):
  create    no HPA exists; every HPA is created
  no-change every HPA exists as desired; nothing is written
The HPAs are deleted between the two tools' create phases, so both start from the same state.
The Deployments have 0 replicas: no Pods, so the API server does the same work for both.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import testbed_bench as tb  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import hpa_policy as hp  # noqa: E402

LABEL = "xinchuang.cloud/bench"
OURS, PEER = "hpa_thresholds", "kubernetes.core.k8s loop"


def deployments(namespace, count):
    fams = arch.families()
    items = []
    for i in range(count):
        fam = fams[i % len(fams)]
        items.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bench-%s-%03d" % (fam, i), "namespace": namespace,
                         "labels": {LABEL: "hpa"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "bench-%03d" % i}},
                "template": {
                    "metadata": {"labels": {"app": "bench-%03d" % i}},
                    "spec": {"nodeSelector": {hp.ARCH_LABEL: arch.lookup(fam).oci_arch},
                             "containers": [{"name": "app", "image": "registry.invalid/app:1",
                                             "resources": {"requests": {"cpu": "100m",
                                                                        "memory": "64Mi"}}}]},
                },
            },
        })
    return items


def hpa_objects(items, max_replicas):
    """The HPAs hpa_thresholds creates, built by the same policy code (mode tolerance)."""
    out = []
    for obj in items:
        fam = arch.family_of(obj["spec"]["template"]["spec"]["nodeSelector"][hp.ARCH_LABEL])
        thresholds = hp.PAPER_TABLE3[fam]
        workload = {"namespace": obj["metadata"]["namespace"], "name": obj["metadata"]["name"],
                    "kind": "Deployment"}
        out.append(hp.hpa_body(workload, hp.plan_band(thresholds), 1, max_replicas,
                               family=fam, thresholds=thresholds))
    return out


def count_hpas(kubeconfig, namespace):
    data = json.loads(tb.kubectl(kubeconfig, "get", "hpa.v2.autoscaling", "-n", namespace,
                                 "-o", "json"))
    return len(data["items"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--workloads", type=int, default=500)
    ap.add_argument("--kubeconfig", default=tb.DEFAULT_KUBECONFIG)
    ap.add_argument("--namespace", default="bench-hpa")
    ap.add_argument("--max-replicas", type=int, default=10)
    ap.add_argument("--output", help="also write the Markdown table to this file")
    ap.add_argument("--keep", action="store_true", help="keep the namespace afterwards")
    args = ap.parse_args()
    kc, ns = os.path.abspath(args.kubeconfig), args.namespace

    tb.kubectl(kc, "delete", "namespace", ns, "--ignore-not-found", "--wait=true", timeout=600)
    tb.kubectl(kc, "create", "namespace", ns)
    items = deployments(ns, args.workloads)
    tb.apply_list(kc, items, "--server-side", timeout=600)
    hpas = hpa_objects(items, args.max_replicas)

    ours = [{"name": "hpa_thresholds: %d workloads" % len(items),
             "xinchuang.cloud.hpa_thresholds": {
                 "kubeconfig": kc, "namespace": ns, "label_selectors": ["%s=hpa" % LABEL],
                 "max_replicas": args.max_replicas}}]
    times = {}
    try:
        times[(OURS, "create")], res = tb.timed_playbook(ours)
        assert res[0]["changed"] and count_hpas(kc, ns) == len(items)
        assert all(w["mode"] == "tolerance" for w in res[0]["workloads"])
        times[(OURS, "no-change")], res = tb.timed_playbook(ours)
        assert not res[0]["changed"]
        tb.kubectl(kc, "delete", "hpa.v2.autoscaling", "--all", "-n", ns, timeout=600)
        assert count_hpas(kc, ns) == 0

        loop = tb.k8s_loop("kubernetes.core.k8s loop: %d HPAs" % len(hpas), kc, "bench_hpas")
        objects = {"bench_hpas": hpas}
        times[(PEER, "create")], res = tb.timed_playbook(loop, objects)
        assert count_hpas(kc, ns) == len(items)
        times[(PEER, "no-change")], res = tb.timed_playbook(loop, objects)
        assert not res[0]["changed"], "k8s loop changed on its second run"
        # both tools made the same objects: ours reports no change over the k8s-made HPAs
        _t, res = tb.timed_playbook([dict(ours[0], **{"xinchuang.cloud.hpa_thresholds": dict(
            ours[0]["xinchuang.cloud.hpa_thresholds"], force_conflicts=True)})])
        same = not res[0]["changed"]
    finally:
        if not args.keep:
            tb.kubectl(kc, "delete", "namespace", ns, "--wait=false")

    fams = arch.families()
    spread = ", ".join("%d %s" % (sum(1 for i in range(len(items)) if fams[i % len(fams)] == f), f)
                       for f in fams)
    tb.publish(tb.comparison_table(
        "Thresholds for %d workloads (%s) on kube-apiserver %s, %s"
        % (len(items), spread, tb.server_version(kc), tb.utc_now()),
        ((OURS, "hpa_thresholds (1 task)"), (PEER, "kubernetes.core.k8s (loop)")),
        ("create", "no-change"), times,
        notes=["Same objects: hpa_thresholds reports no change over the HPAs the k8s loop "
               "made: %s." % ("yes" if same else "NO"),
               "Command: python bench/hpa_thresholds.py --workloads %d" % len(items)]),
        args.output)


if __name__ == "__main__":
    main()
