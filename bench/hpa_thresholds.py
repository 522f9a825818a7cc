"""Benchmark: thresholds for N workloads (spread over the five CPU families) in one
xinchuang.cloud.hpa_thresholds task, versus a loop of kubernetes.core.k8s applying the very
same HPA objects, against the same API server in the same run.

Usage (the testbed must be up: hack/testbed.sh up):
    source hack/env.sh
    python bench/hpa_thresholds.py [--workloads 500] [--kubeconfig .testbed/admin.kubeconfig]
        [--output bench/results/hpa_thresholds.md]

Phases, each timed as the wall time of one ansible-playbook run:
  create    no HPA exists; every HPA is created
  no-change every HPA exists as desired; nothing is written
The HPAs are deleted between the two tools' create phases, so both start from the same state.
The Deployments have 0 replicas: no Pods, so the API server does the same work for both.
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

from ansible_collections.xinchuang.cloud.plugins.module_utils import arch  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils import hpa_policy as hp  # noqa: E402
from tests.integration.ansible_run import ansible_env  # noqa: E402

LABEL = "xinchuang.cloud/bench"


def kubectl(kubeconfig, *args, **kw):
    binary = os.path.join(ROOT, ".testbed", "bin", "kubectl")
    if not os.path.exists(binary):
        binary = "kubectl"
    proc = subprocess.run([binary, "--kubeconfig", kubeconfig] + list(args), capture_output=True,
                          text=True, check=False, **kw)
    if proc.returncode != 0:
        raise SystemExit("kubectl %s failed: %s" % (" ".join(args), proc.stderr[-2000:]))
    return proc.stdout


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
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), cwd=ROOT,
                              check=False)
        elapsed = time.monotonic() - start
    report = json.loads(proc.stdout)
    results = [t["hosts"]["localhost"] for t in report["plays"][0]["tasks"]]
    for res in results:
        if res.get("failed"):
            raise SystemExit("task failed: %s" % json.dumps(res)[:3000])
    return elapsed, results


def count_hpas(kubeconfig, namespace):
    data = json.loads(kubectl(kubeconfig, "get", "hpa.v2.autoscaling", "-n", namespace,
                              "-o", "json"))
    return len(data["items"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--workloads", type=int, default=500)
    ap.add_argument("--kubeconfig", default=os.path.join(ROOT, ".testbed", "admin.kubeconfig"))
    ap.add_argument("--namespace", default="bench-hpa")
    ap.add_argument("--max-replicas", type=int, default=10)
    ap.add_argument("--output", help="also write the Markdown table to this file")
    ap.add_argument("--keep", action="store_true", help="keep the namespace afterwards")
    args = ap.parse_args()
    kc, ns = os.path.abspath(args.kubeconfig), args.namespace

    kubectl(kc, "delete", "namespace", ns, "--ignore-not-found", "--wait=true", timeout=600)
    kubectl(kc, "create", "namespace", ns)
    items = deployments(ns, args.workloads)
    kubectl(kc, "apply", "--server-side", "-f", "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}), timeout=600)
    hpas = hpa_objects(items, args.max_replicas)

    ours = [{"name": "hpa_thresholds: %d workloads" % len(items),
             "xinchuang.cloud.hpa_thresholds": {
                 "kubeconfig": kc, "namespace": ns, "label_selectors": ["%s=hpa" % LABEL],
                 "max_replicas": args.max_replicas}}]
    times = {}
    times[("hpa_thresholds", "create")], res = playbook(ours)
    assert res[0]["changed"] and count_hpas(kc, ns) == len(items)
    assert all(w["mode"] == "tolerance" for w in res[0]["workloads"])
    times[("hpa_thresholds", "no-change")], res = playbook(ours)
    assert not res[0]["changed"]
    kubectl(kc, "delete", "hpa.v2.autoscaling", "--all", "-n", ns, timeout=600)
    assert count_hpas(kc, ns) == 0

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"bench_hpas": hpas}, fh)
        vars_file = fh.name
    try:
        loop = [{"name": "kubernetes.core.k8s loop: %d HPAs" % len(hpas),
                 "kubernetes.core.k8s": {"kubeconfig": kc, "state": "present",
                                         "definition": "{{ item }}"},
                 "loop": "{{ bench_hpas }}",
                 "loop_control": {"label": "{{ item.metadata.name }}"}}]
        times[("kubernetes.core.k8s loop", "create")], res = playbook(loop, vars_file)
        assert count_hpas(kc, ns) == len(items)
        times[("kubernetes.core.k8s loop", "no-change")], res = playbook(loop, vars_file)
        assert not res[0]["changed"], "k8s loop changed on its second run"
        # both tools made the same objects: ours reports no change over the k8s-made HPAs
        _t, res = playbook([dict(ours[0], **{"xinchuang.cloud.hpa_thresholds": dict(
            ours[0]["xinchuang.cloud.hpa_thresholds"], force_conflicts=True)})])
        same = not res[0]["changed"]
    finally:
        os.unlink(vars_file)
        if not args.keep:
            kubectl(kc, "delete", "namespace", ns, "--wait=false")

    version = json.loads(kubectl(kc, "version", "-o", "json"))["serverVersion"]["gitVersion"]
    lines = [
        "Thresholds for %d workloads (%s) on kube-apiserver %s, %s"
        % (len(items), ", ".join("%d %s" % (sum(1 for i in range(len(items))
                                                if arch.families()[i % 5] == f), f)
                                 for f in arch.families()),
           version, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
        "",
        "| phase | hpa_thresholds (1 task) | kubernetes.core.k8s (loop) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for phase in ("create", "no-change"):
        a = times[("hpa_thresholds", phase)]
        b = times[("kubernetes.core.k8s loop", phase)]
        lines.append("| %s | %.1f s | %.1f s | %.1fx |" % (phase, a, b, b / a))
    lines += ["", "Same objects: hpa_thresholds reports no change over the HPAs the k8s loop "
              "made: %s." % ("yes" if same else "NO"),
              "Command: python bench/hpa_thresholds.py --workloads %d" % len(items)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
