"""The real metrics path: kwok emulates each node's /metrics/resource from Pod annotations,
metrics-server scrapes it and serves metrics.k8s.io, and the HPA controller reads it."""

import json

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch

from .helpers import deployment, quantity, running_pods, unique_namespace, wait_for

pytestmark = pytest.mark.slow

USAGE = {"kwok.x-k8s.io/usage-cpu": "250m", "kwok.x-k8s.io/usage-memory": "100Mi"}


@pytest.fixture
def namespace(testbed_metrics):
    name = unique_namespace(testbed_metrics, "tbm")
    yield name
    testbed_metrics.kubectl("delete", "namespace", name, "--wait=false")


def _pod_metrics(testbed, namespace, app, want):
    """The PodMetrics of ``app`` once there are ``want`` of them, else None."""
    proc = testbed.kubectl("get", "--raw",
                           "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods?labelSelector=app%%3D%s"
                           % (namespace, app))
    if proc.returncode != 0:
        return None
    items = json.loads(proc.stdout)["items"]
    return items if len(items) == want else None


def test_metrics_api_is_served_by_the_aggregated_metrics_server(testbed_metrics):
    api = testbed_metrics.get_json("apiservice", "v1beta1.metrics.k8s.io")
    available = [c for c in api["status"]["conditions"] if c["type"] == "Available"]
    assert available and available[0]["status"] == "True", available


def test_usage_from_annotations_reaches_kubectl_top_on_every_family(testbed_metrics, namespace):
    families = arch.families()
    spread = {"topologySpreadConstraints": [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/arch", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "usage"}}}]}
    testbed_metrics.apply(deployment("usage", namespace, len(families), spread, annotations=USAGE))
    pods = wait_for("a Running pod per family",
                    lambda: running_pods(testbed_metrics, namespace, "usage", len(families)))
    nodes = sorted(p["spec"]["nodeName"] for p in pods)
    # metrics-server needs two scrapes of a Pod (15 s resolution) to turn CPU time into a rate.
    items = wait_for("pod metrics of every 'usage' pod",
                     lambda: _pod_metrics(testbed_metrics, namespace, "usage", len(families)),
                     timeout=120)
    for item in items:
        cpu = quantity(item["containers"][0]["usage"]["cpu"])
        memory = quantity(item["containers"][0]["usage"]["memory"])
        assert abs(cpu - quantity("250m")) <= quantity("25m"), item
        assert memory == quantity("100Mi"), item
    top = testbed_metrics.kubectl("top", "pods", "-n", namespace, "--no-headers", check=True)
    assert top.stdout.count("usage-") == len(families), top.stdout

    # A node's usage is the sum of its Pods': each node carries at least one 'usage' Pod.
    def node_metrics():
        proc = testbed_metrics.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes")
        if proc.returncode != 0:
            return None
        got = {n["metadata"]["name"]: n["usage"] for n in json.loads(proc.stdout)["items"]}
        return got if all(n in got for n in nodes) else None

    usage = wait_for("node metrics of every family's node", node_metrics, timeout=120)
    for node in nodes:
        assert quantity(usage[node]["cpu"]) >= quantity("225m"), (node, usage[node])
        assert quantity(usage[node]["memory"]) >= quantity("100Mi"), (node, usage[node])


def test_team_user_reads_metrics_of_its_own_namespace(testbed_metrics):
    proc = testbed_metrics.user_kubectl("top", "pods", "-n", testbed_metrics.user_namespace)
    # No Pods there is fine ("No resources found"); being Forbidden is not.
    assert "Forbidden" not in proc.stderr, proc.stderr


def test_hpa_controller_reads_the_simulated_utilisation(testbed_metrics, namespace):
    # 250m used of 500m requested = 50 % of the request.
    testbed_metrics.apply(deployment("hpa", namespace, 2, annotations=USAGE,
                                     requests={"cpu": "500m", "memory": "200Mi"}))
    wait_for("2 Running pods", lambda: running_pods(testbed_metrics, namespace, "hpa", 2))
    testbed_metrics.apply({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "hpa", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hpa"},
            "minReplicas": 2,
            "maxReplicas": 2,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
        },
    })

    def current():
        hpa = testbed_metrics.get_json("hpa.v2.autoscaling", "hpa", "-n", namespace)
        for metric in hpa.get("status", {}).get("currentMetrics") or []:
            value = metric.get("resource", {}).get("current", {}).get("averageUtilization")
            if value is not None:
                return value
        return None

    utilisation = wait_for("the HPA's current CPU utilisation", current, timeout=150, interval=3)
    assert 45 <= utilisation <= 55
