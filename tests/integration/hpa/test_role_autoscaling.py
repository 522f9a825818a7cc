"""Role xinchuang.cloud.autoscaling on the testbed: HPAs for the workloads the inventory
names, a ResourceQuota and a LimitRange per architecture, VPAs only with the VPA CRD, and no
VPA on a metric the same workload's HPA scales on."""

import json
import os

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import hpa_policy as hp
from tests.integration import go_modules
from tests.integration.ansible_run import run_tasks
from tests.integration.testbed.helpers import deployment, unique_namespace

from .common import POD_REQUESTS, hpa_names

VPA_MODULE = "k8s.io/autoscaler/vertical-pod-autoscaler"
VPA_VERSION = "v1.8.1"
VPA_CRD = "verticalpodautoscalers.autoscaling.k8s.io"


def run_role(extra_vars, check=False):
    task = {"name": "role under test", "ansible.builtin.include_role": {
        "name": "xinchuang.cloud.autoscaling"}}
    play_results = run_tasks([task], check=check, extra_vars=extra_vars)
    return play_results


def _playbook_failed(results):
    return any(r.get("failed") for r in results)


@pytest.fixture(scope="module")
def ns(testbed):
    name = unique_namespace(testbed, "asr")
    testbed.apply({"apiVersion": "v1", "kind": "List", "items": [
        deployment("api-arm", name, family="arm", labels={"tier": "api"}, requests=POD_REQUESTS),
        deployment("api-sw64", name, family="sw64", labels={"tier": "api"}, requests=POD_REQUESTS),
        deployment("cache-c86", name, family="c86", requests=POD_REQUESTS),
    ]})
    yield name
    testbed.kubectl("delete", "namespace", name, "--wait=false")


def _vars(testbed, ns, **kw):
    base = {
        "autoscaling_kubeconfig": testbed.kubeconfig,
        "autoscaling_workloads": [
            {"namespace": ns, "label_selectors": ["tier=api"], "max_replicas": 6},
            {"namespace": ns, "names": ["cache-c86"], "metrics": ["cpu"]},
        ],
        "autoscaling_thresholds": {"arm64": {"cpu_scale_out": 85}},
        "autoscaling_resource_quotas": [
            {"family": "loong64", "namespaces": [ns], "hard": {"requests.cpu": "8", "pods": "40"}},
            {"family": "mips", "namespaces": [ns], "hard": {"requests.cpu": "2", "pods": "10"}},
        ],
        "autoscaling_limit_ranges": [
            {"family": "mips64el", "namespaces": [ns],
             "default": {"cpu": "500m", "memory": "256Mi"},
             "default_request": {"cpu": "250m", "memory": "128Mi"}},
        ],
    }
    base.update(kw)
    return base


def test_role_applies_hpas_quotas_and_limit_ranges_idempotently(testbed, ns):
    results = run_role(_vars(testbed, ns))
    assert not _playbook_failed(results), json.dumps(results)[-3000:]
    assert hpa_names(testbed, ns) == ["api-arm", "api-sw64", "cache-c86"]
    arm = testbed.get_json("hpa.v2.autoscaling", "api-arm", "-n", ns)
    assert arm["metadata"]["labels"][hp.FAMILY_LABEL] == "arm"
    cache = testbed.get_json("hpa.v2.autoscaling", "cache-c86", "-n", ns)
    assert [m["resource"]["name"] for m in cache["spec"]["metrics"]] == ["cpu"]
    quotas = testbed.get_json("resourcequota", "-n", ns)["items"]
    assert sorted(q["metadata"]["name"] for q in quotas) == ["arch-loongarch", "arch-mips"]
    assert {q["metadata"]["labels"][hp.FAMILY_LABEL] for q in quotas} == {"loongarch", "mips"}
    limits = testbed.get_json("limitrange", "arch-mips", "-n", ns)
    assert limits["spec"]["limits"][0]["default"] == {"cpu": "500m", "memory": "256Mi"}
    assert limits["spec"]["limits"][0]["defaultRequest"]["cpu"] == "250m"

    again = run_role(_vars(testbed, ns))
    assert not _playbook_failed(again)
    assert not any(r.get("changed") for r in again), [r for r in again if r.get("changed")]


def test_role_check_mode_leaves_nothing(testbed):
    namespace = unique_namespace(testbed, "asr-check")
    try:
        testbed.apply(deployment("api-arm", namespace, family="arm", labels={"tier": "api"},
                                 requests=POD_REQUESTS))
        results = run_role(_vars(testbed, namespace, autoscaling_workloads=[
            {"namespace": namespace, "label_selectors": ["tier=api"]}]), check=True)
        assert not _playbook_failed(results), json.dumps(results)[-3000:]
        assert hpa_names(testbed, namespace) == []
        assert testbed.get_json("resourcequota", "-n", namespace)["items"] == []
    finally:
        testbed.kubectl("delete", "namespace", namespace, "--wait=false")


def test_vpa_on_a_metric_of_the_hpa_is_refused_before_any_change(testbed):
    namespace = unique_namespace(testbed, "asr-vpa")
    try:
        testbed.apply(deployment("api-arm", namespace, family="arm", labels={"tier": "api"},
                                 requests=POD_REQUESTS))
        bad = _vars(testbed, namespace,
                    autoscaling_workloads=[{"namespace": namespace, "label_selectors": ["tier=api"]}],
                    autoscaling_vpas=[{"namespace": namespace, "name": "api-arm",
                                       "mode": "Initial", "controlled_resources": ["memory"]}])
        results = run_role(bad)
        assert _playbook_failed(results)
        text = json.dumps(results)
        assert "controls memory, which its" in text and "Nothing was changed" in text
        assert hpa_names(testbed, namespace) == []
        assert testbed.get_json("resourcequota", "-n", namespace)["items"] == []
    finally:
        testbed.kubectl("delete", "namespace", namespace, "--wait=false")


def _vpa_crd_file():
    """The upstream VPA CRD, from the Go module zip (no registry needed)."""
    path = os.path.join(go_modules.module_dir(VPA_MODULE, VPA_VERSION), "deploy", "vpa-v1-crd-gen.yaml")
    assert os.path.exists(path), path
    return path


def test_vpas_only_when_the_crd_exists(testbed):
    namespace = unique_namespace(testbed, "asr-vpa2")
    vpa = {"namespace": namespace, "name": "api-arm", "mode": "Initial",
           "controlled_resources": ["memory"]}
    args = _vars(testbed, namespace,
                 autoscaling_workloads=[{"namespace": namespace, "names": ["api-arm"],
                                         "metrics": ["cpu"]}],
                 autoscaling_resource_quotas=[], autoscaling_limit_ranges=[],
                 autoscaling_vpas=[vpa])
    crd_installed = False
    try:
        testbed.apply(deployment("api-arm", namespace, family="arm", requests=POD_REQUESTS))
        had_crd = testbed.kubectl("get", "crd", VPA_CRD).returncode == 0
        if not had_crd:
            results = run_role(args)
            assert not _playbook_failed(results), json.dumps(results)[-3000:]
            assert "VerticalPodAutoscaler(s) skipped" in json.dumps(results)
            required = run_role(dict(args, autoscaling_vpa_required=True))
            assert _playbook_failed(required)
            testbed.kubectl("apply", "--server-side", "-f", _vpa_crd_file(), check=True)
            crd_installed = True
            testbed.kubectl("wait", "--for=condition=Established", "crd/" + VPA_CRD,
                            "--timeout=60s", check=True)
        results = run_role(args)
        assert not _playbook_failed(results), json.dumps(results)[-3000:]
        stored = testbed.get_json("verticalpodautoscalers.autoscaling.k8s.io", "api-arm",
                                  "-n", namespace)
        assert stored["spec"]["updatePolicy"]["updateMode"] == "Initial"
        assert stored["spec"]["resourcePolicy"]["containerPolicies"][0]["controlledResources"] == ["memory"]
        hpa = testbed.get_json("hpa.v2.autoscaling", "api-arm", "-n", namespace)
        assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    finally:
        testbed.kubectl("delete", "namespace", namespace, "--wait=false")
        if crd_installed:
            testbed.kubectl("delete", "crd", VPA_CRD, "--wait=false")
