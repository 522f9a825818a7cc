"""The collection's one Kubernetes client path (plugins/module_utils/cluster/kube.py): resource names
from discovery, the conflict policy of server-side apply, and the apply configurations that
claim only the fields a module sets. Requests are answered by a stand-in for the server's
discovery documents here; the real API server is in tests/integration (hpa, canary)."""

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.cluster import kube

DISCOVERY = {
    "/api/v1": {"resources": [
        {"name": "endpoints", "kind": "Endpoints", "namespaced": True},
        {"name": "nodes", "kind": "Node", "namespaced": False},
        {"name": "services", "kind": "Service", "namespaced": True},
        {"name": "services/status", "kind": "Service", "namespaced": True},
    ]},
    "/apis/networking.istio.io/v1": {"resources": [
        {"name": "virtualservices", "kind": "VirtualService", "namespaced": True},
    ]},
    "/apis/autoscaling/v2": {"resources": [
        {"name": "horizontalpodautoscalers/status", "kind": "HorizontalPodAutoscaler",
         "namespaced": True},
        {"name": "horizontalpodautoscalers", "kind": "HorizontalPodAutoscaler", "namespaced": True},
    ]},
}


class Client(object):
    """Stands for an ApiClient: the discovery cache is kept per client object."""


@pytest.fixture
def server(monkeypatch):
    requests = []

    def request_json(client, method, path, query=None, body=None, content_type=None, timeout=None):
        requests.append((method, path, list(query or []), body, content_type))
        if path in DISCOVERY:
            return 200, DISCOVERY[path]
        if path.startswith("/api") and method == "GET" and path.count("/") <= 3:
            raise kube.KubeApiError("GET %s: HTTP 404 NotFound" % path, status=404)
        return 200, {"path": path}

    monkeypatch.setattr(kube, "request_json", request_json)
    return requests


def test_resource_names_come_from_discovery_not_from_the_kind(server):
    client = Client()
    # "Endpoints" is its own plural: a guess from the kind would say "endpointses"
    assert kube.resource_path(client, "v1", "Endpoints", "ns", "a") == "/api/v1/namespaces/ns/endpoints/a"
    assert kube.resource_path(client, "v1", "Service", "ns") == "/api/v1/namespaces/ns/services"
    assert kube.resource_path(client, "networking.istio.io/v1", "VirtualService", "shop", "web") == \
        "/apis/networking.istio.io/v1/namespaces/shop/virtualservices/web"
    # the subresource listed first is not taken for the kind's resource
    assert kube.api_resource(client, "autoscaling/v2", "HorizontalPodAutoscaler").name == \
        "horizontalpodautoscalers"
    # a cluster-scoped kind is addressed without a namespace even when one is given
    assert kube.resource_path(client, "v1", "Node", "ns", "n1") == "/api/v1/nodes/n1"
    # one discovery request per group version and client
    assert [r[1] for r in server] == ["/api/v1", "/apis/networking.istio.io/v1", "/apis/autoscaling/v2"]
    kube.api_resource(Client(), "v1", "Node")
    assert len(server) == 4


def test_a_kind_the_server_does_not_serve_is_named(server):
    client = Client()
    with pytest.raises(kube.KubeNotServedError, match="does not serve gateway.networking.k8s.io/v1 HTTPRoute$"):
        kube.api_resource(client, "gateway.networking.k8s.io/v1", "HTTPRoute")
    with pytest.raises(kube.KubeNotServedError, match="v1 Gateway .the group version has no such kind"):
        kube.api_resource(client, "v1", "Gateway")
    # and get_object does not mistake it for a missing object
    with pytest.raises(kube.KubeNotServedError):
        kube.get_object(client, "gateway.networking.k8s.io/v1", "HTTPRoute", "web", "shop")


def test_server_side_apply_sends_the_field_manager_force_and_dry_run(server):
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}}
    kube.server_side_apply(Client(), body, "xinchuang.cloud.test", dry_run=True, force=True)
    method, path, query, _body, content_type = server[-1]
    assert (method, path, content_type) == ("PATCH", "/api/v1/namespaces/shop/services/web",
                                            "application/apply-patch+yaml")
    assert query == [("fieldManager", "xinchuang.cloud.test"), ("force", "true"), ("dryRun", "All")]


CONFLICT = {"kind": "Status", "reason": "Conflict", "code": 409, "details": {"causes": [
    {"reason": "FieldManagerConflict", "field": ".spec.rules",
     "message": "conflict with \"kubectl-client-side-apply\" using gateway.networking.k8s.io/v1"}]}}
MODIFIED = {"kind": "Status", "reason": "Conflict", "code": 409,
            "message": "the object has been modified; please apply your changes to the latest version"}
ROUTE = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "web", "namespace": "shop"}}


def test_conflict_policy_names_the_owner_the_fields_and_force_conflicts():
    exc = kube.conflict_error(ROUTE, "xinchuang.cloud.canary_weights", kube.KubeApiError(
        "PATCH ...: HTTP 409 Conflict", status=409, reason="Conflict", details=CONFLICT))
    assert isinstance(exc, kube.KubeConflictError) and exc.status == 409
    assert str(exc) == (
        'HTTPRoute shop/web: conflict with "kubectl-client-side-apply" using '
        "gateway.networking.k8s.io/v1 own fields this apply (field manager "
        "xinchuang.cloud.canary_weights) changes: .spec.rules; set force_conflicts: true to "
        "take them over, or leave them to their manager")


def test_a_moved_resource_version_is_told_apart_from_a_field_conflict(monkeypatch):
    def request_json(client, method, path, *args, **kwargs):
        if method == "GET":
            return 200, DISCOVERY["/api/v1"]
        raise kube.KubeApiError("PATCH %s: HTTP 409 Conflict" % path, status=409,
                                reason="Conflict", details=MODIFIED)

    monkeypatch.setattr(kube, "request_json", request_json)
    body = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7"}}
    with pytest.raises(kube.KubeModifiedError, match="Service shop/web changed after it was read"):
        kube.server_side_apply(Client(), body, "m")


# --- apply configurations -----------------------------------------------------------------

def managed(manager, operation, annotations=(), spec=(), labels=()):
    fields = {"f:metadata": {}}
    if annotations:
        fields["f:metadata"]["f:annotations"] = dict((".", {}) if k == "." else ("f:" + k, {})
                                                     for k in annotations)
    if labels:
        fields["f:metadata"]["f:labels"] = dict(("f:" + k, {}) for k in labels)
    if spec:
        fields["f:spec"] = dict(("f:" + k, {}) for k in spec)
    return {"manager": manager, "operation": operation, "fieldsV1": fields}


def route(annotations, rules, managed_fields):
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "42",
                         "annotations": annotations, "managedFields": managed_fields},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["web"], "rules": rules}}


ME = "xinchuang.cloud.canary_weights"


def test_first_write_sends_only_what_changes():
    current = route({"owner": "team-a"}, [{"backendRefs": [{"name": "c86"}]}],
                    [managed("kubectl-client-side-apply", "Update", ["owner"],
                             ["parentRefs", "hostnames", "rules"])])
    desired = route({"owner": "team-a", "step": "1"}, [{"backendRefs": [{"name": "c86", "weight": 9}]}], [])
    body = kube.apply_configuration(current, desired, ME, ("rules",))
    assert body == {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                    "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "42",
                                 "annotations": {"step": "1"}},
                    "spec": {"rules": [{"backendRefs": [{"name": "c86", "weight": 9}]}]}}


def test_later_writes_keep_sending_what_the_manager_owns_so_it_is_not_dropped():
    current = route({"owner": "team-a", "step": "1"}, [{"backendRefs": [{"name": "c86", "weight": 9}]}],
                    [managed("kubectl-client-side-apply", "Update", ["owner"], ["parentRefs", "hostnames"]),
                     managed(ME, "Apply", ["step"], ["rules"])])
    # an annotation-only change: the rules it owns go along unchanged
    desired = route({"owner": "team-a", "step": "2"}, current["spec"]["rules"], [])
    body = kube.apply_configuration(current, desired, ME, ("rules",))
    assert body["metadata"]["annotations"] == {"step": "2"}
    assert body["spec"] == {"rules": current["spec"]["rules"]}
    # an annotation it set and no longer wants is left out, so the server removes it
    desired = route({"owner": "team-a"}, current["spec"]["rules"], [])
    body = kube.apply_configuration(current, desired, ME, ("rules",))
    assert "annotations" not in body["metadata"]


def test_a_field_another_manager_set_cannot_be_removed_by_apply_and_says_so():
    current = route({"owner": "team-a"}, [], [managed("kubectl-client-side-apply", "Update", ["owner"])])
    desired = route({}, [], [])
    with pytest.raises(kube.FieldOwnedError) as err:
        kube.apply_configuration(current, desired, ME, ("rules",))
    assert str(err.value) == (
        "HTTPRoute shop/web: metadata.annotations.owner is set by kubectl-client-side-apply "
        "(Update), so field manager %s cannot remove it; remove it with the tool that set it, "
        "or keep it" % ME)
    # shared with another manager: still theirs
    current["metadata"]["managedFields"].append(managed(ME, "Apply", ["owner"]))
    with pytest.raises(kube.FieldOwnedError, match="kubectl-client-side-apply"):
        kube.apply_configuration(current, desired, ME, ("rules",))


def test_a_new_object_is_sent_whole_without_a_resource_version():
    desired = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "web-canary", "namespace": "shop", "labels": {"a": "b"},
                            "annotations": {"c": "d"}},
               "spec": {"rules": [1], "ingressClassName": "nginx"}}
    body = kube.apply_configuration(None, desired, ME)
    assert body == desired


def test_field_owners_and_applied_keys_read_managed_fields():
    obj = route({}, [], [managed("kubectl", "Update", ["a", "."]), managed(ME, "Apply", ["b"], ["rules"]),
                         managed(ME, "Update", ["c"])])
    assert kube.field_owners(obj, ("metadata", "annotations"), "a") == [("kubectl", "Update")]
    assert kube.applied_keys(obj, ME, ("metadata", "annotations")) == {"b"}
    assert kube.applied_keys(obj, ME, ("spec",)) == {"rules"}
    assert kube.applied_keys(None, ME, ("spec",)) == set()


def test_apply_options_are_one_spec_with_the_modules_defaults():
    assert kube.apply_argument_spec("m") == {
        "field_manager": {"type": "str", "default": "m"},
        "force_conflicts": {"type": "bool", "default": False}}
    assert kube.apply_argument_spec("m", force_conflicts=True)["force_conflicts"]["default"] is True


# --- exec ------------------------------------------------------------------------------------

def test_the_exec_streams_status_gives_the_exit_code_and_the_servers_message():
    assert kube.exec_status('{"metadata": {}, "status": "Success"}') == (0, "")
    failed = ('{"status": "Failure", "message": "command terminated with non-zero exit code", '
              '"reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}')
    assert kube.exec_status(failed) == (3, "")
    not_found = '{"status": "Failure", "message": "exec: \\"psql\\": executable file not found in $PATH"}'
    assert kube.exec_status(not_found) == (126, 'exec: "psql": executable file not found in $PATH')
    assert kube.exec_status("garbage") == (126, "garbage")
