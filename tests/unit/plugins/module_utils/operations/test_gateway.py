"""The Gateway API data plane's rules (plugins/module_utils/operations/gateway.py): settings, the objects
Traefik runs as, and the names of its metrics. The role runs them on the lab (tests/e2e)."""

import os

import pytest
import yaml

from tests import paths
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bp
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import gateway as gw

ROOT = paths.ROOT
IMAGE = "registry.local/library/traefik:v3.6.12"


def by_kind(objects):
    return dict(("%s/%s" % (o["kind"], o["metadata"]["name"]), o) for o in objects)


def test_the_data_plane_listens_where_its_gateway_says_and_exposes_its_metrics():
    objects = by_kind(gw.objects({"image": IMAGE}))
    deployment = objects["Deployment/xinchuang"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == IMAGE
    args = container["args"]
    assert "--entryPoints.web.address=:8000" in args and "--providers.kubernetesgateway=true" in args
    assert "--metrics.prometheus.entryPoint=admin" in args and "--entryPoints.admin.address=:8080" in args
    assert "--global.checkNewVersion=false" in args  # offline: no phone home
    listener = objects["Gateway/xinchuang"]["spec"]["listeners"][0]
    # Traefik matches a listener to the entry point of the same port.
    assert listener["port"] == gw.WEB_PORT == int(args[0].rsplit(":", 1)[1])
    assert listener["allowedRoutes"] == {"namespaces": {"from": "All"}}
    assert objects["GatewayClass/traefik"]["spec"]["controllerName"] == "traefik.io/gateway-controller"
    assert objects["Gateway/xinchuang"]["spec"]["gatewayClassName"] == "traefik"
    web = objects["Service/xinchuang"]["spec"]
    assert web["type"] == "NodePort" and web["ports"] == [
        {"name": "web", "port": 80, "targetPort": "web", "protocol": "TCP"}]
    assert objects["Service/xinchuang-metrics"]["spec"]["ports"][0]["port"] == 8080
    assert objects["Service/xinchuang-metrics"]["spec"]["type"] == "ClusterIP"
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in selector.items())
    assert web["selector"] == selector
    binding = objects["ClusterRoleBinding/xinchuang:gateway:xinchuang"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "xinchuang-traefik",
                                    "namespace": "xinchuang-gateway"}]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "xinchuang-traefik"


def test_the_data_plane_runs_as_a_restricted_pod():
    pod = by_kind(gw.objects({"image": IMAGE}))["Deployment/xinchuang"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]["securityContext"]
    assert container == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                         "capabilities": {"drop": ["ALL"]}}


def test_cluster_scoped_objects_come_first_and_the_gateway_last():
    kinds = [o["kind"] for o in gw.objects({"image": IMAGE})]
    assert kinds[:4] == ["Namespace", "ClusterRole", "ClusterRoleBinding", "GatewayClass"]
    assert kinds[-1] == "Gateway"


def test_architectures_of_any_name_become_a_node_affinity_and_a_node_port_is_kept():
    objects = by_kind(gw.objects({"image": IMAGE, "node_arches": ["c86", "aarch64", "amd64"],
                                  "node_port": 30080, "pull_secret": "site-registry"}))
    pod = objects["Deployment/xinchuang"]["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0] == {"key": "kubernetes.io/arch", "operator": "In",
                                               "values": ["amd64", "arm64"]}
    assert pod["imagePullSecrets"] == [{"name": "site-registry"}]
    assert objects["Service/xinchuang"]["spec"]["ports"][0]["nodePort"] == 30080
    assert "affinity" not in by_kind(gw.objects({"image": IMAGE}))["Deployment/xinchuang"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("settings, words", [
    ({"image": "traefik"}, ["gateway_image 'traefik'", "library/traefik"]),
    ({"image": IMAGE, "name": "Gate_1"}, ["gateway_name 'Gate_1'", "DNS label"]),
    ({"image": IMAGE, "replicas": 0}, ["gateway_replicas 0"]),
    ({"image": IMAGE, "service_type": "ClusterIP", "node_port": 30080}, ["gateway_node_port 30080", "ClusterIP"]),
    ({"image": IMAGE, "node_port": 8080}, ["gateway_node_port 8080", "30000-32767"]),
    ({"image": IMAGE, "route_namespaces": "Selector"}, ["gateway_route_namespaces 'Selector'"]),
    ({"image": IMAGE, "node_arches": ["x86", "sparc"]}, ["'x86'", "'sparc'", "c86, arm"]),
    ({"image": IMAGE, "log_level": "loud"}, ["gateway_log_level 'loud'"]),
    ({"image": IMAGE, "listeners": 2}, ["unknown gateway setting(s) listeners"]),
])
def test_bad_settings_are_named_with_the_fix_and_no_object_is_made(settings, words):
    found = "; ".join(gw.problems(settings))
    for word in words:
        assert word in found, found
    with pytest.raises(gw.GatewayError):
        gw.objects(settings)


def test_good_settings_have_no_problem():
    assert gw.problems({"image": IMAGE}) == []
    assert gw.problems({"image": "r.local:5000/library/traefik@sha256:" + "a" * 64, "node_port": 32767,
                        "node_arches": ["loongarch", "mips64el"], "log_level": "debug"}) == []


def test_the_backend_label_of_the_metrics():
    assert gw.metrics_service("shop", "shop-arm", 80) == "shop-shop-arm-http-80@kubernetesgateway"


def test_the_image_is_read_where_the_controller_reaches_the_nodes_registry():
    image = "xc-lab-registry:5000/library/traefik:v3.6.12"
    assert gw.image_check(image, "https://xc-lab-registry:5000") == {
        "registry": "xc-lab-registry:5000", "reference": "library/traefik:v3.6.12"}
    assert gw.image_check(image, "https://xc-lab-registry:5000/", "172.29.0.5:5000") == {
        "registry": "172.29.0.5:5000", "reference": "library/traefik:v3.6.12"}


@pytest.mark.parametrize("image, registry, endpoint, words", [
    ("other.example:5000/library/traefik:v3.6.12", "https://xc-lab-registry:5000", "",
     ["other.example:5000", "xc-lab-registry:5000"]),
    ("xc-lab-registry:5000/library/traefik", "https://xc-lab-registry:5000", "", ["neither a tag"]),
    ("xc-lab-registry:5000/library/traefik:v3.6.12", "", "", ["gateway_registry.url"]),
    ("xc-lab-registry:5000/library/traefik:v3.6.12", "https://xc-lab-registry:5000",
     "https://172.29.0.5:5000", ["gateway_registry_endpoint", "no scheme"]),
    ("xc-lab-registry:5000/library/traefik:v3.6.12", "https://xc-lab-registry:5000",
     "172.29.0.5:5000/v2", ["gateway_registry_endpoint '172.29.0.5:5000/v2'", "no path"]),
])
def test_an_image_that_cannot_be_read_there_is_named(image, registry, endpoint, words):
    with pytest.raises(gw.GatewayError) as err:
        gw.image_check(image, registry, endpoint)
    for word in words:
        assert word in str(err.value)


def test_the_nodes_the_data_plane_may_run_on():
    hosts = {"a": "amd64", "b": "arm64", "c": "mips64le"}
    assert gw.node_goarches(hosts, ["c86", "kunpeng"]) == {"a": "amd64", "b": "arm64"}
    assert gw.node_goarches(hosts) == hosts


def test_the_roles_defaults_name_the_tables_traefik_and_bundle_version():
    with open(os.path.join(ROOT, "roles", "gateway", "defaults", "main.yml")) as fh:
        defaults = yaml.safe_load(fh)
    assert defaults["gateway_image"].endswith("/library/traefik:" + bp.component("traefik").version)
    assert defaults["gateway_bundle_version"] == bp.default_version()
    assert defaults["gateway_crds_dir"].endswith("/" + bp.component("gateway-api").dest)
    with open(os.path.join(ROOT, "roles", "gateway", "meta", "argument_specs.yml")) as fh:
        specs = yaml.safe_load(fh)["argument_specs"]["main"]["options"]
    for name, value in defaults.items():
        assert specs[name]["default"] == value, name


def test_the_metrics_service_is_published_on_a_node_port_only_when_asked():
    objects = by_kind(gw.objects({"image": IMAGE, "metrics_node_port": 30081}))
    metrics = objects["Service/xinchuang-metrics"]["spec"]
    assert metrics["type"] == "NodePort" and metrics["ports"][0]["nodePort"] == 30081
    assert "gateway_metrics_node_port 30080 is gateway_node_port too" in "; ".join(
        gw.problems({"image": IMAGE, "node_port": 30080, "metrics_node_port": 30080}))
    assert "gateway_metrics_node_port 80" in "; ".join(gw.problems({"image": IMAGE, "metrics_node_port": 80}))


def test_the_gateways_status_address_is_asked_of_a_load_balancer_only():
    def args(service_type):
        return by_kind(gw.objects({"image": IMAGE, "service_type": service_type}))[
            "Deployment/xinchuang"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--providers.kubernetesgateway.statusAddress.service.name=xinchuang" in args("LoadBalancer")
    assert not [a for a in args("NodePort") if "statusAddress" in a]


# --- the sample application -------------------------------------------------------------------

SAMPLE = {"image": "registry.local/library/busybox:1.37.0", "families": ["c86", "aarch64"]}


def test_the_sample_application_has_a_pinned_deployment_and_a_service_per_family():
    objects = by_kind(gw.sample_app_objects(SAMPLE))
    assert sorted(objects) == ["Deployment/hello-arch-arm", "Deployment/hello-arch-c86", "Namespace/xinchuang-sample",
                               "Service/hello-arch-arm", "Service/hello-arch-c86"]
    arm = objects["Deployment/hello-arch-arm"]
    pod = arm["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    assert objects["Deployment/hello-arch-c86"]["spec"]["template"]["spec"]["nodeSelector"] == {
        "kubernetes.io/arch": "amd64"}
    container = pod["containers"][0]
    assert container["image"] == SAMPLE["image"] and container["command"][:2] == ["sh", "-c"]
    assert "uname -m" in container["command"][2] and "httpd -f -p 8080 -h /www" in container["command"][2]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    assert [e["name"] for e in container["env"]] == ["XC_SAMPLE_NODE"]
    # What the cross_arch preset of canary_release reads: the app label, one version, one
    # Service selecting each Deployment's Pods.
    labels = arm["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "hello-arch" and labels["app.kubernetes.io/version"] == "1"
    service = objects["Service/hello-arch-arm"]["spec"]
    assert all(labels[k] == v for k, v in service["selector"].items())
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": 8080}]
    assert service["selector"] != objects["Service/hello-arch-c86"]["spec"]["selector"]


def test_a_failing_family_answers_500_but_stays_ready():
    objects = by_kind(gw.sample_app_objects(dict(SAMPLE, failing=["arm64"])))
    env = objects["Deployment/hello-arch-arm"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "XC_SAMPLE_FAIL", "value": "1"} in env
    c86 = objects["Deployment/hello-arch-c86"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert all(e["name"] != "XC_SAMPLE_FAIL" for e in c86)


def test_the_sample_route_sends_everything_to_the_first_family_on_the_gateway():
    route = gw.sample_app_route(dict(SAMPLE, gateway_name="gw", gateway_namespace="edge"))
    assert route["spec"]["parentRefs"] == [{"name": "gw", "namespace": "edge"}]
    assert route["spec"]["rules"][0]["backendRefs"] == [
        {"kind": "Service", "name": "hello-arch-c86", "port": 80, "weight": 100},
        {"kind": "Service", "name": "hello-arch-arm", "port": 80, "weight": 0}]


@pytest.mark.parametrize("settings,message", [
    ({"families": ["c86", "arm"]}, "sample_app_image is empty"),
    (dict(SAMPLE, families=["c86"]), "two or more different CPU families"),
    (dict(SAMPLE, families=["c86", "x86_64"]), "two or more different CPU families"),
    (dict(SAMPLE, families=["c86", "sparc"]), "unknown architecture 'sparc'"),
    (dict(SAMPLE, failing=["mips"]), "sample_app_failing ['mips'] names families without a Deployment"),
    (dict(SAMPLE, name="Hello"), "sample_app_name 'Hello': a DNS label"),
    (dict(SAMPLE, replicas=0), "sample_app_replicas 0"),
    (dict(SAMPLE, colour="red"), "unknown sample application settings colour"),
])
def test_bad_sample_settings_are_refused_naming_the_value(settings, message):
    with pytest.raises(gw.GatewayError, match=message.replace("[", r"\[").replace("(", r"\(")):
        gw.sample_app_objects(settings)
