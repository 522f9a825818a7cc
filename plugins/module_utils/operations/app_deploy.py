# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An application image rolled out across CPU families, as pure rules.

The application gets one Deployment per family, pinned to the family's nodes with
``nodeSelector kubernetes.io/arch``, and a Service of its own for each. With a Gateway, it also
gets one HTTPRoute that sends every request to the first family until a release moves the
weights. This is the shape the ``cross_arch`` preset of canary_release reads: Deployments
labelled ``app.kubernetes.io/name=<name>``, of one ``app.kubernetes.io/version``, pinned by
architecture, each selected by one Service.

playbooks/deploy_app.yml asks these through the filters app_deploy_objects and
app_deploy_route. The gateway's sample application (gateway.sample_app_objects) is built on
``family_workloads`` and ``family_route``, so both have the same shape.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_image
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import role_settings
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import (
    UnknownArchitectureError,
    XinchuangError,
)


class AppDeployError(XinchuangError, ValueError):
    """Bad settings of an application's roll-out; the message names each value and its fix."""


MANAGED_BY = "xinchuang.cloud"
SERVICE_PORT = 80
# The images of the project run as this user (the app store's, Tomcat's among them).
USER = 65532
DEFAULTS = {
    "image": None,
    "families": None,
    "name": None,
    "namespace": None,
    "version": None,
    "port": 8080,
    "path": "/",
    "replicas": 1,
    "cpu": "100m",
    "memory": "512Mi",
    "java_options": "",
    "gateway": False,
    "canary": False,
    "gateway_name": "xinchuang",
    "gateway_namespace": "xinchuang-gateway",
}


def family_labels(name, version, instance):
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/version": str(version),
            "app.kubernetes.io/instance": instance, "app.kubernetes.io/managed-by": MANAGED_BY}


def family_workloads(name, namespace, families, version, replicas, container, target_port, volumes=None):
    """Per family (paper names, in order): a Deployment ``<name>-<family>`` of ``replicas`` Pods
    running ``container`` on the family's nodes, and a Service of the same name on port 80 to
    ``target_port``."""
    out = []
    for family in families:
        instance = "%s-%s" % (name, family)
        labels = family_labels(name, version, instance)
        spec = {"nodeSelector": {"kubernetes.io/arch": arch.goarch(family)}, "containers": [container]}
        if volumes:
            spec["volumes"] = volumes
        out.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": instance, "namespace": namespace, "labels": labels},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": {"app.kubernetes.io/instance": instance}},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}})
        out.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": instance, "namespace": namespace, "labels": labels},
            "spec": {"selector": {"app.kubernetes.io/instance": instance},
                     "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": target_port}]}})
    return out


def family_route(name, namespace, families, gateway_name, gateway_namespace):
    """The HTTPRoute ``<name>`` on the Gateway: every request to the first family's Service
    (weight 100, the others 0) until a release moves it."""
    refs = [{"kind": "Service", "name": "%s-%s" % (name, family), "port": SERVICE_PORT,
             "weight": 100 if i == 0 else 0} for i, family in enumerate(families)]
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": MANAGED_BY}},
            "spec": {"parentRefs": [{"name": gateway_name, "namespace": gateway_namespace}],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                "backendRefs": refs}]}}


def families_of(names, option, problems):
    """The CPU families of ``names`` (any architecture names); an unknown one is added to
    ``problems`` under ``option``."""
    out = []
    for name in names or []:
        try:
            out.append(arch.family_of(str(name)))
        except UnknownArchitectureError as exc:
            problems.append("%s: %s" % (option, exc))
    return out


def _image_parts(image, problems):
    """(repository's last part, tag) of ``registry/repository:tag``; a problem when it names no tag."""
    text = str(image or "").strip()
    if not text:
        problems.append("app_image is empty: give the image build_image.yml published, registry/repository:tag")
        return None, None
    try:
        ref = mi.parse_reference(app_image.split_registry(text, "app_image")[1])
    except XinchuangError as exc:
        problems.append("app_image %r: %s; give registry/repository:tag" % (text, exc))
        return None, None
    if not ref.tag:
        problems.append("app_image %r names no tag: give registry/repository:tag (the tag is the version the "
                        "Deployments carry)" % text)
        return None, None
    return ref.repository.rsplit("/", 1)[-1], ref.tag


# The longest suffix a family adds to the name (-loongarch): Services are RFC 1035 labels.
_NAME_MAX = k8s_names.LABEL_MAX - max(len("-" + f.family) for f in arch.FAMILIES)


def settings(given):
    """The roll-out's settings, defaults filled in and checked; raises AppDeployError naming
    every bad value at once (the playbook's first task, before anything is applied)."""
    s, out = role_settings.filled(given, DEFAULTS)
    for key in ("gateway", "canary"):
        try:
            s[key] = boolean(s[key], strict=True)
        except TypeError:
            out.append("app_%s %r: true or false" % (key, s[key]))
            s[key] = False
    repository, tag = _image_parts(s["image"], out)
    s["name"] = str(s["name"] or repository or "")
    s["namespace"] = str(s["namespace"] or s["name"])
    s["version"] = str(s["version"] or tag or "")
    # Without a name, one from a bad image is not named again (the image's problem says it).
    if (s["name"] or repository is not None) and not k8s_names.is_rfc1035_label(s["name"], _NAME_MAX):
        out.append("app_name %r: a DNS label starting with a letter, %d characters at most (its Services add "
                   "-<family>); the default is the image's repository name" % (s["name"], _NAME_MAX))
    for key in ("namespace", "gateway_name", "gateway_namespace"):
        if (s[key] or key != "namespace") and not k8s_names.is_rfc1123_label(str(s[key])):
            out.append("%s %r: a DNS label (lower case letters, digits, '-')" % (
                "app_" + key if key == "namespace" else key, s[key]))
    if not k8s_names.is_label_value(s["version"]):
        out.append("app_version %r: a label value (63 characters at most: letters, digits, '-', '_', '.')"
                   % (s["version"],))
    if isinstance(s["families"], str) or not s["families"]:
        out.append("app_families %r: a list of one or more CPU families (e.g. [c86, arm])" % (s["families"],))
        families = []
    else:
        families = families_of(s["families"], "app_families", out)
        if len(set(families)) != len(families):
            out.append("app_families %r names a family twice" % (s["families"],))
    for key, low in (("replicas", 1), ("port", 1)):
        try:
            value = int(s[key])
        except (TypeError, ValueError):
            value = 0
        if value < low or (key == "port" and value > 65535):
            out.append("app_%s %r: a whole number %s" % (key, s[key], "from 1 to 65535" if key == "port" else "of at least 1"))
        s[key] = value
    if not str(s["path"]).startswith("/"):
        out.append("app_path %r: the path the readiness probe asks, starting with / (a WAR's context path: "
                   "/<its name>)" % (s["path"],))
    if s["gateway"] and len(families) < 2:
        out.append("app_gateway needs two or more families (app_families %r): the route splits the traffic "
                   "between them" % (s["families"],))
    if s["canary"] and not s["gateway"]:
        out.append("app_canary needs app_gateway: the release moves the weights of the application's route "
                   "on the Gateway; set app_gateway: true")
    if out:
        raise AppDeployError("; ".join(out))
    s["families"] = families
    return s


def container(s):
    """The application's container: the image's own entrypoint, its port, a readiness probe on
    ``path``, and a security context that Pod Security ``restricted`` admits."""
    out = {
        "name": "app", "image": s["image"],
        "ports": [{"name": "http", "containerPort": s["port"]}],
        "readinessProbe": {"httpGet": {"path": s["path"], "port": "http"}, "periodSeconds": 5,
                           "failureThreshold": 3},
        "resources": {"requests": {"cpu": s["cpu"], "memory": s["memory"]}, "limits": {"memory": s["memory"]}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": USER, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
    }
    if s["java_options"]:
        # The JVM reads JDK_JAVA_OPTIONS at start (the app store's Tomcat starts java directly).
        out["env"] = [{"name": "JDK_JAVA_OPTIONS", "value": str(s["java_options"])}]
    return out


def objects(given):
    """The Namespace, and per family a Deployment and its Service. No Service spans the
    families: each Pod is selected by its family's Service alone, as a release needs (a second
    Service over both would take a share of the traffic no weight governs)."""
    s = settings(given)
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s["namespace"]}}]
    objs += family_workloads(s["name"], s["namespace"], s["families"], s["version"], s["replicas"], container(s), "http")
    return objs


def route(given):
    """The application's HTTPRoute on the Gateway (None without ``gateway``)."""
    s = settings(given)
    if not s["gateway"]:
        return None
    return family_route(s["name"], s["namespace"], s["families"], s["gateway_name"], s["gateway_namespace"])
