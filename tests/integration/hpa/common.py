"""Helpers of the hpa_thresholds / autoscaling tests: workloads pinned to a family, reading
back what the API server stored."""

import uuid
from decimal import Decimal

from ansible_collections.xinchuang.cloud.plugins.module_utils import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils import hpa_policy as hp


def pinned_name(family):
    return "web-%s" % family


def unique_namespace(testbed, prefix):
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:6])
    testbed.kubectl("create", "namespace", name, check=True)
    return name


def family_deployment(name, namespace, family, replicas=1, annotations=None, labels=None,
                      pod_annotations=None, requests=None):
    """A Deployment whose Pods kwok runs on the node of ``family`` (None: anywhere)."""
    pod_spec = {"containers": [{
        "name": "app", "image": "registry.invalid/xinchuang/app:1",
        "resources": {"requests": requests or {"cpu": "100m", "memory": "64Mi"}}}]}
    if family:
        pod_spec["nodeSelector"] = {hp.ARCH_LABEL: arch.lookup(family).oci_arch}
    meta = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": pod_annotations or {}},
                "spec": pod_spec,
            },
        },
    }


def hpa_names(testbed, namespace):
    items = testbed.get_json("hpa.v2.autoscaling", "-n", namespace)["items"]
    return sorted(i["metadata"]["name"] for i in items)


def stored_band(testbed, namespace, name):
    """Target per metric and tolerances of the HPA as the API server stores it."""
    hpa = testbed.get_json("hpa.v2.autoscaling", name, "-n", namespace)
    spec = hpa["spec"]
    behavior = spec.get("behavior") or {}
    return {
        "target": dict((m["resource"]["name"], m["resource"]["target"]["averageUtilization"])
                       for m in spec["metrics"]),
        "scale_up": hp.parse_quantity(behavior["scaleUp"]["tolerance"])
        if "tolerance" in (behavior.get("scaleUp") or {}) else None,
        "scale_down": hp.parse_quantity(behavior["scaleDown"]["tolerance"])
        if "tolerance" in (behavior.get("scaleDown") or {}) else None,
        "scaleDown": behavior.get("scaleDown") or {},
        "labels": hpa["metadata"].get("labels") or {},
        "raw": hpa,
    }


def as_decimal(value):
    return Decimal(str(value))
