"""playbooks/upgrade.yml on the lab (docs/day2.md, "Upgrade"): a cluster site.yml builds from the
previous minor's bundle (v1.36.3, built from source like the current one), upgraded to this
bundle's Kubernetes while a Deployment keeps serving.

Its own lab: the module fixture takes down whatever cluster an earlier module left and brings the
lab up as `make lab` does, with the previous minor's bundle beside the current one
(XC_BUNDLE_KUBERNETES_VERSION; amd64 and arm64 only, the hosts of the first rollout). Full tier
only (tests/tiers.yml: a second lab and rollout); alone:
    XC_TIER=full hack/e2e.sh -k test_upgrade            # make test-upgrade

site.yml at v1.36.3 on xc-lab-amd64 (etcd, control plane, node) and the arm64 machine (node) ->
a Deployment of two replicas, one per node, behind a NodePort and a PodDisruptionBudget, asked
through both nodes' NodePorts every half second from here until the end -> site.yml with this
bundle's version is refused, naming upgrade.yml -> upgrade.yml --check
prints the plan and changes nothing -> upgrade.yml: the control plane, then each node drained,
upgraded, uncordoned; every binary prints v1.37.2 and the API and the kubelets say so; no half
second passed without an answer; a ConfigMap made before is there -> the same run again changes
nothing and drains nothing -> a downgrade is refused before anything changes.
"""

import json
import os
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.lab import (
    HOSTS, KUBERNETES_VERSION, ROOT, TOPOLOGY, assert_converged, assert_ok, bring_up, changed_tasks, failures, is_machine,
    kubectl, kubectl_json, log, on_host, playbook, sh, task_results, wait_for)
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy

pytestmark = pytest.mark.slow

PREVIOUS = [v for v in bundle_policy.KUBERNETES_RELEASES if v != KUBERNETES_VERSION][0]
ETCD = bundle_policy.component("etcd").version.lstrip("v")
CONTROL_PLANE = "xc-lab-amd64"
MACHINE = "xc-lab-arm64"
NODES = [CONTROL_PLANE, MACHINE]
LIMIT = ",".join(NODES)
NS = "default"
APP = "e2e-upgrade"
NODE_PORT = 30280
PROBE_SECONDS = 0.5
TOOLBOX = "xc-lab-registry:5000/library/busybox:1.37.0"  # hack/images.sh
TIMES = {}
STATE = {}


def goarch(host):
    return arch.lookup(HOSTS[host]["arch"]).goarch


class Prober(threading.Thread):
    """Asks the Service through each node's NodePort every PROBE_SECONDS; a round is answered
    when one node's NodePort answered 200 with the page. Keeps every unanswered round."""

    def __init__(self, addresses):
        super().__init__(daemon=True)
        self.addresses = addresses
        self.rounds = 0
        self.unanswered = []  # (time, {address: error})
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            started, errors = time.time(), {}
            for address in self.addresses:
                try:
                    with urllib.request.urlopen("http://%s:%d/" % (address, NODE_PORT), timeout=2) as answer:
                        if answer.status == 200 and b"upgrade" in answer.read():
                            break
                        errors[address] = "HTTP %d" % answer.status
                except (urllib.error.URLError, OSError) as exc:
                    errors[address] = str(exc)
            else:
                self.unanswered.append((started, errors))
            self.rounds += 1
            self.stopping.wait(max(0.0, PROBE_SECONDS - (time.time() - started)))


def node_address(host):
    return HOSTS[host]["address"]


def app_objects():
    labels = {"app": APP}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": APP, "namespace": NS},
         "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      # One replica per node while both are schedulable (a drained node's moves over).
                      "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                                     "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {
                                                         "matchLabels": labels}}],
                      "containers": [{"name": "web", "image": TOOLBOX,
                                      "command": ["sh", "-c", "mkdir -p /www && echo \"upgrade $NODE\" >/www/index.html"
                                                  " && exec httpd -f -p 8080 -h /www"],
                                      "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                                      "ports": [{"containerPort": 8080}],
                                      "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2}}]}}}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": APP, "namespace": NS},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": APP, "namespace": NS},
         "spec": {"type": "NodePort", "selector": labels,
                  "ports": [{"port": 80, "targetPort": 8080, "nodePort": NODE_PORT}]}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": APP + "-before", "namespace": NS},
         "data": {"made": "before the upgrade"}},
    ]


def versions():
    """{what: version} the cluster reports: the API server, and each node's kubelet and kube-proxy."""
    out = {"apiserver": json.loads(kubectl("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]}
    for host in NODES:
        info = kubectl_json("get", "node", host)["status"]["nodeInfo"]
        out["kubelet " + host] = info["kubeletVersion"]
    return out


def host_versions(host):
    """What each installed binary prints on HOST, as the role's round trip reads them."""
    binaries = ["kubelet", "kube-proxy"] + (["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
                                            if host == CONTROL_PLANE else [])
    out = {}
    for binary in binaries:
        out[binary] = on_host(host, "/usr/local/bin/" + binary, "--version").stdout.strip().splitlines()[0]
    return out


def messages(report):
    """Every debug message of a run, flattened (the plan's summary lines are among them)."""
    out = []
    for play in report.get("plays", []):
        for task in play["tasks"]:
            for res in task["hosts"].values():
                msg = res.get("msg")
                out += msg if isinstance(msg, list) else [str(msg)] if msg else []
    return out


@pytest.fixture(scope="module")
def lab():
    """A fresh lab, the previous minor's bundle, and site.yml from it on the first two hosts."""
    sh([os.path.join(ROOT, "hack", "lab.sh"), "down", "--topology", TOPOLOGY], check=False)
    start = time.time()
    env = dict(os.environ, XC_BUNDLE_KUBERNETES_VERSION=PREVIOUS)
    sh([os.path.join(ROOT, "hack", "bundle.sh"), "amd64", "arm64"], timeout=7200, env=env)
    TIMES["bundle " + PREVIOUS + " (amd64, arm64)"] = time.time() - start
    for step, took in bring_up().items():
        TIMES["lab: " + step] = took
    report, proc, took = playbook("site.yml", "--limit", LIMIT, "-e", "kubernetes_version=" + PREVIOUS)
    TIMES["site.yml at " + PREVIOUS] = took
    assert_ok(report, proc)
    yield
    if "prober" in STATE:
        STATE["prober"].stopping.set()
    for name, took in TIMES.items():
        log("TIME %-44s %7.1f" % (name, took))


def test_upgrade_starts_from_the_previous_minor_serving(lab):
    assert versions() == dict([("apiserver", PREVIOUS)] + [("kubelet " + h, PREVIOUS) for h in NODES])
    for obj in app_objects():
        kubectl("apply", "-f", "-", stdin=json.dumps(obj))
    kubectl("-n", NS, "rollout", "status", "deployment/" + APP, "--timeout=600s", timeout=660)
    pods = kubectl_json("-n", NS, "get", "pods", "-l", "app=" + APP)["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(NODES), [p["spec"].get("nodeName") for p in pods]
    prober = Prober([node_address(h) for h in NODES])
    STATE["prober"] = prober
    prober.start()
    wait_for("the prober's first rounds", lambda: prober.rounds >= 4, timeout=60, interval=1)
    assert prober.unanswered == [], prober.unanswered[:5]


def test_site_yml_with_the_new_version_is_refused_naming_upgrade_yml(lab):
    """The inventory's kubernetes_version is this bundle's: site.yml would change every host at
    once, so its preflight refuses and names upgrade.yml."""
    report, proc, TIMES["site.yml refused"] = playbook("site.yml", "--limit", LIMIT)
    assert proc.returncode != 0
    msgs = "\n".join(failures(report))
    assert ("the cluster runs Kubernetes %s (its API server) and kubernetes_version is %s: site.yml does not upgrade"
            % (PREVIOUS, KUBERNETES_VERSION)) in msgs and "playbooks/upgrade.yml" in msgs, msgs
    assert not changed_tasks(report), "changed before stopping:\n" + "\n".join(changed_tasks(report))
    assert versions()["apiserver"] == PREVIOUS


def test_upgrade_in_check_mode_prints_the_plan_and_changes_nothing(lab):
    report, proc, TIMES["upgrade.yml --check"] = playbook("upgrade.yml", "--limit", LIMIT, "--check")
    assert_ok(report, proc)
    said = messages(report)
    assert "would do, in check mode:" in said, said
    assert ("control planes, one by one: %s (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl %s -> %s)"
            % (CONTROL_PLANE, PREVIOUS, KUBERNETES_VERSION)) in said, said
    assert ("nodes, 1 at a time (drain, upgrade, uncordon): %s (kubelet, kube-proxy %s -> %s); %s (kubelet, kube-proxy "
            "%s -> %s)" % (CONTROL_PLANE, PREVIOUS, KUBERNETES_VERSION, MACHINE, PREVIOUS, KUBERNETES_VERSION)) in said
    # etcd is the same release in both bundles.
    assert "etcd members, one by one: nothing to do" in said, said
    assert versions()["apiserver"] == PREVIOUS
    for host in NODES:
        assert host_versions(host)["kubelet"] == "Kubernetes " + PREVIOUS
        assert kubectl_json("get", "node", host)["spec"].get("unschedulable") is None, host


def test_upgrade_moves_every_part_in_order_while_the_deployment_keeps_serving(lab):
    report, proc, TIMES["upgrade.yml"] = playbook("upgrade.yml", "--limit", LIMIT)
    assert_ok(report, proc)
    plays = [p["play"]["name"] for p in report["plays"]]
    # A play of `serial` batches is reported once per batch: the nodes' play once per node here.
    phases = [n for n in plays if n.startswith("Upgrade | ") and ("one by one" in n or "batches" in n)]
    order = [n for i, n in enumerate(phases) if i == 0 or phases[i - 1] != n]
    assert order == ["Upgrade | etcd members, one by one", "Upgrade | Control planes, one by one",
                     "Upgrade | Nodes, in batches"], plays
    assert phases.count("Upgrade | Nodes, in batches") == len(NODES), plays
    drained = [h for h, r in task_results(report, "Drain the node") if r.get("changed")]
    uncordoned = [h for h, r in task_results(report, "Uncordon the node") if r.get("changed")]
    assert drained == NODES and uncordoned == NODES, (drained, uncordoned)
    assert versions() == dict([("apiserver", KUBERNETES_VERSION)] + [("kubelet " + h, KUBERNETES_VERSION) for h in NODES])
    for host in NODES:
        printed = host_versions(host)
        wrong = dict((b, v) for b, v in printed.items()
                     if v != ("etcd Version: " + ETCD if b == "etcd" else "Kubernetes " + KUBERNETES_VERSION))
        assert not wrong, (host, wrong)
        assert kubectl_json("get", "node", host)["spec"].get("unschedulable") is None, host
        # kubelet reports the GOARCH it was built for: the machine's, not this machine's through binfmt.
        if is_machine(host):
            assert kubectl_json("get", "node", host)["status"]["nodeInfo"]["architecture"] == goarch(host)
    kubectl("-n", NS, "rollout", "status", "deployment/" + APP, "--timeout=600s", timeout=660)
    made = kubectl_json("-n", NS, "get", "configmap", APP + "-before")
    assert made["data"] == {"made": "before the upgrade"}
    prober = STATE["prober"]
    TIMES["probe rounds during the upgrade"] = prober.rounds
    assert prober.unanswered == [], "%d of %d rounds unanswered, first: %s" % (
        len(prober.unanswered), prober.rounds, prober.unanswered[:3])


def test_upgrade_again_changes_nothing_and_drains_nothing(lab):
    report, proc, TIMES["upgrade.yml again"] = playbook("upgrade.yml", "--limit", LIMIT)
    assert_converged(report, proc, "upgrade.yml at the target")
    assert "nodes, 1 at a time (drain, upgrade, uncordon): nothing to do" in messages(report)
    assert not [h for h, r in task_results(report, "Drain the node") if not r.get("skipped")]


def test_upgrade_refuses_a_downgrade_before_anything_changes(lab):
    report, proc, _took = playbook("upgrade.yml", "--limit", LIMIT, "-e", "kubernetes_version=" + PREVIOUS)
    assert proc.returncode != 0
    msgs = "\n".join(failures(report))
    assert "nothing was changed" in msgs and "newer than %s" % PREVIOUS in msgs and "etcd_restore.yml" in msgs, msgs
    assert not changed_tasks(report), "changed before stopping:\n" + "\n".join(changed_tasks(report))
    assert versions()["apiserver"] == KUBERNETES_VERSION
    STATE["prober"].stopping.set()
    assert STATE["prober"].unanswered == []
