"""Traffic-split policy: weight validation and normalisation, the objects each provider gets,
the verify preflight's arithmetic, and the step plans of a release."""

import copy

import pytest
from hypothesis import given, strategies as st

from ansible_collections.xinchuang.cloud.plugins.module_utils import canary_policy as policy
from ansible_collections.xinchuang.cloud.plugins.module_utils.canary_policy import CanaryPolicyError

NS = "shop"


def svc(name, port=80, port_name=None):
    p = {"port": port}
    if port_name:
        p["name"] = port_name
    return {"metadata": {"name": name, "namespace": NS}, "spec": {"ports": [p], "selector": {"app": name}}}


SERVICES = {"web-c86": svc("web-c86", 8080), "web-arm": svc("web-arm", 8080), "web-new": svc("web-new", 9090)}


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------

def test_validate_weights_keeps_order_and_converts_templated_strings():
    assert list(policy.validate_weights({"b": "90", "a": 10.0})) == ["b", "a"]
    assert policy.validate_weights({"b": "90", "a": 10.0}) == {"b": 90, "a": 10}


@pytest.mark.parametrize("weights,message", [
    ({"web": -1}, "negative"),
    ({"web": 0, "other": 0}, "every weight is 0"),
    ({"web": 1.5}, "not an integer"),
    ({"web": "ten"}, "not an integer"),
    ({"web": True}, "boolean"),
    ({}, "must map each backend"),
    ([("web", 1)], "must map each backend"),
    ({"Web_C86": 1}, "not a Service name"),
])
def test_bad_weights_are_refused_with_the_reason(weights, message):
    with pytest.raises(CanaryPolicyError, match=message):
        policy.validate_weights(weights)


def test_nginx_refuses_more_than_two_backends_and_says_why():
    with pytest.raises(CanaryPolicyError, match="exactly two backends.*got 3.*gateway or istio for more"):
        policy.validate_weights({"a": 1, "b": 1, "c": 1}, "nginx")
    with pytest.raises(CanaryPolicyError, match="got 1"):
        policy.validate_weights({"a": 1}, "nginx")


def test_gateway_limits_of_the_crd_are_enforced_before_the_server_sees_them():
    with pytest.raises(CanaryPolicyError, match="HTTPRoute maximum"):
        policy.validate_weights({"a": 1000001}, "gateway")
    with pytest.raises(CanaryPolicyError, match="at most 16"):
        policy.validate_weights(dict(("b%d" % i, 1) for i in range(17)), "gateway")


def test_unknown_provider_is_named():
    with pytest.raises(CanaryPolicyError, match="'envoy'"):
        policy.validate_weights({"a": 1}, "envoy")


# ---------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------

def test_istio_normalises_to_100_with_largest_remainder():
    assert policy.normalise("istio", {"a": 1, "b": 2}) == {"a": 33, "b": 67}
    assert policy.normalise("istio", {"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert policy.normalise("istio", {"a": 90, "b": 10}) == {"a": 90, "b": 10}
    assert policy.normalise("istio", {"a": 0, "b": 5}) == {"a": 0, "b": 100}


def test_nginx_normalises_to_its_weight_total():
    assert policy.normalise("nginx", {"s": 975, "c": 25}, 1000) == {"s": 975, "c": 25}
    assert policy.normalise("nginx", {"s": 9, "c": 1}, 1000) == {"s": 900, "c": 100}
    assert policy.normalise("nginx", {"s": 2, "c": 1}) == {"s": 67, "c": 33}


def test_gateway_keeps_weights_as_given():
    assert policy.normalise("gateway", {"a": 2, "b": 1}) == {"a": 2, "b": 1}


@given(st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.integers(0, 10 ** 6),
                       min_size=1, max_size=16).filter(lambda d: sum(d.values()) > 0),
       st.integers(1, 10000))
def test_largest_remainder_sums_to_total_and_stays_within_one_of_the_quota(weights, total):
    out = policy.largest_remainder(weights, total)
    assert sum(out.values()) == total
    whole = sum(weights.values())
    for name, w in weights.items():
        quota = w * total / whole
        assert abs(out[name] - quota) < 1 + 1e-9
        if w == 0:
            assert out[name] == 0
    assert list(out) == list(weights)


# ---------------------------------------------------------------------------
# match rules
# ---------------------------------------------------------------------------

def test_match_rules_are_checked_against_the_weights():
    w = {"web-c86": 90, "web-arm": 10}
    with pytest.raises(CanaryPolicyError, match="not one of the weighted"):
        policy.validate_match([{"backend": "other", "header": "x"}], w, "gateway")
    with pytest.raises(CanaryPolicyError, match="exactly one of header or cookie"):
        policy.validate_match([{"backend": "web-arm", "header": "x", "cookie": "y"}], w, "gateway")
    with pytest.raises(CanaryPolicyError, match="one canary-by-header"):
        policy.validate_match([{"backend": "web-arm", "header": "x"},
                               {"backend": "web-arm", "header": "y"}], w, "nginx")
    assert policy.validate_match(None, w, "gateway") is None
    assert policy.validate_match([], w, "gateway") == []


# ---------------------------------------------------------------------------
# Gateway API
# ---------------------------------------------------------------------------

def httproute(rules):
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "web", "namespace": NS, "resourceVersion": "7"},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": rules}}


def test_gateway_adds_the_canary_beside_the_stable_backend_keeping_its_fields():
    route = httproute([{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "backendRefs": [{"group": "", "kind": "Service", "name": "web-c86",
                                         "port": 8080, "weight": 1}]}])
    out = policy.gateway_desired(route, NS, {"web-c86": 90, "web-arm": 10}, SERVICES)
    refs = out["spec"]["rules"][0]["backendRefs"]
    assert refs == [
        {"group": "", "kind": "Service", "name": "web-c86", "port": 8080, "weight": 90},
        {"group": "", "kind": "Service", "name": "web-arm", "port": 8080, "weight": 10},
    ]
    assert out["metadata"]["resourceVersion"] == "7"
    assert route["spec"]["rules"][0]["backendRefs"][0]["weight"] == 1  # input untouched
    assert policy.gateway_weights(out, NS) == {"web-c86": 90, "web-arm": 10}


def test_gateway_desired_of_its_own_output_is_unchanged():
    route = httproute([{"backendRefs": [{"name": "web-c86", "port": 8080}]}])
    w = {"web-c86": 50, "web-arm": 50}
    m = policy.validate_match([{"backend": "web-arm", "header": "x-canary"}], w, "gateway")
    once = policy.gateway_desired(route, NS, w, SERVICES, m)
    twice = policy.gateway_desired(once, NS, w, SERVICES, m)
    assert once == twice


def test_gateway_new_backend_gets_its_own_port_when_it_lacks_the_siblings():
    route = httproute([{"backendRefs": [{"name": "web-c86", "port": 8080}]}])
    out = policy.gateway_desired(route, NS, {"web-c86": 1, "web-new": 1}, SERVICES)
    assert out["spec"]["rules"][0]["backendRefs"][1]["port"] == 9090


def test_gateway_only_touches_rules_routing_to_the_weighted_services():
    other = {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
             "backendRefs": [{"name": "admin", "port": 80}]}
    route = httproute([other, {"backendRefs": [{"name": "web-c86", "port": 8080}]}])
    out = policy.gateway_desired(route, NS, {"web-c86": 9, "web-arm": 1}, SERVICES)
    assert out["spec"]["rules"][0] == other
    assert [r["name"] for r in out["spec"]["rules"][1]["backendRefs"]] == ["web-c86", "web-arm"]


def test_gateway_with_several_rules_and_none_matching_is_an_error_naming_the_fix():
    route = httproute([{"backendRefs": [{"name": "a"}]}, {"backendRefs": [{"name": "b"}]}])
    with pytest.raises(CanaryPolicyError, match="add one of these Services"):
        policy.gateway_desired(route, NS, {"web-c86": 1}, SERVICES)


def test_gateway_ab_rules_go_first_and_are_replaced_or_removed_later():
    route = httproute([{"matches": [{"path": {"type": "PathPrefix", "value": "/shop"}}],
                        "backendRefs": [{"name": "web-c86", "port": 8080}]}])
    w = {"web-c86": 100, "web-arm": 0}
    m = policy.validate_match([{"backend": "web-arm", "header": "x-canary", "value": "yes"},
                               {"backend": "web-arm", "cookie": "canary"}], w, "gateway")
    out = policy.gateway_desired(route, NS, w, SERVICES, m)
    rules = out["spec"]["rules"]
    assert [r.get("name") for r in rules] == ["xc-canary-ab-0", "xc-canary-ab-1", None]
    assert rules[0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/shop"},
                                    "headers": [{"type": "Exact", "name": "x-canary", "value": "yes"}]}]
    assert rules[0]["backendRefs"] == [{"group": "", "kind": "Service", "name": "web-arm", "port": 8080, "weight": 1}]
    assert rules[1]["matches"][0]["headers"][0]["name"] == "Cookie"
    # None leaves them, [] removes them
    assert policy.gateway_desired(out, NS, w, SERVICES, None)["spec"]["rules"][:2] == rules[:2]
    assert [r.get("name") for r in policy.gateway_desired(out, NS, w, SERVICES, [])["spec"]["rules"]] == [None]
    # the A/B rules do not count as the weighted rule
    assert policy.gateway_weights(out, NS) == w


def test_gateway_empty_route_gets_one_rule():
    route = httproute([])
    out = policy.gateway_desired(route, NS, {"web-c86": 1}, SERVICES)
    assert out["spec"]["rules"] == [{"backendRefs": [
        {"group": "", "kind": "Service", "name": "web-c86", "port": 8080, "weight": 1}]}]


# ---------------------------------------------------------------------------
# Istio
# ---------------------------------------------------------------------------

def vs(http):
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"hosts": ["web.example.com"], "http": http}}


def test_istio_hosts_in_every_spelling_of_the_namespace_are_ours():
    for host in ("web-c86", "web-c86.shop", "web-c86.shop.svc", "web-c86.shop.svc.cluster.local"):
        assert policy._host_service(host, NS) == "web-c86"
    assert policy._host_service("web-c86.other.svc.cluster.local", NS) is None
    assert policy._host_service("example.com", NS) is None


def test_istio_keeps_destination_spelling_and_adds_the_canary():
    current = vs([{"route": [{"destination": {"host": "web-c86.shop.svc.cluster.local",
                                              "port": {"number": 8080}}}]}])
    assert policy.istio_weights(current, NS) == {"web-c86": 100}
    w = policy.normalise("istio", {"web-c86": 2, "web-arm": 1})
    out = policy.istio_desired(current, NS, w, SERVICES)
    assert out["spec"]["http"][0]["route"] == [
        {"destination": {"host": "web-c86.shop.svc.cluster.local", "port": {"number": 8080}}, "weight": 67},
        {"destination": {"host": "web-arm", "port": {"number": 8080}}, "weight": 33},
    ]
    assert policy.istio_desired(out, NS, w, SERVICES) == out


def test_istio_ab_route_matches_lower_case_header_before_the_split():
    current = vs([{"match": [{"uri": {"prefix": "/"}}],
                   "route": [{"destination": {"host": "web-c86"}}], "timeout": "5s"}])
    w = {"web-c86": 90, "web-arm": 10}
    m = policy.validate_match([{"backend": "web-arm", "header": "X-Canary"}], w, "istio")
    out = policy.istio_desired(current, NS, w, SERVICES, m)
    ab = out["spec"]["http"][0]
    assert ab["name"] == "xc-canary-ab-0"
    assert ab["match"] == [{"uri": {"prefix": "/"}, "headers": {"x-canary": {"exact": "always"}}}]
    assert ab["route"] == [{"destination": {"host": "web-arm"}}]
    assert ab["timeout"] == "5s"
    assert policy.istio_weights(out, NS) == w


# ---------------------------------------------------------------------------
# ingress-nginx
# ---------------------------------------------------------------------------

def ingress(name, service, annotations=None, port=None):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": NS, "annotations": annotations or {}},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "web.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": service, "port": port or {"number": 8080}}}}]}}]}}


def test_nginx_stable_is_the_main_ingress_backend_whatever_the_order():
    main = ingress("web", "web-c86")
    assert policy.nginx_roles(main, {"web-arm": 10, "web-c86": 90}) == ("web-c86", "web-arm")
    with pytest.raises(CanaryPolicyError, match="exactly one must be its backend"):
        policy.nginx_roles(main, {"web-arm": 10, "web-new": 90})


def test_nginx_canary_ingress_copies_the_rules_to_the_canary_service():
    main = ingress("web", "web-c86")
    w = policy.normalise("nginx", {"web-c86": 90, "web-arm": 10}, 100)
    out = policy.nginx_desired_canary(main, None, NS, "web-c86", "web-arm", w, 100, SERVICES)
    assert out["metadata"]["name"] == "web-canary"
    assert out["metadata"]["labels"]["app.kubernetes.io/managed-by"] == policy.MANAGED_BY
    assert out["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": "10",
        "nginx.ingress.kubernetes.io/canary-weight-total": "100"}
    path = out["spec"]["rules"][0]["http"]["paths"][0]
    assert path["backend"]["service"] == {"name": "web-arm", "port": {"number": 8080}}
    assert policy.nginx_weights(main, out) == {"web-c86": 90, "web-arm": 10}
    again = policy.nginx_desired_canary(main, out, NS, "web-c86", "web-arm", w, 100, SERVICES)
    assert again == out


def test_nginx_match_sets_and_clears_canary_by_annotations():
    main = ingress("web", "web-c86")
    w = {"web-c86": 100, "web-arm": 0}
    m = policy.validate_match([{"backend": "web-arm", "header": "x-canary", "value": "^a.*", "type": "regex"},
                               {"backend": "web-arm", "cookie": "canary"}], w, "nginx")
    out = policy.nginx_desired_canary(main, None, NS, "web-c86", "web-arm", w, 100, SERVICES, m)
    notes = out["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/canary-by-header"] == "x-canary"
    assert notes["nginx.ingress.kubernetes.io/canary-by-header-pattern"] == "^a.*"
    assert notes["nginx.ingress.kubernetes.io/canary-by-cookie"] == "canary"
    kept = policy.nginx_desired_canary(main, out, NS, "web-c86", "web-arm", w, 100, SERVICES, None)
    assert kept["metadata"]["annotations"] == notes
    cleared = policy.nginx_desired_canary(main, out, NS, "web-c86", "web-arm", w, 100, SERVICES, [])
    assert not any("canary-by" in k for k in cleared["metadata"]["annotations"])
    with pytest.raises(CanaryPolicyError, match="only send matching requests to the canary"):
        m2 = policy.validate_match([{"backend": "web-c86", "header": "x"}], w, "nginx")
        policy.nginx_desired_canary(main, None, NS, "web-c86", "web-arm", w, 100, SERVICES, m2)


def test_nginx_named_port_is_kept_when_the_canary_service_has_it():
    main = ingress("web", "web-c86", port={"name": "http"})
    services = {"web-c86": svc("web-c86", 80, "http"), "web-arm": svc("web-arm", 8081, "http")}
    out = policy.nginx_desired_canary(main, None, NS, "web-c86", "web-arm",
                                      {"web-c86": 1, "web-arm": 1}, 2, services)
    assert out["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] == {"name": "http"}


def test_nginx_finds_an_existing_canary_by_host_and_refuses_two():
    main = ingress("web", "web-c86")
    theirs = ingress("web-beta", "web-arm", {"nginx.ingress.kubernetes.io/canary": "true"})
    unrelated = ingress("other", "x")
    assert policy.find_nginx_canary(main, [main, theirs, unrelated]) is theirs
    assert policy.find_nginx_canary(main, [main, unrelated]) is None
    second = copy.deepcopy(theirs)
    second["metadata"]["name"] = "web-gamma"
    with pytest.raises(CanaryPolicyError, match="2 canary Ingresses"):
        policy.find_nginx_canary(main, [main, theirs, second])


def test_nginx_total_prefers_request_then_existing_then_100():
    c = ingress("web-canary", "web-arm", {"nginx.ingress.kubernetes.io/canary-weight-total": "1000"})
    assert policy.nginx_total(c, 50) == 50
    assert policy.nginx_total(c) == 1000
    assert policy.nginx_total(None) == 100


# ---------------------------------------------------------------------------
# annotations and comparison
# ---------------------------------------------------------------------------

def test_annotations_set_and_remove_without_touching_the_input():
    obj = {"metadata": {"name": "r", "annotations": {"a": "1", "b": "2"}}, "spec": {}}
    out = policy.with_annotations(obj, {"a": None, "c": 3})
    assert out["metadata"]["annotations"] == {"b": "2", "c": "3"}
    assert obj["metadata"]["annotations"] == {"a": "1", "b": "2"}


def test_comparable_ignores_resource_version_and_status():
    a = {"metadata": {"name": "r", "resourceVersion": "1", "generation": 1}, "spec": {"x": 1}, "status": {"y": 1}}
    b = {"metadata": {"name": "r", "resourceVersion": "2", "generation": 2}, "spec": {"x": 1}}
    assert policy.comparable(a) == policy.comparable(b)


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


def test_quantities():
    assert policy.cpu_millis("250m") == 250
    assert policy.cpu_millis("1.5") == 1500
    assert policy.memory_bytes("1Gi") == 2 ** 30
    assert policy.memory_bytes("500M") == 5 * 10 ** 8
    assert policy.memory_bytes("123") == 123


def test_rising_backends_compare_shares_not_raw_weights():
    # gateway: {c86: 1} -> {c86: 90, arm: 10} lowers c86's share from 100 % to 90 %
    assert policy.rising_backends({"c86": 1}, {"c86": 90, "arm": 10}) == ["arm"]
    assert policy.rising_backends({"c86": 90, "arm": 10}, {"c86": 50, "arm": 50}) == ["arm"]
    assert policy.rising_backends({"c86": 50, "arm": 50}, {"c86": 90, "arm": 10}) == ["c86"]
    assert policy.rising_backends({"c86": 9, "arm": 1}, {"c86": 90, "arm": 10}) == []
    assert policy.rising_backends({}, {"c86": 1, "arm": 0}) == ["c86"]


def test_selector_matches():
    assert policy.selector_matches({"app": "a"}, {"app": "a", "v": "1"})
    assert not policy.selector_matches({"app": "a"}, {"app": "b"})
    assert not policy.selector_matches({}, {"app": "a"})


# ---------------------------------------------------------------------------
# step plans, rollback, resume
# ---------------------------------------------------------------------------

def test_step_plan_10_50_100():
    assert policy.step_plan("c86", "arm", [10, 50, 100]) == [
        {"c86": 90, "arm": 10}, {"c86": 50, "arm": 50}, {"c86": 0, "arm": 100}]


def test_step_plan_always_ends_with_promotion():
    assert policy.step_plan("s", "c", [5, 25])[-1] == {"s": 0, "c": 100}


@pytest.mark.parametrize("steps", [[], [50, 10], [0, 50], [10, 10], [10, 101], "10,50"])
def test_bad_steps_are_refused(steps):
    with pytest.raises(CanaryPolicyError):
        policy.step_plan("s", "c", steps)


def test_rollback_goes_to_the_previous_step_or_all_stable():
    plan = policy.step_plan("s", "c", [10, 50, 100])
    assert policy.rollback_weights(plan, 1) == {"s": 90, "c": 10}
    assert policy.rollback_weights(plan, 0) == {"s": 100, "c": 0}


def test_resume_index_only_for_the_same_release_in_progress():
    steps = [10, 50, 100]
    rid = policy.release_id("s", "c", steps)
    assert rid == "s->c@10,50,100"
    notes = {policy.ANNOTATION_RELEASE: rid, policy.ANNOTATION_STEP: "2", policy.ANNOTATION_STATE: "in-progress"}
    assert policy.resume_index(notes, "s", "c", steps) == 1
    assert policy.resume_index(dict(notes, **{policy.ANNOTATION_STATE: "promoted"}), "s", "c", steps) == 3
    assert policy.resume_index(dict(notes, **{policy.ANNOTATION_STATE: "rolled-back"}), "s", "c", steps) == 0
    assert policy.resume_index(notes, "s", "c", [10, 100]) == 0
    assert policy.resume_index({}, "s", "c", steps) == 0


# ---------------------------------------------------------------------------
# images and node architectures (verify_image)
# ---------------------------------------------------------------------------

def test_split_image_reads_registry_hosts_as_runtimes_do():
    assert policy.split_image("127.0.0.1:5000/team/web:1") == ("127.0.0.1:5000", "team/web:1")
    assert policy.split_image("registry.example.com/web@sha256:" + "a" * 64)[0] == "registry.example.com"
    assert policy.split_image("localhost/web:1") == ("localhost", "web:1")
    assert policy.split_image("team/web:1") == ("docker.io", "team/web:1")
    assert policy.split_image("nginx:1.25") == ("docker.io", "library/nginx:1.25")


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
