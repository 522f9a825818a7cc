# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster's Gateway API data plane, as pure rules: Traefik (built here from upstream
source for every GOARCH, image library/traefik) serving the Gateway API, with its GatewayClass
and one Gateway, and the names its Prometheus metrics give each backend.

The role xinchuang.cloud.gateway asks these through filters (gateway_problems,
gateway_objects); canary releases ask ``metrics_service`` for the series of a backend.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import app_deploy
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import role_settings
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class GatewayError(XinchuangError, ValueError):
    """Bad gateway settings; the message names the value and the fix."""


CONTROLLER_NAME = "traefik.io/gateway-controller"
# Traefik routes a Gateway listener through the entry point of the same port: the listener's
# port is the entry point's, not the Service's (docs/roles/gateway.md).
WEB_PORT = 8000
# ping (readiness and liveness) and the Prometheus metrics, on an entry point of their own.
ADMIN_PORT = 8080
USER = 65532
PROVIDER = "kubernetesgateway"
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
ROUTE_NAMESPACES = ("All", "Same")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC")
_NODE_PORTS = (30000, 32767)

DEFAULTS = {
    "namespace": "xinchuang-gateway",
    "name": "xinchuang",
    "class_name": "traefik",
    "image": None,
    "replicas": 1,
    "node_arches": [],
    "service_type": "NodePort",
    "node_port": None,
    "metrics_node_port": None,
    "route_namespaces": "All",
    "log_level": "INFO",
    "access_logs": False,
    "pull_secret": None,
    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
}


def settings_of(settings):
    """The settings with the defaults filled in (unknown keys are refused by problems())."""
    out = dict(DEFAULTS)
    out.update(dict((k, v) for k, v in (settings or {}).items() if v is not None))
    return out


def problems(settings):
    """Every problem of the settings, each naming the value and the fix; [] when good."""
    raw = settings or {}
    s = settings_of(raw)
    out = []
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        out.append("unknown gateway setting(s) %s: the settings are %s" % (
            ", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    for key in ("namespace", "name", "class_name"):
        if not k8s_names.is_rfc1123_label(str(s[key])):
            out.append("gateway_%s %r is not a DNS label (lower-case letters, digits and '-', at most "
                       "63 characters): pick another name" % (key, s[key]))
    image = str(s["image"] or "")
    if not image or (":" not in image.rsplit("/", 1)[-1] and "@" not in image):
        out.append("gateway_image %r is not REGISTRY/REPOSITORY:TAG: give the Traefik image of the "
                   "private registry (hack/images.sh pushes library/traefik)" % (s["image"],))
    if not isinstance(s["replicas"], int) or isinstance(s["replicas"], bool) or s["replicas"] < 1:
        out.append("gateway_replicas %r: give a whole number of at least 1" % (s["replicas"],))
    if s["service_type"] not in SERVICE_TYPES:
        out.append("gateway_service_type %r: one of %s" % (s["service_type"], ", ".join(SERVICE_TYPES)))
    if s["node_port"] is not None:
        port = s["node_port"]
        if s["service_type"] == "ClusterIP":
            out.append("gateway_node_port %r needs gateway_service_type NodePort or LoadBalancer, "
                       "not ClusterIP: drop the port or change the type" % (port,))
        elif not isinstance(port, int) or isinstance(port, bool) or not _NODE_PORTS[0] <= port <= _NODE_PORTS[1]:
            out.append("gateway_node_port %r is outside the cluster's NodePort range %d-%d: pick a "
                       "port in it, or leave it empty for any" % ((port,) + _NODE_PORTS))
    metrics_port = s["metrics_node_port"]
    if metrics_port is not None and (not isinstance(metrics_port, int) or isinstance(metrics_port, bool)
                                     or not _NODE_PORTS[0] <= metrics_port <= _NODE_PORTS[1]):
        out.append("gateway_metrics_node_port %r is outside the cluster's NodePort range %d-%d: pick "
                   "a port in it, or leave it empty for a ClusterIP Service" % ((metrics_port,) + _NODE_PORTS))
    elif metrics_port is not None and metrics_port == s["node_port"]:
        out.append("gateway_metrics_node_port %r is gateway_node_port too: give them different ports"
                   % (metrics_port,))
    if s["route_namespaces"] not in ROUTE_NAMESPACES:
        out.append("gateway_route_namespaces %r: All (routes of every namespace attach) or Same "
                   "(only the gateway's namespace)" % (s["route_namespaces"],))
    if str(s["log_level"]).upper() not in LOG_LEVELS:
        out.append("gateway_log_level %r: one of %s" % (s["log_level"], ", ".join(LOG_LEVELS)))
    bad_arches = []
    for name in s["node_arches"] or []:
        try:
            arch.goarch(str(name))
        except XinchuangError:
            bad_arches.append(str(name))
    if bad_arches:
        out.append("gateway_node_arches names no architecture the model knows: %s; give families "
                   "(%s), GOARCHes or uname -m names" % (
                       ", ".join(repr(b) for b in bad_arches), ", ".join(arch.families())))
    return out


def _labels(s, component):
    return {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": s["name"],
            "app.kubernetes.io/component": component, "app.kubernetes.io/managed-by": "xinchuang.cloud"}


def _affinity(node_arches):
    goarches = sorted(set(arch.goarch(str(a)) for a in node_arches or []))
    if not goarches:
        return None
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": goarches},
                              {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}}


def controller_args(s):
    """Traefik's static configuration, as arguments (no file: nothing to mount or drift)."""
    args = [
        "--entryPoints.web.address=:%d" % WEB_PORT,
        "--entryPoints.admin.address=:%d" % ADMIN_PORT,
        "--ping=true",
        "--ping.entryPoint=admin",
        "--metrics.prometheus=true",
        "--metrics.prometheus.entryPoint=admin",
        "--metrics.prometheus.addServicesLabels=true",
        "--metrics.prometheus.addEntryPointsLabels=true",
        "--providers.%s=true" % PROVIDER,
        # Offline: no phone home to the vendor.
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--log.level=%s" % str(s["log_level"]).upper(),
    ]
    if s["service_type"] == "LoadBalancer":
        # The Gateway's status carries the load balancer's address of the Service. (Traefik reads
        # only a LoadBalancer's ingress; with the other types the status has no address, and a
        # failed read would drop the whole configuration: so only then.)
        args += ["--providers.%s.statusAddress.service.name=%s" % (PROVIDER, s["name"]),
                 "--providers.%s.statusAddress.service.namespace=%s" % (PROVIDER, s["namespace"])]
    if s["access_logs"]:
        args.append("--accessLog=true")
    return args


def objects(settings):
    """The Kubernetes objects of the data plane, cluster-scoped first: Namespace, RBAC (as
    upstream's kubernetes-gateway-rbac.yml, without the OTel-only pods rule), the Deployment,
    the Service publishing the Gateway (port 80 to the web entry point), the metrics Service
    (ClusterIP, or NodePort for a Prometheus outside the cluster),
    the GatewayClass and the Gateway (one HTTP listener on the web entry point's port)."""
    found = problems(settings)
    if found:
        raise GatewayError("; ".join(found))
    s = settings_of(settings)
    ns, name = s["namespace"], s["name"]
    account = name + "-traefik"

    def meta(obj_name, component, namespaced=True):
        out = {"name": obj_name, "labels": _labels(s, component)}
        if namespaced:
            out["namespace"] = ns
        return out

    selector = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": name}
    pod_spec = {
        "serviceAccountName": account,
        "securityContext": {"runAsNonRoot": True, "runAsUser": USER, "runAsGroup": USER,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "traefik",
            "image": s["image"],
            "args": controller_args(s),
            "ports": [{"name": "web", "containerPort": WEB_PORT, "protocol": "TCP"},
                      {"name": "admin", "containerPort": ADMIN_PORT, "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"path": "/ping", "port": "admin"},
                               "periodSeconds": 5, "failureThreshold": 3},
            "livenessProbe": {"httpGet": {"path": "/ping", "port": "admin"},
                              "periodSeconds": 10, "failureThreshold": 6, "initialDelaySeconds": 10},
            "resources": s["resources"],
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}},
        }],
    }
    affinity = _affinity(s["node_arches"])
    if affinity:
        pod_spec["affinity"] = affinity
    if s["pull_secret"]:
        pod_spec["imagePullSecrets"] = [{"name": s["pull_secret"]}]
    web_port = {"name": "web", "port": 80, "targetPort": "web", "protocol": "TCP"}
    if s["node_port"] is not None:
        web_port["nodePort"] = s["node_port"]
    metrics_port = {"name": "metrics", "port": ADMIN_PORT, "targetPort": "admin", "protocol": "TCP"}
    if s["metrics_node_port"] is not None:
        metrics_port["nodePort"] = s["metrics_node_port"]
    rbac_rules = [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["services", "secrets", "configmaps"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        {"apiGroups": ["gateway.networking.k8s.io"],
         "resources": ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "tcproutes", "tlsroutes",
                       "referencegrants", "backendtlspolicies"],
         "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["gateway.networking.k8s.io"],
         "resources": [r + "/status" for r in ("gatewayclasses", "gateways", "httproutes", "grpcroutes",
                                               "tcproutes", "tlsroutes", "referencegrants", "backendtlspolicies")],
         "verbs": ["update"]},
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns, "namespace", namespaced=False)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": meta("xinchuang:gateway:" + name, "rbac", namespaced=False), "rules": rbac_rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": meta("xinchuang:gateway:" + name, "rbac", namespaced=False),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "xinchuang:gateway:" + name},
         "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}]},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": meta(s["class_name"], "gatewayclass", namespaced=False),
         "spec": {"controllerName": CONTROLLER_NAME}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(account, "rbac")},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, "data-plane"),
         "spec": {"replicas": s["replicas"], "selector": {"matchLabels": selector},
                  "template": {"metadata": {"labels": dict(_labels(s, "data-plane"))}, "spec": pod_spec}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, "data-plane"),
         "spec": {"type": s["service_type"], "selector": selector, "ports": [web_port]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta(name + "-metrics", "metrics"),
         "spec": {"type": "ClusterIP" if s["metrics_node_port"] is None else "NodePort", "selector": selector,
                  "ports": [metrics_port]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": meta(name, "gateway"),
         "spec": {"gatewayClassName": s["class_name"],
                  "listeners": [{"name": "web", "protocol": "HTTP", "port": WEB_PORT,
                                 "allowedRoutes": {"namespaces": {"from": s["route_namespaces"]}}}]}},
    ]


def metrics_service(namespace, service, port):
    """The ``service`` label of Traefik's Prometheus series (traefik_service_requests_total,
    traefik_service_request_duration_seconds) for the backend Service ``namespace/service``
    port ``port`` of an HTTPRoute."""
    return "%s-%s-http-%s@%s" % (namespace, service, port, PROVIDER)


def image_check(image, registry, endpoint=""):
    """Where the controller reads ``image`` before applying it: ``{"registry": host[:port],
    "reference": repository:tag}``. ``registry`` is the registry the nodes pull from (a URL or
    host[:port]; the image must be in it), ``endpoint`` (empty: ``registry``) the host[:port]
    the controller reaches that same registry at, when it does not resolve the nodes' name.
    GatewayError names an image of another registry, and an endpoint that is not a host[:port]."""
    host = manifest_index.strip_scheme(str(registry or ""))
    if not host:
        raise GatewayError("gateway_check_image needs gateway_registry.url (the registry the nodes "
                           "pull from), or set gateway_check_image to false")
    if endpoint:
        endpoint = manifest_index.registry_host(endpoint, "gateway_registry_endpoint", GatewayError,
                                                example="10.20.0.5:5000")
    try:
        ref = manifest_index.parse_reference(str(image or ""), registry=host)
    except manifest_index.InvalidReferenceError as exc:
        raise GatewayError("gateway_image: %s (gateway_registry.url is %r)" % (exc, registry))
    return {"registry": endpoint or host, "reference": ref.canonical()}


def node_goarches(hosts, node_arches=None):
    """``{host: GOARCH}`` of the nodes the data plane may run on: every one of ``hosts``
    (``{host: GOARCH}``), or those of the architectures ``node_arches`` (any names)."""
    wanted = set(arch.goarch(str(a)) for a in node_arches or [])
    return dict((host, goarch) for host, goarch in (hosts or {}).items() if not wanted or goarch in wanted)


# ---------------------------------------------------------------------------
# The sample application: one Deployment per CPU family behind one HTTPRoute
# ---------------------------------------------------------------------------

SAMPLE_PORT = 8080
# busybox httpd (the project's library/busybox, built for every GOARCH) serves "/" from a CGI
# script that answers the machine (uname -m) and node that served it; with XC_SAMPLE_FAIL set
# the script answers 500 while the static /healthz, the readiness probe's, still answers 200:
# a backend that is Ready and fails its requests, as a bad release does.
SAMPLE_SCRIPT = (
    "mkdir -p /www/cgi-bin && echo ok >/www/healthz && "
    "printf '%s\\n' '#!/bin/sh' "
    "'[ -z \"$XC_SAMPLE_FAIL\" ] || printf \"HTTP/1.0 500 Internal Server Error\\r\\n\"' "
    "'printf \"Content-Type: text/plain\\r\\n\\r\\n%s %s\\n\" \"$(uname -m)\" \"$XC_SAMPLE_NODE\"' "
    ">/www/cgi-bin/index.cgi && chmod 755 /www/cgi-bin/index.cgi && "
    "exec httpd -f -p " + str(SAMPLE_PORT) + " -h /www")

SAMPLE_DEFAULTS = {
    "name": "hello-arch",
    "namespace": "xinchuang-sample",
    "image": None,
    "version": "1",
    "families": ["c86", "arm"],
    "failing": [],
    "replicas": 1,
    "gateway_name": DEFAULTS["name"],
    "gateway_namespace": DEFAULTS["namespace"],
}


def sample_app_settings(settings):
    """The sample application's settings, defaults filled in and checked; raises GatewayError
    naming every bad value."""
    s, out = role_settings.filled(settings, SAMPLE_DEFAULTS, "sample application settings")
    for key in ("name", "namespace", "gateway_name", "gateway_namespace"):
        if not k8s_names.is_rfc1123_label(str(s[key])):
            out.append("sample_app_%s %r: a DNS label (lower case letters, digits, '-')" % (key, s[key]))
    if not s["image"]:
        out.append("sample_app_image is empty: give the busybox image of the private registry, "
                   "e.g. registry.local/library/busybox:1.37.0 (hack/images.sh builds it)")
    families = app_deploy.families_of(s["families"], "sample_app_families", out)
    if len(families) < 2 or len(set(families)) != len(families):
        out.append("sample_app_families %r: two or more different CPU families (e.g. [c86, arm]); "
                   "the first one takes the traffic until a release moves it" % (s["families"],))
    failing = app_deploy.families_of(s["failing"], "sample_app_failing", out)
    if set(failing) - set(families):
        out.append("sample_app_failing %r names families without a Deployment (%s)" % (
            s["failing"], ", ".join(families)))
    try:
        replicas = int(s["replicas"])
    except (TypeError, ValueError):
        replicas = 0
    if replicas < 1:
        out.append("sample_app_replicas %r: a whole number of at least 1" % (s["replicas"],))
    if out:
        raise GatewayError("; ".join(out))
    s.update(families=families, failing=failing, replicas=replicas, version=str(s["version"]))
    return s


def sample_app_objects(settings):
    """The sample application's Namespace, and per family a Deployment pinned to the family's
    nodes (nodeSelector kubernetes.io/arch: what the cross_arch preset of canary_release reads)
    with its own Service (app_deploy.family_workloads, the shape of every application rolled
    out across families). The HTTPRoute is sample_app_route's: created once, its weights then
    belong to the releases."""
    s = sample_app_settings(settings)
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s["namespace"]}}]
    for family in s["families"]:
        env = [{"name": "XC_SAMPLE_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
        if family in s["failing"]:
            env.append({"name": "XC_SAMPLE_FAIL", "value": "1"})
        container = {
            "name": "http", "image": s["image"], "command": ["sh", "-c", SAMPLE_SCRIPT], "env": env,
            "ports": [{"name": "http", "containerPort": SAMPLE_PORT}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": SAMPLE_PORT}, "periodSeconds": 2},
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
            "securityContext": {"runAsUser": USER, "runAsNonRoot": True, "allowPrivilegeEscalation": False},
            # The pages are written at start into a volume of the Pod's own (the image's root
            # file system is not the user's to write).
            "volumeMounts": [{"name": "www", "mountPath": "/www"}],
        }
        objs += app_deploy.family_workloads(s["name"], s["namespace"], [family], s["version"], s["replicas"],
                                            container, SAMPLE_PORT, volumes=[{"name": "www", "emptyDir": {}}])
    return objs


def sample_app_route(settings):
    """The sample application's HTTPRoute on the Gateway: every request to the first family's
    backend (weight 100, the others 0) until a release moves it."""
    s = sample_app_settings(settings)
    return app_deploy.family_route(s["name"], s["namespace"], s["families"], s["gateway_name"], s["gateway_namespace"])
