"""Benchmark: the weights of N Gateway API HTTPRoutes set in one xinchuang.cloud.canary_weights
task (option ``routes``), versus a loop of kubernetes.core.k8s writing the very same HTTPRoute
objects, against the same API server in the same run.

Usage (the testbed must be up, hack/testbed.sh up; the CRDs come from hack/crds.sh):
    source hack/env.sh
    python bench/canary_weights.py [--routes 200] [--kubeconfig .testbed/admin.kubeconfig]
        [--output FILE]

Phases, each timed as the wall time of one ansible-playbook run (bench/testbed_bench.py):
  change     every route goes from {web-c86: 1} to {web-c86: 90, web-arm: 10}
  no-change  the same weights again; nothing is written
The routes are deleted and re-created between the two tools, so both start from the same state.
The k8s loop's definitions are what canary_weights writes, built by the same policy code.
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import testbed_bench as tb  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_providers as providers  # noqa: E402

LABEL = "xinchuang.cloud/bench"
WEIGHTS = {"web-c86": 90, "web-arm": 10}
PORT = 8080
OURS, PEER = "canary_weights", "k8s"


def services(namespace):
    return [{"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": name, "namespace": namespace},
             "spec": {"selector": {"app": name}, "ports": [{"port": PORT}]}}
            for name in WEIGHTS]


def routes(namespace, count):
    return [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "route-%03d" % i, "namespace": namespace, "labels": {LABEL: "canary"}},
             "spec": {"parentRefs": [{"name": "gateway"}],
                      "hostnames": ["r%03d.example.com" % i],
                      "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                 "backendRefs": [{"group": "", "kind": "Service", "name": "web-c86",
                                                  "port": PORT, "weight": 1}]}]}}
            for i in range(count)]


def recreate_routes(kc, ns, items):
    tb.kubectl(kc, "delete", "httproute.gateway.networking.k8s.io", "-n", ns, "-l",
               LABEL + "=canary", "--wait=true", timeout=600)
    tb.kubectl(kc, "create", "-f", "-",
               input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}), timeout=600)


def stored(kc, ns):
    data = json.loads(tb.kubectl(kc, "get", "httproute.gateway.networking.k8s.io", "-n", ns, "-l",
                                 LABEL + "=canary", "-o", "json", timeout=600))
    return dict((i["metadata"]["name"], providers.gateway_weights(i, ns)) for i in data["items"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--routes", type=int, default=200)
    ap.add_argument("--kubeconfig", default=tb.DEFAULT_KUBECONFIG)
    ap.add_argument("--namespace", default="bench-canary")
    ap.add_argument("--output", help="also write the Markdown table to this file")
    ap.add_argument("--keep", action="store_true", help="keep the namespace afterwards")
    args = ap.parse_args()
    kc, ns = os.path.abspath(args.kubeconfig), args.namespace

    crds = subprocess.run([os.path.join(tb.ROOT, "hack", "crds.sh"), "path", "gateway"],
                          capture_output=True, text=True, check=True).stdout.split()
    for path in crds:
        tb.kubectl(kc, "apply", "--server-side", "--force-conflicts", "-f", path, timeout=300)
    tb.kubectl(kc, "wait", "--for=condition=Established",
               "crd/httproutes.gateway.networking.k8s.io", "--timeout=120s", timeout=180)
    tb.kubectl(kc, "delete", "namespace", ns, "--ignore-not-found", "--wait=true", timeout=600)
    tb.kubectl(kc, "create", "namespace", ns)
    tb.apply_list(kc, services(ns))
    items = routes(ns, args.routes)
    names = [i["metadata"]["name"] for i in items]
    svc = dict((s["metadata"]["name"], s) for s in services(ns))
    desired = [providers.gateway_desired(i, ns, WEIGHTS, svc) for i in items]
    want = dict((n, WEIGHTS) for n in names)
    times = {}
    try:
        recreate_routes(kc, ns, items)
        ours = [{"name": "canary_weights: %d routes" % len(names),
                 "xinchuang.cloud.canary_weights": {"kubeconfig": kc, "namespace": ns, "routes": names,
                                                    "weights": WEIGHTS}}]
        times[(OURS, "change")], res = tb.timed_playbook(ours)
        assert res[0]["changed"] and all(r["changed"] for r in res[0]["routes"])
        assert stored(kc, ns) == want
        times[(OURS, "no-change")], res = tb.timed_playbook(ours)
        assert not res[0]["changed"]

        recreate_routes(kc, ns, items)
        assert all(w == {"web-c86": 1} for w in stored(kc, ns).values())
        loop = tb.k8s_loop("kubernetes.core.k8s loop: %d routes" % len(desired), kc, "bench_routes")
        objects = {"bench_routes": desired}
        times[(PEER, "change")], res = tb.timed_playbook(loop, objects)
        assert res[0]["changed"]
        assert stored(kc, ns) == want
        times[(PEER, "no-change")], res = tb.timed_playbook(loop, objects)
        assert not res[0]["changed"], "the k8s loop changed on its second run"
        # Both tools stored the same objects: ours sees nothing to change on the k8s-made ones.
        _t, res = tb.timed_playbook(ours)
        same = not res[0]["changed"]
    finally:
        if not args.keep:
            tb.kubectl(kc, "delete", "namespace", ns, "--wait=false")

    tb.publish(tb.comparison_table(
        "Weights on %d Gateway API HTTPRoutes (v1.4.1 CRDs) on kube-apiserver %s, %s"
        % (len(names), tb.server_version(kc), tb.utc_now()),
        ((OURS, "canary_weights (1 task, `routes`)"), (PEER, "kubernetes.core.k8s (loop)")),
        ("change", "no-change"), times,
        notes=["Same objects: canary_weights reports no change over the routes the k8s loop "
               "wrote: %s." % ("yes" if same else "NO"),
               "Command: python bench/canary_weights.py --routes %d" % len(names)]),
        args.output)


if __name__ == "__main__":
    main()
