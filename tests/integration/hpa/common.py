"""Helpers of the hpa_thresholds / autoscaling tests: reading back what the API server
stored. Workloads come from tests/integration/testbed/helpers.py (``deployment``)."""

from decimal import Decimal

# The kubernetes client's own quantity parser: what the server stored is read back with
# code independent of the module's (plugins/module_utils/common/quantity.py).
from kubernetes.utils import parse_quantity


def pinned_name(family):
    return "web-%s" % family


# What the Pods of the workloads under test request: utilisation is a percentage of it.
POD_REQUESTS = {"cpu": "100m", "memory": "64Mi"}


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
        "scale_up": parse_quantity(behavior["scaleUp"]["tolerance"])
        if "tolerance" in (behavior.get("scaleUp") or {}) else None,
        "scale_down": parse_quantity(behavior["scaleDown"]["tolerance"])
        if "tolerance" in (behavior.get("scaleDown") or {}) else None,
        "scaleDown": behavior.get("scaleDown") or {},
        "labels": hpa["metadata"].get("labels") or {},
        "raw": hpa,
    }


def as_decimal(value):
    return Decimal(str(value))
