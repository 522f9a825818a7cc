"""The rules of an application rolled out across CPU families (plugins/module_utils/operations/app_deploy.py):
one Deployment per family pinned to its nodes, a Service each and one over all, the route with
every request on the first family, and every bad setting named at once."""

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import app_deploy
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_plan
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations.app_deploy import AppDeployError

APP = {"image": "registry.local:5000/apps/hello:1.0", "families": ["c86", "aarch64"], "path": "/hello/"}


def by_kind(objects):
    out = {}
    for obj in objects:
        out.setdefault(obj["kind"], []).append(obj)
    return out


def test_each_family_gets_a_deployment_pinned_to_its_nodes_and_a_service_of_its_own():
    objects = by_kind(app_deploy.objects(APP))
    assert [n["metadata"]["name"] for n in objects["Namespace"]] == ["hello"]
    deployments = objects["Deployment"]
    assert [d["metadata"]["name"] for d in deployments] == ["hello-c86", "hello-arm"]
    assert [d["spec"]["template"]["spec"]["nodeSelector"] for d in deployments] == [
        {"kubernetes.io/arch": "amd64"}, {"kubernetes.io/arch": "arm64"}]
    for deployment in deployments:
        assert deployment["metadata"]["namespace"] == "hello"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "hello" and labels["app.kubernetes.io/version"] == "1.0"
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == APP["image"] and "command" not in container
        assert container["ports"] == [{"name": "http", "containerPort": 8080}]
        assert container["readinessProbe"]["httpGet"] == {"path": "/hello/", "port": "http"}
        assert container["resources"]["limits"] == {"memory": "512Mi"} and "env" not in container
    services = dict((s["metadata"]["name"], s["spec"]) for s in objects["Service"])
    assert services["hello-c86"]["selector"] == {"app.kubernetes.io/instance": "hello-c86"}
    assert sorted(services) == ["hello-arm", "hello-c86"]
    assert all(s["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}] for s in services.values())


def test_the_container_is_admitted_by_pod_security_restricted():
    container = by_kind(app_deploy.objects(APP))["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    ctx = container["securityContext"]
    assert ctx["runAsNonRoot"] is True and ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]} and ctx["seccompProfile"] == {"type": "RuntimeDefault"}


def test_settings_name_namespace_version_and_java_options():
    objects = app_deploy.objects(dict(APP, name="shop", namespace="team-a", version="2026.12", replicas="2",
                                      java_options="-Xmx256m", memory="1Gi"))
    deployment = by_kind(objects)["Deployment"][1]
    assert deployment["metadata"]["name"] == "shop-arm" and deployment["metadata"]["namespace"] == "team-a"
    assert deployment["spec"]["replicas"] == 2
    assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == "2026.12"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "JDK_JAVA_OPTIONS", "value": "-Xmx256m"}]
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}


def test_the_route_sends_everything_to_the_first_family_and_only_with_a_gateway():
    assert app_deploy.route(APP) is None
    route = app_deploy.route(dict(APP, gateway=True, gateway_name="gw", gateway_namespace="edge"))
    assert route["metadata"] == {"name": "hello", "namespace": "hello", "labels": {
        "app.kubernetes.io/name": "hello", "app.kubernetes.io/managed-by": "xinchuang.cloud"}}
    assert route["spec"]["parentRefs"] == [{"name": "gw", "namespace": "edge"}]
    assert route["spec"]["rules"][0]["backendRefs"] == [
        {"kind": "Service", "name": "hello-c86", "port": 80, "weight": 100},
        {"kind": "Service", "name": "hello-arm", "port": 80, "weight": 0}]


def test_the_cross_arch_preset_of_canary_release_finds_its_two_backends():
    """The shape the release reads: the Deployments labelled with the app's name, of one
    version, pinned by architecture, each selected by one Service."""
    objects = app_deploy.objects(APP)
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    services = [o for o in objects if o["kind"] == "Service"]
    backends = canary_plan.cross_arch_backends(deployments, services, "hello", "c86", "arm")
    assert backends == {"stable": {"deployment": "hello-c86", "service": "hello-c86"},
                        "canary": {"deployment": "hello-arm", "service": "hello-arm"}}, backends


@pytest.mark.parametrize("bad, named", [
    ({"image": ""}, "app_image is empty"),
    ({"image": "registry.local:5000/apps/hello"}, "has neither a tag nor a digest; give registry/repository:tag"),
    ({"image": "registry.local:5000/apps/hello@sha256:" + "a" * 64}, "names no tag"),
    ({"families": []}, "app_families []"),
    ({"families": "c86"}, "app_families 'c86': a list"),
    ({"families": ["c86", "sparc"]}, "app_families: "),
    ({"families": ["c86", "x86_64"]}, "names a family twice"),
    ({"name": "Shop"}, "app_name 'Shop'"),
    ({"name": "a" * 60}, "53 characters at most"),
    ({"namespace": "team_a"}, "app_namespace 'team_a'"),
    ({"version": "1.0+build"}, "app_version '1.0+build'"),
    ({"port": 0}, "app_port 0"),
    ({"replicas": "many"}, "app_replicas 'many'"),
    ({"path": "hello"}, "app_path 'hello'"),
    ({"families": ["c86"], "gateway": True}, "app_gateway needs two or more families"),
    ({"canary": True}, "app_canary needs app_gateway"),
    ({"canary": "yes", "gateway": "no"}, "app_canary needs app_gateway"),
    ({"gateway": "maybe"}, "app_gateway 'maybe': true or false"),
    ({"colour": "red"}, "unknown settings colour"),
])
def test_a_bad_setting_is_named_with_its_fix(bad, named):
    with pytest.raises(AppDeployError) as err:
        app_deploy.objects(dict(APP, **bad))
    assert named in str(err.value), str(err.value)


def test_every_bad_setting_is_named_at_once():
    with pytest.raises(AppDeployError) as err:
        app_deploy.objects(dict(APP, port=70000, replicas=0, path="x"))
    assert all(part in str(err.value) for part in ("app_port 70000", "app_replicas 0", "app_path 'x'"))


def test_a_bad_image_is_named_alone_not_again_through_the_name_it_would_give():
    with pytest.raises(AppDeployError) as err:
        app_deploy.objects(dict(APP, image=""))
    assert str(err.value).startswith("app_image is empty") and "app_name" not in str(err.value), str(err.value)


def test_unset_settings_given_as_empty_take_the_defaults_and_flags_read_as_ansible_reads_them():
    """deploy_app.yml passes an unset variable as '' (the defaults live here alone)."""
    given = dict(APP, port="", replicas="", cpu="", memory="", java_options="", gateway="", canary="",
                 gateway_name="", gateway_namespace="")
    assert app_deploy.objects(given) == app_deploy.objects(APP)
    route = app_deploy.route(dict(APP, gateway="true", canary="yes"))
    assert route["spec"]["parentRefs"] == [{"name": "xinchuang", "namespace": "xinchuang-gateway"}]
