"""Fixtures of the canary_weights / canary_release tests (loaded by tests/conftest.py).

``canary_crds``: the Gateway API (standard channel) and Istio CRDs, taken from their upstream
Go module zips by hack/crds.sh and installed into the testbed once per session.
``canary_app``: a fresh namespace with one application in two architectures - Deployment and
Service ``web-c86`` pinned to the C86 nodes and ``web-arm`` pinned to the ARM nodes (same
version), plus an HTTPRoute, a VirtualService and a main Ingress ``web`` sending everything
to ``web-c86``. The architecture labels come from the architecture model.
"""

import json
import os
import subprocess

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from tests.integration.testbed.helpers import unique_namespace, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP = "web"
VERSION = "1.4.2"
PORT = 8080
HOST = "web.example.com"
# CRDs whose objects the tests write; the rest of each set is installed too.
CRDS = ("httproutes.gateway.networking.k8s.io", "virtualservices.networking.istio.io")


def crd_files(provider):
    proc = subprocess.run([os.path.join(ROOT, "hack", "crds.sh"), "path", provider],
                          capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        pytest.fail("hack/crds.sh path %s failed:\n%s" % (provider, proc.stderr[-3000:]), pytrace=False)
    return proc.stdout.split()


@pytest.fixture(scope="session")
def canary_crds(testbed):
    files = crd_files("gateway") + crd_files("istio")
    for path in files:
        # Server-side: the Istio CRDs are too big for kubectl's last-applied annotation.
        testbed.kubectl("apply", "--server-side", "--force-conflicts", "-f", path, check=True,
                        timeout=180)
    testbed.kubectl("wait", "--for=condition=Established", "--timeout=120s",
                    *["crd/" + c for c in CRDS], check=True, timeout=180)
    wait_for("the route kinds in discovery", lambda: all(
        kind in testbed.kubectl("api-resources", "-o", "name").stdout
        for kind in CRDS), timeout=60)
    return files


def _deployment(name, namespace, family, replicas=2, requests=None, image=None):
    labels = {"app": name, "app.kubernetes.io/name": APP, "app.kubernetes.io/version": VERSION,
              "xinchuang.cloud/arch-family": arch.family_of(family)}
    container = {"name": "app", "image": image or "registry.invalid/xinchuang/web:%s" % VERSION,
                 "ports": [{"containerPort": PORT}]}
    if requests:
        container["resources"] = {"requests": requests}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"nodeSelector": {"kubernetes.io/arch": arch.lookup(family).oci_arch},
                         "containers": [container]},
            },
        },
    }


def _service(name, namespace):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]}}


def routes(namespace, route=APP, stable="web-c86"):
    """HTTPRoute, VirtualService and main Ingress ``route``, all to ``stable`` only."""
    return [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": route, "namespace": namespace},
         "spec": {"parentRefs": [{"name": "gateway", "namespace": "gateway-system"}],
                  "hostnames": [HOST],
                  "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                             "backendRefs": [{"name": stable, "port": PORT}]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": route, "namespace": namespace},
         "spec": {"hosts": [HOST], "gateways": ["istio-system/gateway"],
                  "http": [{"match": [{"uri": {"prefix": "/"}}],
                            "route": [{"destination": {"host": stable, "port": {"number": PORT}}}]}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": route, "namespace": namespace},
         "spec": {"ingressClassName": "nginx",
                  "rules": [{"host": HOST, "http": {"paths": [
                      {"path": "/", "pathType": "Prefix",
                       "backend": {"service": {"name": stable, "port": {"number": PORT}}}}]}}]}},
    ]


KINDS = {"gateway": "httproute.gateway.networking.k8s.io",
         "istio": "virtualservice.networking.istio.io",
         "nginx": "ingress.networking.k8s.io"}


class CanaryApp:
    """The namespace of one test and ways to read what the API server stored."""

    def __init__(self, testbed, namespace):
        self.testbed = testbed
        self.namespace = namespace
        self.kubeconfig = testbed.kubeconfig

    def get(self, kind, name, missing_ok=False):
        proc = self.testbed.kubectl("get", "-n", self.namespace, "-o", "json", kind, name)
        if proc.returncode != 0:
            if missing_ok and "NotFound" in proc.stderr:
                return None
            raise AssertionError(proc.stderr)
        return json.loads(proc.stdout)

    def route(self, provider, name=APP):
        return self.get(KINDS[provider], name)

    def stored_weights(self, provider, name=APP):
        """The weights as stored by the server, read without the module's code."""
        obj = self.route(provider, name)
        if provider == "gateway":
            rule = [r for r in obj["spec"]["rules"] if not r.get("name", "").startswith("xc-canary-ab-")][0]
            return dict((b["name"], b.get("weight", 1)) for b in rule["backendRefs"])
        if provider == "istio":
            http = [h for h in obj["spec"]["http"] if not h.get("name", "").startswith("xc-canary-ab-")][0]
            return dict((d["destination"]["host"], d.get("weight")) for d in http["route"])
        canary = self.get(KINDS["nginx"], name + "-canary", missing_ok=True)
        if canary is None:
            return {}
        notes = canary["metadata"]["annotations"]
        total = int(notes.get("nginx.ingress.kubernetes.io/canary-weight-total", 100))
        weight = int(notes["nginx.ingress.kubernetes.io/canary-weight"])
        stable = obj["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
        canary_svc = canary["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
        return {stable: total - weight, canary_svc: weight}

    def annotations(self, provider, name=APP):
        return self.route(provider, name)["metadata"].get("annotations") or {}

    def resource_version(self, provider, name=APP):
        return self.route(provider, name)["metadata"]["resourceVersion"]

    def apply(self, *objs):
        self.testbed.apply({"apiVersion": "v1", "kind": "List", "items": list(objs)})

    def deployment(self, name, family, replicas=2, requests=None, image=None):
        return _deployment(name, self.namespace, family, replicas, requests, image)

    def service(self, name):
        return _service(name, self.namespace)

    def wait_available(self, *names, timeout=120):
        for name in names:
            self.testbed.kubectl("rollout", "status", "-n", self.namespace, "deployment/" + name,
                                 "--timeout=%ds" % timeout, check=True, timeout=timeout + 30)


@pytest.fixture
def canary_app(testbed, canary_crds):
    namespace = unique_namespace(testbed, "canary")
    app = CanaryApp(testbed, namespace)
    app.apply(_deployment("web-c86", namespace, "c86"), _deployment("web-arm", namespace, "arm"),
              _service("web-c86", namespace), _service("web-arm", namespace), *routes(namespace))
    app.wait_available("web-c86", "web-arm")
    yield app
    testbed.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.fixture(scope="session")
def canary_images(registry):
    """Images of the application in the test registry (TLS + htpasswd):
    ``multi`` - an OCI index with linux/amd64 and linux/arm64/v8 entries;
    ``amd64_only`` - a single linux/amd64 manifest. ``auth`` is the module's registry_auth."""
    from tests.integration.fixtures_registry import client_push, make_image

    client = registry.client()
    repo = "xinchuang/web"
    children = []
    for platform in (arch.platform_dict("c86"), arch.platform_dict("arm")):
        image = make_image(platform)
        client_push(client, image, repo)
        children.append({"mediaType": image["media_type"], "digest": image["digest"],
                         "size": image["size"], "platform": platform})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": children}).encode()
    client.put_manifest(repo, VERSION, index, "application/vnd.oci.image.index.v1+json",
                        "%s:%s" % (repo, VERSION))
    client_push(client, make_image(arch.platform_dict("c86")), repo, VERSION + "-amd64")
    return {"multi": "%s/%s:%s" % (registry.host, repo, VERSION),
            "amd64_only": "%s/%s:%s-amd64" % (registry.host, repo, VERSION),
            "auth": {"username": registry.username, "password": registry.password,
                     "ca_path": registry.ca}}
