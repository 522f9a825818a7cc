"""canary_weights against the testbed's real API server, with the upstream CRDs installed.

Every provider's object is written by the module and read back with kubectl; each case runs
four times (check mode, real, check mode again, real again), as community.crypto does.
"""

import json

import pytest

from tests.integration.ansible_run import run_module
from tests.integration.fixtures_canary import KINDS

pytestmark = pytest.mark.slow

MODULE = "xinchuang.cloud.canary_weights"
PROVIDERS = ["gateway", "istio", "nginx"]
# 2:1 asks each provider to normalise: gateway keeps 2/1, istio 67/33, nginx 67/33 (of 100).
ASKED = {"web-c86": 2, "web-arm": 1}
STORED = {"gateway": {"web-c86": 2, "web-arm": 1},
          "istio": {"web-c86": 67, "web-arm": 33},
          "nginx": {"web-c86": 67, "web-arm": 33}}
BEFORE = {"gateway": {"web-c86": 1}, "istio": {"web-c86": 100}, "nginx": {"web-c86": 100}}


def args(app, provider, **extra):
    out = {"kubeconfig": app.kubeconfig, "provider": provider, "namespace": app.namespace,
           "route": "web"}
    out.update(extra)
    return out


def stored_state(app, provider):
    """Everything the module could have written, to prove that nothing was."""
    state = {"route": app.route(provider)["metadata"]["resourceVersion"]}
    if provider == "nginx":
        canary = app.get(KINDS["nginx"], "web-canary", missing_ok=True)
        state["canary"] = canary and canary["metadata"]["resourceVersion"]
    return state


def test_crds_come_from_the_upstream_module_zips(testbed, canary_crds):
    assert any("/gateway-api/v1.4.1/" in f for f in canary_crds)  # the bundle's copy (hack/crds.sh)
    assert any("istio-api@v1.32.0" in f for f in canary_crds)
    crd = testbed.get_json("crd", "httproutes.gateway.networking.k8s.io")
    assert crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] == "v1.4.1"
    assert crd["metadata"]["annotations"]["gateway.networking.k8s.io/channel"] == "standard"
    vs = testbed.get_json("crd", "virtualservices.networking.istio.io")
    assert "v1" in [v["name"] for v in vs["spec"]["versions"] if v["served"]]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_four_passes_set_normalised_weights_once(canary_app, provider):
    app = canary_app
    before = stored_state(app, provider)

    check = run_module(MODULE, args(app, provider, weights=ASKED), check=True)
    assert not check.get("failed"), check.get("msg")
    assert check["changed"] is True
    assert check["previous"] == BEFORE[provider]
    assert check["weights"] == STORED[provider]
    assert stored_state(app, provider) == before, "check mode wrote to the server"

    real = run_module(MODULE, args(app, provider, weights=ASKED))
    assert not real.get("failed"), real.get("msg")
    assert real["changed"] is True
    assert real["previous"] == BEFORE[provider]
    assert real["weights"] == STORED[provider]
    assert app.stored_weights(provider) == STORED[provider]
    after = stored_state(app, provider)

    again_check = run_module(MODULE, args(app, provider, weights=ASKED), check=True)
    assert again_check["changed"] is False, again_check
    again = run_module(MODULE, args(app, provider, weights=ASKED))
    assert again["changed"] is False, again
    assert again["previous"] == STORED[provider]
    assert stored_state(app, provider) == after


def test_nginx_canary_ingress_carries_ingress_nginx_annotations(canary_app):
    app = canary_app
    res = run_module(MODULE, args(app, "nginx", weights={"web-arm": 25, "web-c86": 975},
                                  weight_total=1000,
                                  match=[{"backend": "web-arm", "header": "x-canary", "value": "yes"},
                                         {"backend": "web-arm", "cookie": "canary"}]))
    assert not res.get("failed"), res.get("msg")
    assert res["stable"] == "web-c86"
    canary = app.get(KINDS["nginx"], "web-canary")
    notes = canary["metadata"]["annotations"]
    assert {k: v for k, v in notes.items() if k.startswith("nginx.ingress.kubernetes.io/")} == {
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": "25",
        "nginx.ingress.kubernetes.io/canary-weight-total": "1000",
        "nginx.ingress.kubernetes.io/canary-by-header": "x-canary",
        "nginx.ingress.kubernetes.io/canary-by-header-value": "yes",
        "nginx.ingress.kubernetes.io/canary-by-cookie": "canary",
    }
    assert canary["spec"]["ingressClassName"] == "nginx"
    assert canary["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"] == {
        "name": "web-arm", "port": {"number": 8080}}
    # the main Ingress is left as it was
    main = app.route("nginx")
    assert main["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "web-c86"
    # removing the match rules keeps the weights
    res = run_module(MODULE, args(app, "nginx", weights={"web-arm": 25, "web-c86": 975}, match=[]))
    assert res["changed"] is True and res["previous"] == {"web-c86": 975, "web-arm": 25}
    notes = app.get(KINDS["nginx"], "web-canary")["metadata"]["annotations"]
    assert not [k for k in notes if "canary-by" in k]


@pytest.mark.parametrize("provider", ["gateway", "istio"])
def test_ab_rules_are_accepted_by_the_server_and_go_first(canary_app, provider):
    app = canary_app
    match = [{"backend": "web-arm", "header": "x-canary", "value": "yes"},
             {"backend": "web-arm", "cookie": "canary"}]
    res = run_module(MODULE, args(app, provider, weights={"web-c86": 100, "web-arm": 0}, match=match))
    assert not res.get("failed"), res.get("msg")
    obj = app.route(provider)
    entries = obj["spec"]["rules" if provider == "gateway" else "http"]
    assert [e.get("name") for e in entries] == ["xc-canary-ab-0", "xc-canary-ab-1", None]
    if provider == "gateway":
        assert entries[0]["matches"][0]["headers"] == [{"type": "Exact", "name": "x-canary", "value": "yes"}]
        assert [b["name"] for b in entries[0]["backendRefs"]] == ["web-arm"]
    else:
        assert entries[0]["match"][0]["headers"] == {"x-canary": {"exact": "yes"}}
        assert [d["destination"]["host"] for d in entries[0]["route"]] == ["web-arm"]
    again = run_module(MODULE, args(app, provider, weights={"web-c86": 100, "web-arm": 0}, match=match))
    assert again["changed"] is False
    # match omitted: the A/B rules stay
    kept = run_module(MODULE, args(app, provider, weights={"web-c86": 50, "web-arm": 50}))
    assert kept["changed"] is True
    entries = app.route(provider)["spec"]["rules" if provider == "gateway" else "http"]
    assert len(entries) == 3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_diff_shows_the_weights_before_and_after(canary_app, provider):
    res = run_module(MODULE, args(canary_app, provider, weights={"web-c86": 90, "web-arm": 10}), diff=True)
    assert res["changed"] is True
    diff = res["diff"]
    if provider == "gateway":
        before = diff["before"]["spec"]["rules"][0]["backendRefs"]
        after = diff["after"]["spec"]["rules"][0]["backendRefs"]
        assert [(b["name"], b.get("weight", 1)) for b in before] == [("web-c86", 1)]
        assert [(b["name"], b["weight"]) for b in after] == [("web-c86", 90), ("web-arm", 10)]
    elif provider == "istio":
        after = diff["after"]["spec"]["http"][0]["route"]
        assert [(d["destination"]["host"], d["weight"]) for d in after] == [("web-c86", 90), ("web-arm", 10)]
    else:
        assert diff["before"]["canary_ingress"] is None
        assert diff["after"]["canary_ingress"]["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/canary-weight"] == "10"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("weights,message", [
    ({"web-c86": -5, "web-arm": 5}, "negative"),
    ({"web-c86": 0, "web-arm": 0}, "every weight is 0"),
    ({"web-c86": "ninety", "web-arm": 10}, "not an integer"),
    ({"web-c86": 90, "web-gone": 10}, "do not exist in namespace .*: web-gone"),
])
def test_bad_weights_and_unknown_services_change_nothing(canary_app, provider, weights, message):
    import re
    app = canary_app
    before = stored_state(app, provider)
    res = run_module(MODULE, args(app, provider, weights=weights))
    assert res.get("failed") is True
    assert re.search(message, res["msg"]), res["msg"]
    assert stored_state(app, provider) == before


def test_nginx_with_three_backends_says_it_takes_two(canary_app):
    app = canary_app
    app.apply(app.service("web-loong"))
    before = stored_state(app, "nginx")
    res = run_module(MODULE, args(app, "nginx", weights={"web-c86": 80, "web-arm": 10, "web-loong": 10}))
    assert res.get("failed") is True
    assert "exactly two backends" in res["msg"] and "got 3" in res["msg"]
    assert stored_state(app, "nginx") == before
    # gateway and istio take three
    for provider in ("gateway", "istio"):
        res = run_module(MODULE, args(app, provider, weights={"web-c86": 80, "web-arm": 10, "web-loong": 10}))
        assert not res.get("failed"), res.get("msg")
    assert app.stored_weights("istio") == {"web-c86": 80, "web-arm": 10, "web-loong": 10}


def test_missing_route_is_named(canary_app):
    res = run_module(MODULE, dict(args(canary_app, "gateway", weights=ASKED), route="nope"))
    assert res.get("failed") and "HTTPRoute %s/nope does not exist" % canary_app.namespace in res["msg"]


def test_verify_passes_for_an_available_deployment_with_room_and_its_arch_in_the_index(
        canary_app, canary_images):
    app = canary_app
    app.apply(app.deployment("web-arm", "arm", image=canary_images["multi"]))
    app.wait_available("web-arm")
    res = run_module(MODULE, args(app, "gateway", weights={"web-c86": 90, "web-arm": 10}, verify=True,
                                  registry_auth=canary_images["auth"]))
    assert not res.get("failed"), res.get("msg")
    checks = dict((r["check"], r) for r in res["verify"] if r["backend"] == "web-arm")
    assert checks["deployment"]["ok"] is True and "2/2" in checks["deployment"]["message"]
    assert checks["node_room"]["ok"] is True and "kwok-arm-0" in checks["node_room"]["message"]
    assert checks["image_architecture"]["ok"] is True
    assert "has linux/arm64" in checks["image_architecture"]["message"]
    assert [r["backend"] for r in res["verify"]] == ["web-arm"] * len(res["verify"])  # only the rising one
    assert canary_images["auth"]["password"] not in json.dumps(res)


def test_verify_refuses_an_image_without_the_nodes_architecture(canary_app, canary_images):
    app = canary_app
    app.apply(app.deployment("web-arm", "arm", image=canary_images["amd64_only"]))
    app.wait_available("web-arm")
    before = stored_state(app, "gateway")
    res = run_module(MODULE, args(app, "gateway", weights={"web-c86": 90, "web-arm": 10}, verify=True,
                                  registry_auth=canary_images["auth"]))
    assert res.get("failed") is True
    assert "has no entry for linux/arm64" in res["msg"] and "linux/amd64" in res["msg"]
    assert stored_state(app, "gateway") == before
    # without the image check the rest of verify passes
    res = run_module(MODULE, args(app, "gateway", weights={"web-c86": 90, "web-arm": 10}, verify=True,
                                  verify_image=False))
    assert not res.get("failed"), res.get("msg")


def test_verify_refuses_a_backend_whose_pods_cannot_be_placed(canary_app):
    app = canary_app
    # 40 CPUs per Pod: more than a kwok LoongArch node (32) has, so the Pods stay Pending.
    app.apply(app.deployment("web-loong", "loongarch", replicas=1, requests={"cpu": "40"}),
              app.service("web-loong"))
    before = stored_state(app, "gateway")
    res = run_module(MODULE, args(app, "gateway", weights={"web-c86": 90, "web-loong": 10}, verify=True,
                                  verify_image=False))
    assert res.get("failed") is True
    assert "not raising the weight of web-loong" in res["msg"]
    assert "lack room" in res["msg"] and "kwok-loongarch-0" in res["msg"]
    assert stored_state(app, "gateway") == before


def test_annotations_only_and_read_only_calls(canary_app):
    app = canary_app
    read = run_module(MODULE, args(app, "istio"))
    assert read["changed"] is False and read["weights"] == {"web-c86": 100}
    res = run_module(MODULE, args(app, "istio", annotations={"example.com/owner": "team-a"}))
    assert res["changed"] is True and app.annotations("istio")["example.com/owner"] == "team-a"
    res = run_module(MODULE, args(app, "istio", annotations={"example.com/owner": None}))
    assert res["changed"] is True and "example.com/owner" not in app.annotations("istio")


def test_routes_option_sets_many_routes_in_one_task(canary_app):
    from tests.integration.fixtures_canary import routes
    app = canary_app
    names = ["many-%d" % i for i in range(5)]
    app.apply(*[r for n in names for r in routes(app.namespace, route=n) if r["kind"] == "HTTPRoute"])
    a = {"kubeconfig": app.kubeconfig, "namespace": app.namespace, "routes": names,
         "weights": {"web-c86": 50, "web-arm": 50}}
    res = run_module(MODULE, a)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True and [r["route"] for r in res["routes"]] == names
    assert all(app.stored_weights("gateway", n) == {"web-c86": 50, "web-arm": 50} for n in names)
    assert run_module(MODULE, a)["changed"] is False


def test_namespace_admin_sets_weights_and_is_told_what_verify_needs(testbed, canary_crds):
    """The non-admin user (admin of one namespace only) moves an nginx split; verify needs
    cluster-wide reads of Nodes and Pods, and says so instead of failing obscurely."""
    import uuid

    from tests.integration.fixtures_canary import CanaryApp, routes

    ns = testbed.user_namespace
    tag = uuid.uuid4().hex[:6]
    stable, canary, route = "cw-%s-c86" % tag, "cw-%s-arm" % tag, "cw-%s" % tag
    app = CanaryApp(testbed, ns)
    ingress = [r for r in routes(ns, route=route, stable=stable) if r["kind"] == "Ingress"]
    app.apply(app.service(stable), app.service(canary), *ingress)
    try:
        a = {"kubeconfig": testbed.user_kubeconfig, "provider": "nginx", "namespace": ns,
             "route": route, "weights": {stable: 80, canary: 20}}
        res = run_module(MODULE, a)
        assert not res.get("failed"), res.get("msg")
        assert app.stored_weights("nginx", route) == {stable: 80, canary: 20}
        res = run_module(MODULE, dict(a, weights={stable: 50, canary: 50}, verify=True))
        assert res.get("failed") is True
        assert "cannot read Nodes and Pods" in res["msg"] and "verify: false" in res["msg"]
        assert app.stored_weights("nginx", route) == {stable: 80, canary: 20}
        # outside its namespace the API server refuses, and the message says so
        res = run_module(MODULE, dict(a, namespace="default"))
        assert res.get("failed") is True and "forbidden" in res["msg"].lower()
    finally:
        testbed.kubectl("delete", "-n", ns, "ingress", route, route + "-canary", "service", stable, canary,
                        "--ignore-not-found")
