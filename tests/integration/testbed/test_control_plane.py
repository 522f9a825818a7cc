"""The testbed is a real, secured control plane with simulated nodes of all five CPU families."""

import json
import subprocess

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch

from .helpers import deployment, node_labels, quantity, running_pods, unique_namespace, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def namespace(testbed):
    name = unique_namespace(testbed, "tb")
    yield name
    testbed.kubectl("delete", "namespace", name, "--wait=false")


def test_server_and_kubectl_are_the_built_release(testbed):
    version = json.loads(testbed.kubectl("version", "-o", "json", check=True).stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.37.2"
    assert version["clientVersion"]["gitVersion"] == "v1.37.2"


def test_one_ready_node_per_family_labelled_from_the_architecture_model(testbed):
    labels = node_labels(testbed)
    by_family = {}
    for name, lab in labels.items():
        by_family.setdefault(lab["xinchuang.cloud/arch-family"], []).append(lab)
    assert sorted(by_family) == sorted(arch.families())
    for family in arch.FAMILIES:
        for lab in by_family[family.family]:
            assert lab["kubernetes.io/arch"] == family.oci_arch
            assert lab["xinchuang.cloud/cpu-vendor"] == family.vendors[0]
    nodes = testbed.get_json("nodes", "-l", "type=kwok")["items"]
    for node in nodes:
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", node["metadata"]["name"]
        assert node["status"]["allocatable"]["cpu"] == "32"
        assert quantity(node["status"]["allocatable"]["memory"]) == quantity("64Gi")


def test_five_replicas_pinned_to_loong64_all_run_on_the_loong64_node(testbed, namespace):
    testbed.apply(deployment("pinned", namespace, 5,
                             {"nodeSelector": {"kubernetes.io/arch": "loong64"}}))
    pods = wait_for("5 Running pods of 'pinned'",
                    lambda: running_pods(testbed, namespace, "pinned", 5))
    labels = node_labels(testbed)
    for pod in pods:
        node = pod["spec"]["nodeName"]
        assert labels[node]["kubernetes.io/arch"] == "loong64"
        assert labels[node]["xinchuang.cloud/arch-family"] == "loongarch"


def test_deployment_without_node_selector_spreads_over_every_family(testbed, namespace):
    # maxSkew 1 over kubernetes.io/arch with one domain per family: exactly one Pod each.
    spread = {"topologySpreadConstraints": [{
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/arch",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "spread"}},
    }]}
    families = arch.families()
    testbed.apply(deployment("spread", namespace, len(families), spread))
    pods = wait_for("one Running pod per family",
                    lambda: running_pods(testbed, namespace, "spread", len(families)))
    labels = node_labels(testbed)
    placed = sorted(labels[p["spec"]["nodeName"]]["xinchuang.cloud/arch-family"] for p in pods)
    assert placed == sorted(families)


def test_non_admin_user_is_forbidden_outside_its_namespace(testbed):
    for args in (["get", "pods", "-n", "default"],
                 ["create", "configmap", "intruder", "-n", "kube-system"],
                 ["get", "nodes"]):
        proc = testbed.user_kubectl(*args)
        assert proc.returncode != 0, args
        assert "forbidden" in proc.stderr.lower(), proc.stderr
        assert testbed.user in proc.stderr


def test_non_admin_user_is_allowed_inside_its_namespace(testbed):
    ns = testbed.user_namespace
    testbed.user_kubectl("delete", "configmap", "owned", "-n", ns, "--ignore-not-found")
    testbed.user_kubectl("create", "configmap", "owned", "-n", ns, "--from-literal=a=b", check=True)
    got = json.loads(testbed.user_kubectl("get", "configmap", "owned", "-n", ns, "-o", "json",
                                          check=True).stdout)
    assert got["data"] == {"a": "b"}
    assert testbed.user_kubectl("auth", "can-i", "create", "deployments", "-n", ns,
                                check=True).stdout.strip() == "yes"
    testbed.user_kubectl("delete", "configmap", "owned", "-n", ns, check=True)


def test_hpa_v2_keeps_per_direction_tolerance(testbed, namespace):
    testbed.apply(deployment("web", namespace, 1))
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}],
            "behavior": {
                "scaleUp": {"tolerance": "0.5"},
                "scaleDown": {"tolerance": "0.25", "stabilizationWindowSeconds": 30},
            },
        },
    }
    testbed.apply(hpa)
    stored = testbed.get_json("hpa.v2.autoscaling", "web", "-n", namespace)
    behavior = stored["spec"]["behavior"]
    assert quantity(behavior["scaleDown"]["tolerance"]) == quantity("0.25")
    assert quantity(behavior["scaleUp"]["tolerance"]) == quantity("0.5")
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 30


def test_anonymous_requests_are_refused(testbed):
    proc = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", testbed.ca_file,
         testbed.server + "/api/v1/namespaces/default/pods"],
        capture_output=True, text=True, timeout=30, check=False)
    assert proc.stdout in ("401", "403")


def test_controller_manager_and_scheduler_use_their_own_identities(testbed):
    for kubeconfig, user in (("controller-manager", "system:kube-controller-manager"),
                             ("scheduler", "system:kube-scheduler")):
        path = "%s/%s.kubeconfig" % (testbed.state_dir, kubeconfig)
        who = json.loads(testbed.kubectl("auth", "whoami", "-o", "json", kubeconfig=path,
                                         check=True).stdout)
        assert who["status"]["userInfo"]["username"] == user
