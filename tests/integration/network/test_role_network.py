"""Role xinchuang.cloud.network on the testbed's real API server (a control plane built from
upstream source, kwok's simulated nodes): what it applies for each kubernetes_cni and
network_policy_engine, a rerun and a check-mode run changing nothing, and the refusal to drop a
kube-router that runs before any change.

The objects are checked on the server; that the daemons move packets is the lab's proof
(tests/e2e: flannel's VXLAN and kube-router's refusals across amd64 and arm64)."""

import json
import uuid

import pytest

from tests.integration.ansible_run import run_tasks

SUFFIX = uuid.uuid4().hex[:5]
FLANNEL_NS = "nw-flannel-" + SUFFIX
POLICY_NS = "nw-policy-" + SUFFIX
SERVICE_CIDR = "10.96.0.0/12"
ROLE_TASK = {"name": "role under test", "ansible.builtin.include_role": {"name": "xinchuang.cloud.network"},
             "ignore_errors": True}


def pod_network(testbed, cni):
    """The fact the kubernetes role publishes, as it would for this testbed."""
    return {"cni": cni, "pod_cidr": "10.244.0.0/16", "service_cidr": SERVICE_CIDR, "flannel_backend": "vxlan",
            "flannel_vxlan_port": 8472, "apiserver_url": testbed.server}


def run_role(testbed, cni, check=False, diff=False, **extra):
    extra_vars = {"xinchuang_pod_network": pod_network(testbed, cni), "network_kubeconfig": testbed.kubeconfig,
                  "network_flannel_namespace": FLANNEL_NS, "network_policy_namespace": POLICY_NS,
                  "network_wait_timeout": 300}
    extra_vars.update(extra)
    return run_tasks([ROLE_TASK], check=check, diff=diff, extra_vars=extra_vars)


def failed(results):
    return [r for r in results if r.get("failed")]


def changed(results):
    return [r for r in results if r.get("changed")]


def get(testbed, *args):
    proc = testbed.kubectl("get", *args, "-o", "json")
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def daemonset(testbed, namespace, name):
    return get(testbed, "daemonset", "-n", namespace, name)


@pytest.fixture(scope="module")
def cleanup(testbed):
    yield
    for ns in (FLANNEL_NS, POLICY_NS):
        testbed.kubectl("delete", "namespace", ns, "--wait=false")


def test_cni_none_applies_nothing(testbed, cleanup):
    results = run_role(testbed, "none")
    assert not failed(results) and not changed(results), failed(results) or changed(results)
    assert get(testbed, "namespace", POLICY_NS) is None and get(testbed, "namespace", FLANNEL_NS) is None


def test_bridge_gets_kube_router_alone_and_it_runs_on_every_node(testbed, cleanup):
    """Under bridge: kube-router's firewall alone (no flannel), read-only RBAC, the Service range
    of the fact; the role waits until the DaemonSet is ready on every (simulated) node."""
    results = run_role(testbed, "bridge")
    assert not failed(results), failed(results)
    assert get(testbed, "namespace", FLANNEL_NS) is None
    ds = daemonset(testbed, POLICY_NS, "kube-router")
    pod = ds["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert {"--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--enable-cni=false",
            "--service-cluster-ip-range=" + SERVICE_CIDR, "--iptables-sync-period=300s"} <= set(args), args
    assert pod["hostNetwork"] and pod["containers"][0]["image"].endswith("/cloudnativelabs/kube-router:v2.1.0")
    assert pod["containers"][0]["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"}}, pod["containers"][0]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert "https://%s:%s" % (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == testbed.server
    assert ds["status"]["numberReady"] == ds["status"]["desiredNumberScheduled"] > 0, ds["status"]
    rules = get(testbed, "clusterrole", "xinchuang:kube-router")["rules"]
    assert {verb for rule in rules for verb in rule["verbs"]} == {"get", "list", "watch"}, rules
    ns = get(testbed, "namespace", POLICY_NS)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_flannel_gets_both_and_a_rerun_and_check_mode_change_nothing(testbed, cleanup):
    """Under flannel: both DaemonSets, kube-router with the sync period and the CPU limit asked
    (the lab caps it on its emulated machine); a rerun and check mode change nothing."""
    settings = {"network_kube_router_sync_period": 600,
                "network_kube_router_resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "200m"}}}
    results = run_role(testbed, "flannel", **settings)
    assert not failed(results), failed(results)
    assert daemonset(testbed, FLANNEL_NS, "kube-flannel") is not None
    container = daemonset(testbed, POLICY_NS, "kube-router")["spec"]["template"]["spec"]["containers"][0]
    assert "--iptables-sync-period=600s" in container["args"], container["args"]
    assert container["resources"] == {"requests": {"cpu": "50m"}, "limits": {"cpu": "200m"}}, container
    for check in (False, True):
        again = run_role(testbed, "flannel", check=check, diff=check, **settings)
        assert not failed(again) and not changed(again), (check, failed(again) or changed(again))


def test_engine_none_is_refused_while_kube_router_runs_before_any_change(testbed, cleanup):
    before = daemonset(testbed, POLICY_NS, "kube-router")
    assert before is not None
    # A flannel change asked in the same run must not be made either.
    results = run_role(testbed, "flannel", network_policy_engine="none", network_flannel_iptables_resync=7)
    bad = failed(results)
    assert len(bad) == 1, bad
    msg = bad[0]["msg"]
    assert "network_policy_engine 'none'" in msg and "--cleanup-config" in msg and "Nothing was changed" in msg, msg
    assert POLICY_NS + "/kube-router" in msg, msg
    assert not changed(results), changed(results)
    flannel_args = daemonset(testbed, FLANNEL_NS, "kube-flannel")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--iptables-resync=7" not in flannel_args, flannel_args
    assert daemonset(testbed, POLICY_NS, "kube-router")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_a_bad_sync_period_is_named_before_any_change(testbed, cleanup):
    results = run_role(testbed, "flannel", network_kube_router_sync_period=0)
    bad = failed(results)
    assert len(bad) == 1 and "network_kube_router_sync_period '0'" in bad[0]["msg"], bad
    assert not changed(results)
