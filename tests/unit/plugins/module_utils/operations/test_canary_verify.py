"""The checks around a step: Deployment available, room on its nodes, the images and node
platforms the registry is asked about, the Prometheus verdict
(plugins/module_utils/operations/canary_verify.py)."""

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_verify as policy


# ---------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------

def deployment(replicas=3, available=3, arch="arm64", cpu="500m", mem="256Mi", generation=2, observed=2):
    return {"metadata": {"name": "web-arm", "generation": generation},
            "spec": {"replicas": replicas, "template": {
                "metadata": {"labels": {"app": "web-arm"}},
                "spec": {"nodeSelector": {"kubernetes.io/arch": arch},
                         "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}}},
            "status": {"observedGeneration": observed, "availableReplicas": available, "updatedReplicas": available,
                       "conditions": [{"type": "Available", "status": "True" if available else "False"}]}}


def node(name, arch, cpu="2", mem="4Gi", pods="110", ready="True"):
    return {"metadata": {"name": name, "labels": {"kubernetes.io/arch": arch}},
            "spec": {}, "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": pods},
                                   "conditions": [{"type": "Ready", "status": ready}]}}


def pod(node_name, cpu="1", labels=None, phase="Running"):
    return {"metadata": {"labels": labels or {"app": "other"}},
            "spec": {"nodeName": node_name, "containers": [{"resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": phase}}


def test_deployment_available_needs_all_replicas_at_the_latest_generation():
    assert policy.deployment_available(deployment())[0]
    ok, why = policy.deployment_available(deployment(available=1))
    assert not ok and "not Available" not in why and "1 of 3" in why
    assert not policy.deployment_available(deployment(available=0))[0]
    ok, why = policy.deployment_available(deployment(observed=1))
    assert not ok and "not seen its latest spec" in why


def test_node_room_counts_only_matching_ready_nodes_and_other_pods():
    nodes = [node("arm-1", "arm64", cpu="2"), node("c86-1", "amd64", cpu="64"),
             node("arm-2", "arm64", cpu="64", ready="False")]
    assert policy.node_room(deployment(replicas=3), nodes, [])[0]  # 1500m of 2000m
    busy = [pod("arm-1", "1")]
    ok, why = policy.node_room(deployment(replicas=3), nodes, busy)
    assert not ok and "cpu 1000m < 1500m" in why and "arm-1" in why
    own = [pod("arm-1", "1", labels={"app": "web-arm"})]  # its own pods do not count
    assert policy.node_room(deployment(replicas=3), nodes, own)[0]
    done = [pod("arm-1", "1", phase="Succeeded")]
    assert policy.node_room(deployment(replicas=3), nodes, done)[0]
    ok, why = policy.node_room(deployment(arch="loong64"), nodes, [])
    assert not ok and "no Ready schedulable node" in why


# ---------------------------------------------------------------------------
# images and node architectures (verify_image)
# ---------------------------------------------------------------------------

def location(image):
    host, ref = policy.image_location(image)
    return host, ref.canonical()


def test_image_location_reads_registry_hosts_as_runtimes_do():
    assert location("127.0.0.1:5000/team/web:1") == ("127.0.0.1:5000", "team/web:1")
    assert location("registry.example.com/web@sha256:" + "a" * 64)[0] == "registry.example.com"
    assert location("localhost/web:1") == ("localhost", "web:1")
    assert location("team/web:1") == ("docker.io", "team/web:1")
    assert location("nginx:1.25") == ("docker.io", "library/nginx:1.25")


def test_image_location_defaults_as_runtimes_do_and_keeps_digests():
    assert location("nginx") == ("docker.io", "library/nginx:latest")
    assert location("docker.io/nginx:1") == ("docker.io", "library/nginx:1")
    assert location("index.docker.io/team/web:2") == ("docker.io", "team/web:2")
    assert location("127.0.0.1:5000/web") == ("127.0.0.1:5000", "web:latest")
    digest = "sha256:" + "b" * 64
    host, ref = policy.image_location("127.0.0.1:5000/team/web:1@" + digest)
    assert (host, ref.repository, ref.tag, ref.digest) == ("127.0.0.1:5000", "team/web", "1", digest)
    # a registry host that is also the first component of the repository is still the host
    assert location("reg.io/reg.io/web:1") == ("reg.io", "reg.io/web:1")


@pytest.mark.parametrize("image", ["Team/Web:1", "127.0.0.1:5000/web:bad tag", "web@sha256:123"])
def test_image_location_refuses_what_is_not_a_reference(image):
    from ansible_collections.xinchuang.cloud.plugins.module_utils.registry.manifest_index import (
        InvalidReferenceError)
    with pytest.raises(InvalidReferenceError):
        policy.image_location(image)


def test_node_platforms_of_the_nodes_a_deployment_may_use():
    nodes = [node("arm-1", "arm64"), node("arm-2", "arm64"), node("c86-1", "amd64"),
             node("la-1", "loong64", ready="False")]
    assert policy.node_platforms(policy.eligible_nodes(deployment(arch="arm64"), nodes)) == ["linux/arm64"]
    free = deployment()
    free["spec"]["template"]["spec"]["nodeSelector"] = {}
    assert policy.node_platforms(policy.eligible_nodes(free, nodes)) == ["linux/amd64", "linux/arm64"]


def test_pod_images_lists_init_containers_first_once():
    spec = {"initContainers": [{"image": "a"}], "containers": [{"image": "b"}, {"image": "a"}]}
    assert policy.pod_images(spec) == ["a", "b"]


# ---------------------------------------------------------------------------
# the metric check after a step (the query logic; the role's integration test asks a real
# Prometheus scraping a real target)
# ---------------------------------------------------------------------------

def vector(*values):
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"app": "web-arm"}, "value": [1764460800.0, v]} for v in values]}}


def test_prometheus_query_url_encodes_the_query():
    assert policy.prometheus_query_url("http://127.0.0.1:9090/", 'max(x{app="web-arm"})') == (
        "http://127.0.0.1:9090/api/v1/query?query=max%28x%7Bapp%3D%22web-arm%22%7D%29")
    with pytest.raises(policy.CanaryPolicyError, match="needs the Prometheus URL"):
        policy.prometheus_query_url("http://p:9090", "")


@pytest.mark.parametrize("answer,threshold,pass_when,ok,value", [
    (vector("0.01"), 0.1, "below", True, 0.01),
    (vector("0.5"), 0.1, "below", False, 0.5),
    (vector("0.1"), 0.1, "below", False, 0.1),  # strictly below
    (vector("0.5"), 0.1, "above", True, 0.5),
    (vector("0.5", "0.01"), 0.1, "below", False, 0.5),  # the first sample
    ({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "3"]}}, 5, "below", True, 3.0),
    (vector(), 0.1, "below", False, None),
    (vector("NaN"), 0.1, "below", False, None),
    ({"status": "error", "error": "parse error"}, 0.1, "below", False, None),
    ({}, 0.1, "below", False, None),
])
def test_metric_verdict(answer, threshold, pass_when, ok, value):
    verdict = policy.metric_verdict(answer, "q", threshold, pass_when)
    assert verdict["ok"] is ok and verdict["value"] == value
    if ok:
        assert verdict["message"] == "q = %s (%s %s)" % (value, pass_when, threshold)
    else:
        assert verdict["message"].startswith("Prometheus check failed: q = ")
        assert "must be %s %s" % (pass_when, threshold) in verdict["message"]


def test_metric_verdict_says_why_there_is_no_number():
    assert "no result" in policy.metric_verdict(vector(), "q", 1)["message"]
    assert "(Prometheus answered parse error)" in policy.metric_verdict(
        {"status": "error", "error": "parse error"}, "q", 1)["message"]
    with pytest.raises(policy.CanaryPolicyError, match="below or above"):
        policy.metric_verdict(vector("1"), "q", 1, "equal")


# ---------------------------------------------------------------------------
# the data plane's own counters after a step (the queries and the verdict; the e2e's full tier
# runs them against Traefik's series in a real Prometheus on the lab)
# ---------------------------------------------------------------------------

ROUTE = {"metadata": {"name": "hello", "namespace": "shop"},
         "spec": {"rules": [{"backendRefs": [{"name": "web-c86", "port": 80, "weight": 90},
                                             {"name": "web-arm", "port": 8080, "weight": 10}]}]}}


def test_data_plane_checks_ask_about_each_backend_with_traffic_by_its_traefik_name():
    checks = policy.data_plane_checks(ROUTE, {"web-c86": 90, "web-arm": 10}, "traefik", "", 45)
    assert [(c["backend"], c["measure"]) for c in checks] == [
        ("web-arm", "requests"), ("web-arm", "errors"), ("web-arm", "latency"),
        ("web-c86", "requests"), ("web-c86", "errors"), ("web-c86", "latency")]
    queries = dict(((c["backend"], c["measure"]), c["query"]) for c in checks)
    assert queries[("web-arm", "requests")] == (
        'sum(increase(traefik_service_requests_total{service="shop-web-arm-http-8080@kubernetesgateway"}[45s]))')
    assert queries[("web-c86", "errors")] == (
        'sum(increase(traefik_service_requests_total{service="shop-web-c86-http-80@kubernetesgateway",'
        'code=~"5.."}[45s]))')
    assert queries[("web-c86", "latency")] == (
        'histogram_quantile(0.95, sum by (le) (rate(traefik_service_request_duration_seconds_bucket'
        '{service="shop-web-c86-http-80@kubernetesgateway"}[45s])))')
    # A backend without traffic is not asked about; a window given wins over the pause.
    only = policy.data_plane_checks(ROUTE, {"web-c86": 0, "web-arm": 100}, "traefik", "2m", 45, 0.99)
    assert set(c["backend"] for c in only) == {"web-arm"}
    assert all("[2m]" in c["query"] for c in only) and only[2]["query"].startswith("histogram_quantile(0.99,")


@pytest.mark.parametrize("args,message", [
    ((ROUTE, {"web-c86": 90}, "envoy", "", 45), "data plane 'envoy': the checks know traefik"),
    ((ROUTE, {"web-x": 10}, "traefik", "", 45), "names no port for backend web-x"),
    ((ROUTE, {"web-c86": 90}, "traefik", "30", 45), "window '30' is not a Prometheus duration"),
    ((ROUTE, {"web-c86": 90}, "traefik", "", 0), "set canary_release_pause_seconds above 0"),
    ((ROUTE, {"web-c86": 90}, "traefik", "", 45, 1.5), "quantile 1.5 must be between 0 and 1"),
    # Checked once per step, before any backend: also when none has traffic.
    ((ROUTE, {"web-c86": 0}, "traefik", "", 45, 1.5), "quantile 1.5 must be between 0 and 1"),
])
def test_data_plane_checks_refuse_what_cannot_be_asked_naming_it(args, message):
    with pytest.raises(policy.CanaryPolicyError, match=message.replace("(", r"\(")):
        policy.data_plane_checks(*args)


def results(**by_backend):
    """The role's registered loop results: per backend (requests, errors, latency) answers."""
    out = []
    for backend, (requests, errors, latency) in by_backend.items():
        for measure, value in (("requests", requests), ("errors", errors), ("latency", latency)):
            out.append({"item": {"backend": backend.replace("_", "-"), "measure": measure},
                        "json": vector(*([] if value is None else [str(value)]))})
    return out


def test_data_plane_report_passes_backends_that_were_served_without_errors():
    report = policy.data_plane_report(results(web_c86=(412, None, 0.004), web_arm=(46, 0, 0.006)), 0.01, 0.5)
    assert report["ok"] is True
    assert [(b["backend"], b["requests"], b["errors"]) for b in report["backends"]] == [
        ("web-arm", 46.0, 0.0), ("web-c86", 412.0, 0.0)]
    assert report["message"] == ("web-arm: 46 requests, error ratio 0.0000, latency quantile 0.006 s; "
                                 "web-c86: 412 requests, error ratio 0.0000, latency quantile 0.004 s")


@pytest.mark.parametrize("answers,limits,message", [
    # The failing backend and its number, not the healthy one's.
    (dict(web_c86=(412, 0, 0.004), web_arm=(46, 46, 0.006)), (0.01,),
     "web-arm answered 46 of 46 requests with 5xx: error ratio 1.0000 above 0.01"),
    (dict(web_arm=(100, 2, 0.01)), (0.01,), "error ratio 0.0200 above 0.01"),
    (dict(web_arm=(100, 0, 1.7)), (0.01, 0.5), "web-arm: latency quantile 1.700 s above 0.5 s"),
    # Nobody reached the canary: nothing proves it works.
    (dict(web_arm=(0, None, None)), (0.01,), "served web-arm 0 requests in the window, fewer than 1"),
    (dict(web_arm=(None, None, None)), (0.01,), "served web-arm 0 requests"),
    (dict(web_arm=(8, 0, 0.01)), (0.01, 0, 10), "served web-arm 8 requests in the window, fewer than 10"),
])
def test_data_plane_report_fails_a_step_naming_the_backend_and_the_number(answers, limits, message):
    report = policy.data_plane_report(results(**answers), *limits)
    assert report["ok"] is False and report["message"] == next(
        b["message"] for b in report["backends"] if not b["ok"])
    assert message in report["message"]


def test_data_plane_report_fails_when_prometheus_cannot_answer():
    answers = results(web_arm=(10, 0, 0.01))
    answers[1]["json"] = {"status": "error", "error": "bad_data: parse error"}
    report = policy.data_plane_report(answers, 0.01)
    assert report["ok"] is False
    assert report["message"] == "Prometheus gave no answer to the errors of web-arm: bad_data: parse error"
    assert policy.data_plane_report([], 0.01) == {
        "ok": False, "backends": [], "message": "no backend with traffic was checked"}


def test_an_image_registry_is_read_where_the_controller_reaches_it():
    endpoints = {"xc-lab-registry:5000": "172.29.0.5:5000"}
    assert policy.registry_endpoint("xc-lab-registry:5000", endpoints) == "172.29.0.5:5000"
    assert policy.registry_endpoint("registry.local:5000", endpoints) == "registry.local:5000"
    assert policy.registry_endpoint("docker.io", None) == "docker.io"


@pytest.mark.parametrize("endpoint", ["https://172.29.0.5:5000", "172.29.0.5:5000/v2", ""])
def test_an_endpoint_that_is_not_a_host_is_named(endpoint):
    with pytest.raises(policy.CanaryPolicyError) as err:
        policy.registry_endpoint("xc-lab-registry:5000", {"xc-lab-registry:5000": endpoint})
    assert "registry_endpoints['xc-lab-registry:5000']" in str(err.value) and "host[:port]" in str(err.value)
