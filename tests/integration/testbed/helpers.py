"""Small helpers shared by the tests against the testbed: namespaces, Deployments, polling."""

import time
import uuid

from kubernetes.utils import parse_quantity

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch


def quantity(text):
    """A Kubernetes quantity ('50m', '250089352n', '64Gi') as a Decimal."""
    return parse_quantity(text)


def wait_for(what, probe, timeout=90, interval=1.0):
    """Poll ``probe()`` until it returns a truthy value; fail with ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s; last seen: %r" % (timeout, what, last))


def unique_namespace(testbed, prefix):
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:6])
    testbed.kubectl("create", "namespace", name, check=True)
    return name


def deployment(name, namespace, replicas=1, pod_spec_extra=None, annotations=None, requests=None,
               family=None, labels=None, workload_annotations=None):
    """A Deployment whose Pods kwok 'runs' (the image is never pulled on a kwok node).

    ``annotations`` go on the Pod template (kwok reads the simulated usage there),
    ``workload_annotations`` on the Deployment itself (hpa_thresholds reads its own there).
    ``family`` pins the Pods to that CPU family's nodes (nodeSelector on kubernetes.io/arch);
    None lets them run anywhere."""
    container = {"name": "app", "image": "registry.invalid/xinchuang/app:1"}
    if requests:
        container["resources"] = {"requests": requests}
    spec = {"containers": [container]}
    if family:
        spec["nodeSelector"] = {"kubernetes.io/arch": arch.lookup(family).oci_arch}
    spec.update(pod_spec_extra or {})
    meta = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    if workload_annotations:
        meta["annotations"] = dict(workload_annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                "spec": spec,
            },
        },
    }


def running_pods(testbed, namespace, app, want):
    """Pods of ``app`` when exactly ``want`` of them are Running, else None."""
    pods = testbed.get_json("pods", "-n", namespace, "-l", "app=" + app)["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running"
               and not p["metadata"].get("deletionTimestamp")]
    return running if len(running) == want else None


def node_labels(testbed):
    return {n["metadata"]["name"]: n["metadata"]["labels"]
            for n in testbed.get_json("nodes", "-l", "type=kwok")["items"]}
