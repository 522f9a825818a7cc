"""The objects each provider gets: Gateway API HTTPRoute, Istio VirtualService, ingress-nginx
canary Ingress, and the route's annotations (plugins/module_utils/operations/canary_providers.py)."""

import copy

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_providers as policy
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations.canary_plan import (
    CanaryPolicyError,
    normalise,
    validate_match,
)

NS = "shop"


def svc(name, port=80, port_name=None):
    p = {"port": port}
    if port_name:
        p["name"] = port_name
    return {"metadata": {"name": name, "namespace": NS}, "spec": {"ports": [p], "selector": {"app": name}}}


SERVICES = {"web-c86": svc("web-c86", 8080), "web-arm": svc("web-arm", 8080), "web-new": svc("web-new", 9090)}


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
    m = validate_match([{"backend": "web-arm", "header": "x-canary"}], w, "gateway")
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
    m = validate_match([{"backend": "web-arm", "header": "x-canary", "value": "yes"},
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
    w = normalise("istio", {"web-c86": 2, "web-arm": 1})
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
    m = validate_match([{"backend": "web-arm", "header": "X-Canary"}], w, "istio")
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
    w = normalise("nginx", {"web-c86": 90, "web-arm": 10}, 100)
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
    m = validate_match([{"backend": "web-arm", "header": "x-canary", "value": "^a.*", "type": "regex"},
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
        m2 = validate_match([{"backend": "web-c86", "header": "x"}], w, "nginx")
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
