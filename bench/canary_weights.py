"""Benchmark: the weights of N Gateway API HTTPRoutes set in one xinchuang.cloud.canary_weights
task (option ``routes``), versus a loop of kubernetes.core.k8s writing the very same HTTPRoute
objects, against the same API server in the same run.

Usage (the testbed must be up, hack/testbed.sh up; the CRDs come from hack/crds.sh):
    source hack/env.sh
    python bench/canary_weights.py [--routes 200] [--kubeconfig .testbed/admin.kubeconfig]
        [--output FILE]

Phases, each timed as the wall time of one ansible-playbook run (start-up included, the same
for both tools):
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
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))
sys.path.insert(0, ROOT)

from ansible_collections.xinchuang.cloud.plugins.module_utils import canary_policy as policy  # noqa: E402
from tests.integration.ansible_run import ansible_env  # noqa: E402

LABEL = "xinchuang.cloud/bench"
WEIGHTS = {"web-c86": 90, "web-arm": 10}
PORT = 8080


def kubectl(kubeconfig, *args, **kw):
    binary = os.path.join(ROOT, ".testbed", "bin", "kubectl")
    if not os.path.exists(binary):
        binary = "kubectl"
    proc = subprocess.run([binary, "--kubeconfig", kubeconfig] + list(args), capture_output=True,
                          text=True, check=False, **kw)
    if proc.returncode != 0:
        raise SystemExit("kubectl %s failed: %s" % (" ".join(args), proc.stderr[-2000:]))
    return proc.stdout


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
    kubectl(kc, "delete", "httproute.gateway.networking.k8s.io", "-n", ns, "-l", LABEL + "=canary",
            "--wait=true", timeout=600)
    kubectl(kc, "create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
            timeout=600)


def stored(kc, ns):
    data = json.loads(kubectl(kc, "get", "httproute.gateway.networking.k8s.io", "-n", ns, "-l",
                              LABEL + "=canary", "-o", "json", timeout=600))
    return dict((i["metadata"]["name"], policy.gateway_weights(i, ns)) for i in data["items"])


def playbook(tasks, extra_vars_file=None):
    play = [{"hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "play.yml")
        with open(path, "w") as fh:
            json.dump(play, fh)
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
               "localhost,", "-c", "local", path]
        if extra_vars_file:
            cmd += ["-e", "@" + extra_vars_file]
        start = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), cwd=ROOT, check=False)
        elapsed = time.monotonic() - start
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise SystemExit("ansible-playbook printed no JSON:\n%s\n%s" % (proc.stdout[-2000:], proc.stderr[-2000:]))
    results = [t["hosts"]["localhost"] for t in report["plays"][0]["tasks"]]
    for res in results:
        if res.get("failed"):
            raise SystemExit("task failed: %s" % json.dumps(res)[:3000])
    return elapsed, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--routes", type=int, default=200)
    ap.add_argument("--kubeconfig", default=os.path.join(ROOT, ".testbed", "admin.kubeconfig"))
    ap.add_argument("--namespace", default="bench-canary")
    ap.add_argument("--output", help="also write the Markdown table to this file")
    ap.add_argument("--keep", action="store_true", help="keep the namespace afterwards")
    args = ap.parse_args()
    kc, ns = os.path.abspath(args.kubeconfig), args.namespace

    crds = subprocess.run([os.path.join(ROOT, "hack", "crds.sh"), "path", "gateway"],
                          capture_output=True, text=True, check=True).stdout.split()
    for path in crds:
        kubectl(kc, "apply", "--server-side", "--force-conflicts", "-f", path, timeout=300)
    kubectl(kc, "wait", "--for=condition=Established", "crd/httproutes.gateway.networking.k8s.io",
            "--timeout=120s", timeout=180)
    kubectl(kc, "delete", "namespace", ns, "--ignore-not-found", "--wait=true", timeout=600)
    kubectl(kc, "create", "namespace", ns)
    kubectl(kc, "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                      "items": services(ns)}))
    items = routes(ns, args.routes)
    names = [i["metadata"]["name"] for i in items]
    svc = dict((s["metadata"]["name"], s) for s in services(ns))
    desired = [policy.gateway_desired(i, ns, WEIGHTS, svc) for i in items]
    want = dict((n, WEIGHTS) for n in names)
    times = {}
    try:
        recreate_routes(kc, ns, items)
        ours = [{"name": "canary_weights: %d routes" % len(names),
                 "xinchuang.cloud.canary_weights": {"kubeconfig": kc, "namespace": ns, "routes": names,
                                                    "weights": WEIGHTS}}]
        times[("canary_weights", "change")], res = playbook(ours)
        assert res[0]["changed"] and all(r["changed"] for r in res[0]["routes"])
        assert stored(kc, ns) == want
        times[("canary_weights", "no-change")], res = playbook(ours)
        assert not res[0]["changed"]

        recreate_routes(kc, ns, items)
        assert all(w == {"web-c86": 1} for w in stored(kc, ns).values())
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump({"bench_routes": desired}, fh)
            vars_file = fh.name
        try:
            loop = [{"name": "kubernetes.core.k8s loop: %d routes" % len(desired),
                     "kubernetes.core.k8s": {"kubeconfig": kc, "state": "present", "definition": "{{ item }}"},
                     "loop": "{{ bench_routes }}",
                     "loop_control": {"label": "{{ item.metadata.name }}"}}]
            times[("k8s", "change")], res = playbook(loop, vars_file)
            assert res[0]["changed"]
            assert stored(kc, ns) == want
            times[("k8s", "no-change")], res = playbook(loop, vars_file)
            assert not res[0]["changed"], "the k8s loop changed on its second run"
        finally:
            os.unlink(vars_file)
        # Both tools stored the same objects: ours sees nothing to change on the k8s-made ones.
        _t, res = playbook(ours)
        same = not res[0]["changed"]
    finally:
        if not args.keep:
            kubectl(kc, "delete", "namespace", ns, "--wait=false")

    version = json.loads(kubectl(kc, "version", "-o", "json"))["serverVersion"]["gitVersion"]
    lines = [
        "Weights on %d Gateway API HTTPRoutes (v1.4.1 CRDs) on kube-apiserver %s, %s"
        % (len(names), version, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
        "",
        "| phase | canary_weights (1 task, `routes`) | kubernetes.core.k8s (loop) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for phase in ("change", "no-change"):
        a, b = times[("canary_weights", phase)], times[("k8s", phase)]
        lines.append("| %s | %.1f s | %.1f s | %.1fx |" % (phase, a, b, b / a))
    lines += ["", "Same objects: canary_weights reports no change over the routes the k8s loop "
              "wrote: %s." % ("yes" if same else "NO"),
              "Command: python bench/canary_weights.py --routes %d" % len(names)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
