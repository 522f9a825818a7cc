# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build agents per CPU family (Jenkins inbound agents or GitLab runners), as pure rules.

The paper (docs/references.md#the-paper, 3.3) runs one pipeline agent per architecture, each
with its own label, so a job is built on the architecture it names. Here each family gets:

- a Deployment ``<name>-<family>`` pinned to the family's nodes (``nodeSelector
  kubernetes.io/arch``), whose Pods carry the label ``xinchuang.cloud/ci-label: arch-<family>``,
  the label a pipeline names (Jenkins: the agent's label; GitLab: the runner's tag);
- a Secret ``<name>-<family>`` with its credential (Jenkins: the agent's secret; GitLab: the
  runner's ``config.toml`` with its authentication token), read from a file, never from the
  command line or an environment variable (``ps`` and ``kubectl describe`` show those);
- a PersistentVolumeClaim ``<name>-<family>-cache``: Maven's local repository and the runner's
  cache survive a restart.

The agent's container runs on one multi-architecture image that holds the JDK, Maven and the
agent program (agent.jar, gitlab-runner); it runs as 65532 with the security context Pod
Security ``restricted`` admits.

The role ci_agents asks these through the filters ci_agents_problems, ci_agents_objects,
ci_agents_secrets, ci_agents_image_check and ci_agents_summary.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import app_deploy
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_image
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import quantity
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import role_settings
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import (
    UnknownArchitectureError,
    XinchuangError,
)


class CiAgentsError(XinchuangError, ValueError):
    """Bad settings of the build agents; the message names each value and its fix."""


KINDS = ("jenkins", "gitlab")
# The label a pipeline names to build on a family: arch-c86, arch-arm, arch-loongarch, ...
LABEL_PREFIX = "arch-"
CI_LABEL = "xinchuang.cloud/ci-label"
FAMILY_LABEL = "xinchuang.cloud/arch-family"
CREDENTIALS_DIGEST = "xinchuang.cloud/credentials-digest"
MANAGED_BY = "xinchuang.cloud"
USER = 65532
HOME = "/home/ci"
CACHE_DIR = HOME + "/cache"
# Maven's local repository on the cache (a system property: Maven of any version reads it).
MAVEN_REPOSITORY = CACHE_DIR + "/m2"
CREDENTIALS_DIR = "/etc/ci-agent/credentials"
CA_DIR = "/etc/ci-agent/ca"
CA_KEY = "ca.crt"
MAVEN_SETTINGS_KEY = "settings.xml"
JENKINS_SECRET_KEY = "secret"
GITLAB_CONFIG_KEY = "config.toml"
ACCESS_MODES = ("ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod")
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")

DEFAULTS = {
    "kind": "jenkins",
    "families": ["c86", "arm"],
    "name": "ci-agent",
    "namespace": "ci-agents",
    "image": None,
    "url": None,
    "credentials": None,
    "replicas": 1,
    "jenkins_agent_jar": "/app/agent.jar",
    "jenkins_websocket": True,
    "jenkins_tunnel": "",
    "gitlab_concurrent": 1,
    "gitlab_shell": "bash",
    "ca": "",
    "maven_settings": "",
    "cache_size": "10Gi",
    "cache_storage_class": "",
    "cache_access_mode": "ReadWriteOnce",
    "cpu": "500m",
    "memory": "2Gi",
    "image_pull_secret": "",
}
# What each kind calls its credential (the option the role takes them from).
CREDENTIAL_OPTION = {"jenkins": "ci_agents_jenkins_secrets", "gitlab": "ci_agents_gitlab_tokens"}
CREDENTIAL_WHAT = {
    "jenkins": "the agent's secret (the controller shows it on the node's page, or "
               "jenkins.model.Jenkins.instance.getComputer(NAME).jnlpMac)",
    "gitlab": "the runner's authentication token (glrt-...: Admin or the group, CI/CD, Runners, "
              "New runner with the tag arch-FAMILY)",
}
# The longest suffix added to the name: -loongarch-cache (a PersistentVolumeClaim is a subdomain,
# but the Deployment's Pods' hostnames are RFC 1123 labels).
_NAME_MAX = k8s_names.LABEL_MAX - max(len("-%s-cache" % f.family) for f in arch.FAMILIES)


def label_of(family):
    """The label a pipeline names to run on ``family`` (any architecture name): arch-<family>."""
    return LABEL_PREFIX + arch.family_of(str(family))


def _int(value, low, high, option, out):
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < low or (high is not None and number > high):
        out.append("%s %r: a whole number %s" % (option, value, "from %d to %d" % (low, high) if high else "of at least %d" % low))
        return low
    return number


def _url(value, option, out):
    text = str(value or "").strip()
    if not text:
        out.append("%s is not set: give the server's URL, http(s)://host[:port][/path]" % option)
    elif not re.match(r"^https?://[^/\s]+(/\S*)?$", text):
        out.append("%s %r: the server's URL, http(s)://host[:port][/path]" % (option, value))
    return text.rstrip("/")


def _families(value, out):
    if isinstance(value, str) or not value:
        out.append("ci_agents_families %r: a list of one or more CPU families (c86, arm, loongarch, sw64, mips)" % (value,))
        return []
    families = app_deploy.families_of(value, "ci_agents_families", out)
    if len(set(families)) != len(families):
        out.append("ci_agents_families %r names a family twice" % (value,))
    return families


def _credentials(kind, value, families, out):
    """{family: credential} of ``value`` (keyed by any architecture name); a family without one
    is named with where its credential comes from."""
    option = CREDENTIAL_OPTION[kind]
    if not isinstance(value, dict):
        # The value is a secret: never repeat it in a message.
        out.append("%s: a mapping of CPU family to %s, e.g. {c86: ..., arm: ...}" % (option, CREDENTIAL_WHAT[kind]))
        return {}
    by_family = {}
    for key, credential in value.items():
        try:
            family = arch.family_of(str(key))
        except UnknownArchitectureError as exc:
            out.append("%s: %s" % (option, exc))
            continue
        if not isinstance(credential, str) or not credential.strip() or any(c in credential for c in "\r\n"):
            out.append("%s.%s: one line of text, %s" % (option, key, CREDENTIAL_WHAT[kind]))
            continue
        by_family[family] = credential.strip()
    missing = [f for f in families if f not in by_family]
    if missing:
        out.append("%s has no credential for %s: give %s for each" % (option, ", ".join(missing), CREDENTIAL_WHAT[kind]))
    return by_family


def _checked(given):
    """(settings with defaults filled in, one message per bad value). Never names a credential."""
    s, out = role_settings.filled(given, DEFAULTS)
    if s["kind"] not in KINDS:
        out.append("ci_agents_kind %r: jenkins (inbound agents) or gitlab (runners)" % (s["kind"],))
        s["kind"] = "jenkins"
    s["families"] = _families(s["families"], out)
    if not k8s_names.is_rfc1035_label(str(s["name"]), _NAME_MAX):
        out.append("ci_agents_name %r: a DNS label starting with a letter, %d characters at most (the Deployments add "
                   "-<family>, the caches -<family>-cache)" % (s["name"], _NAME_MAX))
    if not k8s_names.is_rfc1123_label(str(s["namespace"])):
        out.append("ci_agents_namespace %r: a DNS label (lower case letters, digits, '-')" % (s["namespace"],))
    image = str(s["image"] or "").strip()
    host, rest = app_image.split_registry(image, "ci_agents_image") if image else (None, "")
    if not image:
        out.append("ci_agents_image is not set: give the agent image in the private registry, registry/repository:tag, "
                   "holding the JDK, Maven and %s (docs/roles/ci_agents.md)"
                   % ("Jenkins' agent.jar" if s["kind"] == "jenkins" else "gitlab-runner"))
    elif host is None:
        out.append("ci_agents_image %r names no registry: give the private registry's host, "
                   "registry/repository:tag" % image)
    else:
        try:
            mi.parse_reference(rest)
        except XinchuangError as exc:
            out.append("ci_agents_image %r: %s; give registry/repository:tag" % (image, exc))
    s["image"] = image
    s["url"] = _url(s["url"], "ci_agents_%s_url" % s["kind"], out)
    s["credentials"] = _credentials(s["kind"], s["credentials"], s["families"], out)
    s["replicas"] = _int(s["replicas"], 1, None, "ci_agents_replicas", out)
    if s["kind"] == "jenkins" and s["replicas"] != 1:
        out.append("ci_agents_replicas %r: a Jenkins inbound agent is one connection per node name and secret, so "
                   "each family runs one; for more, add nodes in the controller and run the role again with "
                   "another ci_agents_name" % (s["replicas"],))
    s["gitlab_concurrent"] = _int(s["gitlab_concurrent"], 1, 1000, "ci_agents_gitlab_concurrent", out)
    try:
        s["jenkins_websocket"] = boolean(s["jenkins_websocket"], strict=True)
    except TypeError:
        out.append("ci_agents_jenkins_websocket %r: true or false" % (s["jenkins_websocket"],))
    tunnel = str(s["jenkins_tunnel"] or "")
    if tunnel and not re.match(r"^[A-Za-z0-9.-]*:[0-9]{1,5}$", tunnel):
        out.append("ci_agents_jenkins_tunnel %r: HOST:PORT (or :PORT) of the controller's inbound TCP port" % tunnel)
    if tunnel and s["jenkins_websocket"] is True:
        out.append("ci_agents_jenkins_tunnel is for TCP agents: set ci_agents_jenkins_websocket to false to use it")
    if not str(s["jenkins_agent_jar"]).startswith("/"):
        out.append("ci_agents_jenkins_agent_jar %r: the absolute path of agent.jar in the image" % (s["jenkins_agent_jar"],))
    if s["gitlab_shell"] not in ("bash", "sh"):
        out.append("ci_agents_gitlab_shell %r: bash or sh (the shell executor runs the jobs' scripts with it)" % (s["gitlab_shell"],))
    ca = str(s["ca"] or "")
    if ca and not PEM_CERTIFICATE.search(ca):
        out.append("ci_agents_ca_file holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA that signed "
                   "the server's certificate")
    if s["cache_access_mode"] not in ACCESS_MODES:
        out.append("ci_agents_cache_access_mode %r: one of %s" % (s["cache_access_mode"], ", ".join(ACCESS_MODES)))
    elif s["cache_access_mode"] != "ReadWriteMany" and s["replicas"] > 1:
        out.append("ci_agents_replicas %d share each family's cache: give a ReadWriteMany class "
                   "(ci_agents_cache_storage_class, e.g. the NFS layer's) and ci_agents_cache_access_mode: "
                   "ReadWriteMany" % s["replicas"])
    for key, parse in (("cache_size", quantity.memory_bytes), ("memory", quantity.memory_bytes), ("cpu", quantity.cpu_millis)):
        try:
            if parse(str(s[key])) <= 0:
                raise ValueError(s[key])
        except (TypeError, ValueError, XinchuangError):
            out.append("ci_agents_%s %r: a Kubernetes quantity (e.g. %s)" % (key, s[key], DEFAULTS[key]))
    for key in ("cache_storage_class", "image_pull_secret"):
        if s[key] and not k8s_names.is_rfc1123_subdomain(str(s[key])):
            out.append("ci_agents_%s %r: the name of an object (lower case letters, digits, '-', '.')" % (key, s[key]))
    return s, out


def settings(given):
    """The agents' settings, defaults filled in and checked; raises CiAgentsError naming every
    bad value at once."""
    s, out = _checked(given)
    if out:
        raise CiAgentsError("; ".join(out))
    return s


def problems(given):
    """Every bad setting, one message each (empty when the settings are good): the role's
    preflight asserts there are none before anything is applied."""
    return _checked(given)[1]


def instance(s, family):
    return "%s-%s" % (s["name"], family)


def labels(s, family):
    return {"app.kubernetes.io/name": s["name"], "app.kubernetes.io/instance": instance(s, family),
            "app.kubernetes.io/component": "jenkins-agent" if s["kind"] == "jenkins" else "gitlab-runner",
            "app.kubernetes.io/managed-by": MANAGED_BY, FAMILY_LABEL: family, CI_LABEL: label_of(family)}


def toml_string(value):
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in str(value):
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append("\\u%04X" % ord(char))
        else:
            out.append(char)
    return '"%s"' % "".join(out)


def runner_config(s, family):
    """The GitLab runner's config.toml for ``family``: one runner (the shell executor: the job
    runs in the agent's container, on the JDK and Maven of its image) with the family's token,
    building under the home directory and caching on the cache volume."""
    lines = [
        "concurrent = %d" % s["gitlab_concurrent"],
        "check_interval = 3",
        "shutdown_timeout = 30",
        "",
        "[[runners]]",
        "  name = %s" % toml_string(instance(s, family)),
        "  url = %s" % toml_string(s["url"]),
        "  token = %s" % toml_string(s["credentials"][family]),
        '  executor = "shell"',
        "  shell = %s" % toml_string(s["gitlab_shell"]),
        "  builds_dir = %s" % toml_string(HOME + "/builds"),
        "  cache_dir = %s" % toml_string(CACHE_DIR + "/gitlab"),
        "  environment = [%s]" % toml_string("MAVEN_OPTS=-Dmaven.repo.local=" + MAVEN_REPOSITORY),
    ]
    if s["ca"]:
        lines.append("  tls-ca-file = %s" % toml_string("%s/%s" % (CA_DIR, CA_KEY)))
    return "\n".join(lines) + "\n"


def _secret_data(s, family):
    if s["kind"] == "jenkins":
        return {JENKINS_SECRET_KEY: s["credentials"][family]}
    return {GITLAB_CONFIG_KEY: runner_config(s, family)}


def _maven_settings_name(s):
    return s["name"] + "-maven-settings"


def _ca_name(s):
    return s["name"] + "-ca"


def secrets(given):
    """The Secrets: per family the agent's credential, and Maven's settings.xml when given (it
    names the site's repository mirror, often with its password)."""
    s = settings(given)
    out = []
    for family in s["families"]:
        out.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": instance(s, family), "namespace": s["namespace"], "labels": labels(s, family)},
                    "stringData": _secret_data(s, family)})
    if s["maven_settings"]:
        out.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": _maven_settings_name(s), "namespace": s["namespace"],
                                 "labels": {"app.kubernetes.io/name": s["name"], "app.kubernetes.io/managed-by": MANAGED_BY}},
                    "stringData": {MAVEN_SETTINGS_KEY: str(s["maven_settings"])}})
    return out


def _credentials_digest(s, family):
    """A digest of what the agent reads at start (its credential, settings.xml, the CA): a change
    rolls the Pods. Salted with the object's name, so it cannot be looked up."""
    text = json.dumps([instance(s, family), _secret_data(s, family), s["maven_settings"], s["ca"]], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def agent_command(s, family):
    """(command, args) of the agent's container; the credential is read from its file."""
    if s["kind"] == "gitlab":
        return (["gitlab-runner"],
                ["run", "--config", "%s/%s" % (CREDENTIALS_DIR, GITLAB_CONFIG_KEY), "--working-directory", HOME])
    args = ["-jar", s["jenkins_agent_jar"], "-url", s["url"] + "/", "-name", instance(s, family),
            "-secret", "@%s/%s" % (CREDENTIALS_DIR, JENKINS_SECRET_KEY), "-workDir", HOME + "/agent"]
    if s["jenkins_websocket"]:
        args.append("-webSocket")
    elif s["jenkins_tunnel"]:
        args += ["-tunnel", s["jenkins_tunnel"]]
    if s["ca"]:
        args += ["-cert", "@%s/%s" % (CA_DIR, CA_KEY)]
    return ["java"], args


def _container(s, family):
    command, args = agent_command(s, family)
    mounts = [{"name": "home", "mountPath": HOME},
              {"name": "cache", "mountPath": CACHE_DIR},
              {"name": "credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True}]
    if s["ca"]:
        mounts.append({"name": "ca", "mountPath": CA_DIR, "readOnly": True})
    if s["maven_settings"]:
        mounts.append({"name": "maven-settings", "mountPath": HOME + "/.m2/" + MAVEN_SETTINGS_KEY,
                       "subPath": MAVEN_SETTINGS_KEY, "readOnly": True})
    return {
        "name": "agent", "image": s["image"], "command": command, "args": args,
        "workingDir": HOME,
        "env": [{"name": "HOME", "value": HOME},
                {"name": "MAVEN_OPTS", "value": "-Dmaven.repo.local=" + MAVEN_REPOSITORY},
                {"name": "CI_AGENT_LABEL", "value": label_of(family)}],
        "resources": {"requests": {"cpu": str(s["cpu"]), "memory": str(s["memory"])},
                      "limits": {"memory": str(s["memory"])}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": USER, "runAsGroup": USER,
                            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": mounts,
    }


def _volumes(s, family):
    volumes = [{"name": "home", "emptyDir": {}},
               {"name": "cache", "persistentVolumeClaim": {"claimName": instance(s, family) + "-cache"}},
               # 0440 with fsGroup: the agent's user reads it, no one else in the Pod.
               {"name": "credentials", "secret": {"secretName": instance(s, family), "defaultMode": 0o440}}]
    if s["ca"]:
        volumes.append({"name": "ca", "configMap": {"name": _ca_name(s)}})
    if s["maven_settings"]:
        volumes.append({"name": "maven-settings", "secret": {"secretName": _maven_settings_name(s), "defaultMode": 0o440}})
    return volumes


def objects(given):
    """The Namespace, the CA's ConfigMap (when given), and per family the cache's
    PersistentVolumeClaim and the Deployment (the Secrets come from ``secrets``)."""
    s = settings(given)
    common = {"app.kubernetes.io/name": s["name"], "app.kubernetes.io/managed-by": MANAGED_BY}
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s["namespace"]}}]
    if s["ca"]:
        objs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": _ca_name(s), "namespace": s["namespace"], "labels": common},
                     "data": {CA_KEY: s["ca"]}})
    for family in s["families"]:
        name = instance(s, family)
        pvc = {"accessModes": [s["cache_access_mode"]], "resources": {"requests": {"storage": str(s["cache_size"])}}}
        if s["cache_storage_class"]:
            pvc["storageClassName"] = s["cache_storage_class"]
        objs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": {"name": name + "-cache", "namespace": s["namespace"], "labels": labels(s, family)},
                     "spec": pvc})
        pod = {"nodeSelector": {arch.NODE_ARCH_LABEL: arch.lookup(family).oci_arch},
               "securityContext": {"runAsNonRoot": True, "runAsUser": USER, "runAsGroup": USER, "fsGroup": USER,
                                   "seccompProfile": {"type": "RuntimeDefault"}},
               "containers": [_container(s, family)],
               "volumes": _volumes(s, family)}
        if s["image_pull_secret"]:
            pod["imagePullSecrets"] = [{"name": s["image_pull_secret"]}]
        objs.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": s["namespace"], "labels": labels(s, family)},
            "spec": {
                "replicas": s["replicas"],
                # Recreate: a Jenkins agent's name, or a ReadWriteOnce cache, is held by one Pod at a time.
                "strategy": {"type": "RollingUpdate" if s["cache_access_mode"] == "ReadWriteMany" and s["kind"] == "gitlab"
                             else "Recreate"},
                "selector": {"matchLabels": {"app.kubernetes.io/instance": name}},
                "template": {"metadata": {"labels": labels(s, family),
                                          "annotations": {CREDENTIALS_DIGEST: _credentials_digest(s, family)}},
                             "spec": pod}}})
    return objs


def image_check(given, endpoint=""):
    """Where the controller reads the agent image before applying: ``{"registry": host[:port],
    "reference": repository:tag, "families": {what: family}}`` for image_manifest_info and
    image_platform_problems. ``endpoint`` (empty: the image's registry) is the host[:port] the
    controller reaches that registry at, when it does not resolve the nodes' name for it."""
    s = settings(given)
    host, rest = app_image.split_registry(s["image"], "ci_agents_image")
    if endpoint:
        host = mi.registry_host(endpoint, "ci_agents_registry_endpoint", CiAgentsError, example="10.20.0.5:5000")
    return {"registry": host, "reference": rest,
            "families": dict(("running agent %s" % instance(s, family), family) for family in s["families"])}


def summary(given):
    """Per family what a pipeline and the server need to know: the Deployment, the label, the
    node architecture, and the Jenkins node name or GitLab runner to create with that label."""
    s = settings(given)
    return [{"family": family, "deployment": instance(s, family), "label": label_of(family),
             "node_arch": arch.lookup(family).oci_arch,
             "server_side": ("Jenkins node %s (launch: inbound agent), label %s" % (instance(s, family), label_of(family))
                             if s["kind"] == "jenkins" else
                             "GitLab runner with the tag %s (its token in ci_agents_gitlab_tokens.%s)" % (label_of(family), family))}
            for family in s["families"]]
