# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks around a step of a gray release, as pure arithmetic over what was read. No I/O.

Before a backend's weight rises (canary_weights' ``verify``): its Deployment is available
at its latest generation, the Ready nodes it may run on have room (pods, CPU, memory
requests) for its replicas, and which image references and node platforms the registry
must be asked about. After a step (the canary_release role): the Prometheus instant query's
answer against the threshold, and the data plane's own counters per backend (requests, 5xx
answers, latency quantile) against the error ratio and latency limits.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re
from urllib.parse import quote

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import gateway
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations.canary_plan import CanaryPolicyError
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.quantity import (
    cpu_millis,
    memory_bytes,
)

DOCKER_HUB = "docker.io"
# How container runtimes read a reference without a tag, and a Docker Hub name without a
# namespace (nginx:1.25 is docker.io/library/nginx:1.25).
DEFAULT_TAG = "latest"
DOCKER_HUB_NAMESPACE = "library"


# ---------------------------------------------------------------------------
# Deployment available, room on its nodes
# ---------------------------------------------------------------------------

def deployment_available(deployment):
    """(ok, reason): rolled out at its generation with every replica available."""
    meta, spec = deployment.get("metadata") or {}, deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = meta.get("name")
    want = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False, "Deployment %s: the controller has not seen its latest spec yet" % name
    conds = dict((c.get("type"), c) for c in status.get("conditions") or [])
    avail = conds.get("Available", {})
    if avail.get("status") != "True":
        return False, "Deployment %s is not Available (%s)" % (name, avail.get("message") or "no condition yet")
    have = status.get("availableReplicas", 0) or 0
    if have < want or (status.get("updatedReplicas", 0) or 0) < want:
        return False, "Deployment %s: %d of %d replicas available and updated" % (name, have, want)
    return True, "Deployment %s: %d/%d replicas available" % (name, have, want)


def pod_requests(pod_spec):
    """(cpu millis, memory bytes) a Pod of this spec asks for (sum over its containers)."""
    cpu = mem = 0
    for c in pod_spec.get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += cpu_millis(req.get("cpu"))
        mem += memory_bytes(req.get("memory"))
    return cpu, mem


def _node_ready(node):
    conds = dict((c.get("type"), c.get("status")) for c in (node.get("status") or {}).get("conditions") or [])
    return conds.get("Ready") == "True" and not (node.get("spec") or {}).get("unschedulable")


def eligible_nodes(deployment, nodes):
    """Ready, schedulable nodes whose labels satisfy the Deployment's nodeSelector."""
    selector = ((((deployment.get("spec") or {}).get("template") or {}).get("spec") or {})
                .get("nodeSelector") or {})
    return [n for n in nodes if _node_ready(n) and all(
        ((n.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())]


def node_platforms(nodes):
    """OCI platforms (``linux/<kubernetes.io/arch>``) of ``nodes``, sorted, without repeats."""
    archs = set(((n.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/arch") for n in nodes)
    return ["linux/%s" % a for a in sorted(a for a in archs if a)]


def pod_images(pod_spec):
    """Images of a Pod spec's init and regular containers, in order, without repeats."""
    out = []
    for c in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or []):
        if c.get("image") and c["image"] not in out:
            out.append(c["image"])
    return out


def image_location(image):
    """A Pod's image -> (registry host, manifest_index.Reference), as container runtimes read
    it: a first component with '.' or ':' (or ``localhost``) is the registry, otherwise the
    image is on Docker Hub (``docker.io``, single names under ``library/``); no tag means
    ``latest``. The reference grammar is manifest_index.parse_reference's.
    """
    text = image.strip()
    name = text.split("@", 1)[0]
    if ":" not in name.rsplit("/", 1)[-1] and "@" not in text:
        text += ":" + DEFAULT_TAG
    first = text.split("/", 1)[0]
    # parse_reference strips a leading registry host only when it is the one given: give it
    # the first component, and it tells by stripping it or not whether that was a host.
    ref = manifest_index.parse_reference(text, registry=first)
    host = first if ref.repository.count("/") < name.count("/") else DOCKER_HUB
    if host in (DOCKER_HUB, "index." + DOCKER_HUB):
        host = DOCKER_HUB
        if "/" not in ref.repository:
            ref = manifest_index.Reference("%s/%s" % (DOCKER_HUB_NAMESPACE, ref.repository),
                                           ref.tag, ref.digest)
    return host, ref


def registry_endpoint(host, endpoints=None):
    """The host[:port] the controller reads an image of registry ``host`` at: ``endpoints[host]``
    (option registry_endpoints: {name the nodes pull by: address the controller reaches}) when
    given, else ``host``. CanaryPolicyError names an endpoint with a scheme or a path."""
    endpoint = (endpoints or {}).get(host)
    if endpoint is None:
        return host
    return manifest_index.registry_host(endpoint, "registry_endpoints[%r]" % (host,), CanaryPolicyError,
                                        example="10.20.0.5:5000")


def node_room(deployment, nodes, pods):
    """(ok, reason): the Ready nodes matching the Deployment's nodeSelector can hold its replicas.

    Counts what the other Pods already request on those nodes (the Deployment's own Pods are
    left out: they are the ones that must fit) against allocatable pods, CPU and memory.
    """
    tmpl = ((deployment.get("spec") or {}).get("template") or {})
    pod_spec = tmpl.get("spec") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    selector = pod_spec.get("nodeSelector") or {}
    name = deployment["metadata"]["name"]
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    eligible = eligible_nodes(deployment, nodes)
    if not eligible:
        return False, "Deployment %s: no Ready schedulable node matches nodeSelector %s" % (name, selector)
    names = set(n["metadata"]["name"] for n in eligible)
    cpu_need, mem_need = pod_requests(pod_spec)
    free_pods = free_cpu = free_mem = 0
    for node in eligible:
        alloc = (node.get("status") or {}).get("allocatable") or {}
        used_pods = used_cpu = used_mem = 0
        for pod in pods:
            pspec = pod.get("spec") or {}
            if pspec.get("nodeName") != node["metadata"]["name"]:
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            if all(((pod.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in labels.items()):
                continue  # one of this Deployment's own Pods
            c, m = pod_requests(pspec)
            used_pods, used_cpu, used_mem = used_pods + 1, used_cpu + c, used_mem + m
        free_pods += max(0, int(alloc.get("pods", 110)) - used_pods)
        free_cpu += max(0, cpu_millis(alloc.get("cpu")) - used_cpu)
        free_mem += max(0, memory_bytes(alloc.get("memory")) - used_mem)
    short = []
    if free_pods < replicas:
        short.append("pods %d < %d" % (free_pods, replicas))
    if cpu_need and free_cpu < cpu_need * replicas:
        short.append("cpu %dm < %dm" % (free_cpu, cpu_need * replicas))
    if mem_need and free_mem < mem_need * replicas:
        short.append("memory %d < %d bytes" % (free_mem, mem_need * replicas))
    where = "nodes %s" % ", ".join(sorted(names))
    if short:
        return False, "Deployment %s: %s lack room for %d replicas (%s)" % (
            name, where, replicas, "; ".join(short))
    return True, "Deployment %s: %s have room for %d replicas" % (name, where, replicas)


# ---------------------------------------------------------------------------
# The metric check after a step: a Prometheus instant query against a threshold
# ---------------------------------------------------------------------------

PASS_WHEN = ("below", "above")


def prometheus_query_url(base_url, query):
    """The HTTP API URL of an instant ``query`` on the Prometheus at ``base_url``."""
    if not base_url or not query:
        raise CanaryPolicyError(
            "the metric check needs the Prometheus URL and an instant query returning one "
            "number; got url %r and query %r" % (base_url, query))
    return "%s/api/v1/query?query=%s" % (base_url.rstrip("/"), quote(query, safe=""))


def metric_verdict(response, query, threshold, pass_when="below"):
    """Judge Prometheus's answer (the JSON of /api/v1/query) against ``threshold``.

    The first sample of a vector, or a scalar, is the value; the check passes when it is
    strictly ``below`` (or ``above``) the threshold. No sample, an error status or a
    non-number (NaN) fails, since a missing metric proves nothing about the canary.
    Returns {ok, value (None without a number), message}.
    """
    if pass_when not in PASS_WHEN:
        raise CanaryPolicyError("pass_when %r must be below or above" % (pass_when,))
    limit = float(threshold)
    sample = _first_sample(response)
    value = _sample_number(sample)
    shown = sample[1] if sample is not None else "no result"
    ok = value is not None and (value < limit if pass_when == "below" else value > limit)
    if ok:
        message = "%s = %s (%s %s)" % (query, value, pass_when, threshold)
    else:
        message = "Prometheus check failed: %s = %s, must be %s %s%s" % (
            query, shown, pass_when, threshold,
            "" if (response or {}).get("status") == "success" else
            " (Prometheus answered %s)" % ((response or {}).get("error") or "no JSON"))
    return {"ok": ok, "value": value, "message": message}


def _first_sample(response):
    """The first sample (``[time, "value"]``) of an instant query's answer: of a vector, or
    the scalar; None for an error status or no result."""
    data = (response or {}).get("data") or {}
    result = data.get("result")
    if (response or {}).get("status") != "success":
        return None
    if data.get("resultType") == "scalar" and result:
        return result
    if isinstance(result, list) and result and result[0].get("value"):
        return result[0]["value"]
    return None


def _sample_number(sample):
    """A sample's value as a float; None without one, or NaN."""
    try:
        value = float(sample[1]) if sample is not None else None
    except (TypeError, ValueError, IndexError):
        return None
    return None if value is None or math.isnan(value) else value


def _first_number(response):
    """The first sample of an instant query's answer as a float; None without one (or NaN)."""
    return _sample_number(_first_sample(response))


# ---------------------------------------------------------------------------
# The data plane's own counters: per backend, what the Gateway served in a step
# ---------------------------------------------------------------------------

# The series of each data plane, and how it names a route's backend in their ``service`` label.
# traefik: the gateway role's Traefik counts every request per backend (with its HTTP code) and
# times it in a histogram (gateway.metrics_service).
DATA_PLANES = {
    "traefik": {
        "requests": "traefik_service_requests_total",
        "duration": "traefik_service_request_duration_seconds_bucket",
        "service_label": gateway.metrics_service,
    },
}
MEASURES = ("requests", "errors", "latency")
_WINDOW = re.compile(r"^[1-9][0-9]*(ms|s|m|h)$")


def data_plane_window(window, pause_seconds):
    """The PromQL range a step is judged over: ``window`` when given, else the step's pause
    (``<pause>s``), so that the counters cover the traffic the step itself served."""
    if window:
        if not _WINDOW.match(str(window)):
            raise CanaryPolicyError(
                "the data plane window %r is not a Prometheus duration such as 30s or 2m: give "
                "one at least two scrape intervals long" % (window,))
        return str(window)
    try:
        pause = int(pause_seconds)
    except (TypeError, ValueError):
        pause = 0
    if pause <= 0:
        raise CanaryPolicyError(
            "the data plane check judges the traffic of the pause after each step, and the pause "
            "is %r: set canary_release_pause_seconds above 0 (at least two scrape intervals), or "
            "canary_release_data_plane_window" % (pause_seconds,))
    return "%ds" % pause


def _latency_quantile(quantile):
    try:
        value = float(quantile)
    except (TypeError, ValueError):
        value = 0.0
    if not 0 < value < 1:
        raise CanaryPolicyError("the latency quantile %r must be between 0 and 1, e.g. 0.95" % (quantile,))
    return value


def _backend_queries(series, label, window, quantile):
    """The instant queries that judge one backend over the last ``window`` (a checked PromQL
    duration): its requests, those answered with a 5xx code, and the ``quantile`` (checked) of
    its request durations. ``label`` is the backend's ``service`` label."""
    selector = 'service="%s"' % label.replace("\\", "\\\\").replace('"', '\\"')
    return {
        "requests": "sum(increase(%s{%s}[%s]))" % (series["requests"], selector, window),
        "errors": 'sum(increase(%s{%s,code=~"5.."}[%s]))' % (series["requests"], selector, window),
        "latency": "histogram_quantile(%s, sum by (le) (rate(%s{%s}[%s])))" % (
            quantile, series["duration"], selector, window),
    }


def _data_plane(data_plane):
    if data_plane not in DATA_PLANES:
        raise CanaryPolicyError("data plane %r: the checks know %s (the gateway role installs traefik)" % (
            data_plane, ", ".join(sorted(DATA_PLANES))))
    return DATA_PLANES[data_plane]


def route_backend_ports(route):
    """{Service: port} of an HTTPRoute's backendRefs (a Service's first port named)."""
    ports = {}
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            if ref.get("kind", "Service") == "Service" and ref.get("port") is not None:
                ports.setdefault(ref.get("name"), int(ref["port"]))
    return ports


def data_plane_checks(route, weights, data_plane, window, pause_seconds=0, quantile=0.95):
    """The queries of one step's check: for each backend of ``weights`` with traffic (weight
    above 0), its requests, 5xx answers and latency quantile over the window, as
    [{backend, measure, query}], sorted by backend (the canary_release role runs each through
    Prometheus and gives the answers to ``data_plane_report``). ``route`` is the HTTPRoute
    (its namespace and the ports its backendRefs name)."""
    namespace = (route.get("metadata") or {}).get("namespace")
    ports = route_backend_ports(route)
    window = data_plane_window(window, pause_seconds)
    quantile = _latency_quantile(quantile)
    series = _data_plane(data_plane)
    label_of = series["service_label"]
    out = []
    for backend in sorted(name for name, weight in (weights or {}).items() if int(weight) > 0):
        if backend not in ports:
            route_name = (route.get("metadata") or {}).get("name")
            raise CanaryPolicyError(
                "HTTPRoute %s/%s names no port for backend %s, and %s counts a backend by its port: "
                "give its backendRef a port" % (namespace, route_name, backend, data_plane))
        queries = _backend_queries(series, label_of(namespace, backend, ports[backend]), window, quantile)
        out.extend({"backend": backend, "measure": m, "query": queries[m]} for m in MEASURES)
    return out


def data_plane_verdict(backend, answers, max_error_ratio, max_latency_seconds=0, min_requests=1):
    """Judge one backend of a step from Prometheus's answers to the queries of ``data_plane_checks``.

    ``answers``: {requests, errors, latency} (the JSON of /api/v1/query each). Fails when the
    data plane served the backend fewer than ``min_requests`` requests in the window (a backend
    nobody reached proves nothing), when its share of 5xx answers is above ``max_error_ratio``,
    or, with ``max_latency_seconds`` above 0, when the quantile of its durations is above it.
    No 5xx series at all is no error. Returns {ok, backend, requests, errors, error_ratio,
    latency, message}; the message names the backend and the number."""
    for name in MEASURES:
        response = (answers or {}).get(name)
        if response is None or response.get("status") != "success":
            return {"ok": False, "backend": backend, "message": "Prometheus gave no answer to the %s of %s: %s" % (
                name, backend, (response or {}).get("error") or (response or {}).get("status") or "no JSON")}
    requests = _first_number(answers["requests"]) or 0.0
    errors = _first_number(answers["errors"]) or 0.0
    latency = _first_number(answers["latency"])
    ratio = errors / requests if requests else 0.0
    out = {"backend": backend, "requests": requests, "errors": errors, "error_ratio": ratio, "latency": latency}
    if requests < float(min_requests):
        out.update(ok=False, message="the data plane served %s %.0f requests in the window, fewer than %s: "
                   "nothing proves it works (send traffic, or lengthen the pause)" % (backend, requests, min_requests))
    elif ratio > float(max_error_ratio):
        out.update(ok=False, message="%s answered %.0f of %.0f requests with 5xx: error ratio %.4f above %s" % (
            backend, errors, requests, ratio, max_error_ratio))
    elif float(max_latency_seconds or 0) > 0 and latency is not None and latency > float(max_latency_seconds):
        out.update(ok=False, message="%s: latency quantile %.3f s above %s s" % (backend, latency, max_latency_seconds))
    else:
        out.update(ok=True, message="%s: %.0f requests, error ratio %.4f%s" % (
            backend, requests, ratio, "" if latency is None else ", latency quantile %.3f s" % latency))
    return out


def data_plane_report(results, max_error_ratio, max_latency_seconds=0, min_requests=1):
    """The step's verdict from the answers to ``data_plane_checks``: ``results`` are the
    canary_release role's query results, each with its check (``item``: backend, measure) and
    Prometheus's JSON (``json``). Returns {ok, backends: [data_plane_verdict per backend],
    message}: the failing backends' messages (which backend, which number), or all of them."""
    answers = {}
    for result in results or []:
        item = result.get("item") or {}
        answers.setdefault(item.get("backend"), {})[item.get("measure")] = result.get("json")
    verdicts = [data_plane_verdict(backend, answers[backend], max_error_ratio, max_latency_seconds,
                                   min_requests) for backend in sorted(answers)]
    failed = [v for v in verdicts if not v["ok"]]
    if not verdicts:
        return {"ok": False, "backends": [], "message": "no backend with traffic was checked"}
    return {"ok": not failed, "backends": verdicts,
            "message": "; ".join(v["message"] for v in (failed or verdicts))}
