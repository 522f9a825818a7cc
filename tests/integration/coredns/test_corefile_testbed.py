"""The full Corefile (kubernetes plugin included) and the role's deployment, against the
testbed's real API server (hack/testbed.sh; fixture `testbed`).

CoreDNS runs on this machine, outside the cluster, with the plugin's
``kubeconfig PATH CONTEXT``: it lists Services from the API server like the in-cluster Pods
do, and answers ``kubernetes.default.svc.cluster.local`` with the Service's ClusterIP.
"""

import json
import random
import time
import uuid

import pytest
import yaml

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import corefile as cf

from tests.integration.ansible_run import run_tasks
from tests.integration.coredns.common import dig as ask, http_status, listeners

pytestmark = pytest.mark.slow


def _context(kubeconfig):
    with open(kubeconfig) as fh:
        context = (yaml.safe_load(fh) or {}).get("current-context")
    assert context, "no current-context in %s" % kubeconfig
    return context


def test_kubeadm_shaped_corefile_answers_the_kubernetes_service(testbed, coredns, dig_path):
    cluster_ip = testbed.get_json("service", "kubernetes", "-n", "default")["spec"]["clusterIP"]
    opts = listeners()
    opts.update({"kubeconfig": testbed.kubeconfig, "kube_context": _context(testbed.kubeconfig),
                 "upstreams": ["192.0.2.1"]})  # never asked: every name below is the cluster's
    server = coredns(cf.render_corefile(opts), "cluster")

    deadline = time.time() + 60
    while time.time() < deadline and http_status(opts["ready"], "/ready") != 200:
        time.sleep(1)
    assert http_status(opts["ready"], "/ready") == 200, server.log()
    status, answers = ask(dig_path, server.port, "kubernetes.default.svc.cluster.local")[:2]
    assert (status, answers) == ("NOERROR", [cluster_ip]), server.log()
    status = ask(dig_path, server.port, "no-such-service.default.svc.cluster.local")[0]
    assert status == "NXDOMAIN"
    assert server.alive()


@pytest.fixture(name="namespace")
def fixture_namespace(testbed):
    """A fresh namespace and a free-looking kube-dns ClusterIP for it (namespace deletion is
    asynchronous: reusing names or addresses between tests would race with it)."""
    name = "xc-coredns-" + uuid.uuid4().hex[:6]
    testbed.kubectl("create", "namespace", name, check=True)
    yield name, "10.96.%d.%d" % (random.randint(200, 250), random.randint(2, 250))
    testbed.kubectl("delete", "namespace", name, "--wait=false")
    testbed.kubectl("delete", "clusterrolebinding,clusterrole", "system:coredns", "--ignore-not-found")


def _deploy(testbed, namespace, tmp_path, **extra):
    (tmp_path / "resolv.conf").write_text("nameserver 192.0.2.53\n")
    role_vars = {
        "coredns_namespace": namespace[0],
        "coredns_service_ip": namespace[1],
        "coredns_kubeconfig": testbed.kubeconfig,
        "coredns_wait": False,
        "coredns_check_upstreams": False,
        "coredns_host_resolv_conf": str(tmp_path / "resolv.conf"),
        "coredns_stub_resolv_candidates": [],
        "coredns_image_repository": "registry.local:5000/coredns/coredns",
        "coredns_architectures": ["c86", "arm"],
        "coredns_delegate_to": "localhost",
    }
    role_vars.update(extra)
    tasks = [{"name": "coredns", "ansible.builtin.include_role": {"name": "xinchuang.cloud.coredns"},
              "vars": role_vars}]
    results = run_tasks(tasks)
    failed = [r for r in results if r.get("failed")]
    assert not failed, failed[0].get("msg")
    # The apply task's result (kubernetes.core.k8s with a list of definitions).
    return [r for r in results if "result" in r and isinstance(r["result"], dict)
            and "results" in r["result"]]


def test_role_deploys_configmap_deployment_and_service_idempotently(testbed, namespace, tmp_path):
    _deploy(testbed, namespace, tmp_path)
    namespace, service_ip = namespace
    cm = testbed.get_json("configmap", "coredns", "-n", namespace)
    assert cm["data"]["Corefile"].startswith(".:53 {\n    errors\n    health {")
    assert "forward . /etc/resolv.conf {" in cm["data"]["Corefile"]

    deploy = testbed.get_json("deployment", "coredns", "-n", namespace)
    spec = deploy["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"] == "registry.local:5000/coredns/coredns:v1.14.7"
    assert spec["dnsPolicy"] == "Default"
    term = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["amd64", "arm64"]
    svc = testbed.get_json("service", "kube-dns", "-n", namespace)
    assert svc["spec"]["clusterIP"] == service_ip
    ports = {(p["port"], p["protocol"]) for p in svc["spec"]["ports"]}
    assert {(53, "UDP"), (53, "TCP"), (9153, "TCP")} == ports

    # A second run changes nothing in the cluster (the Deployment's generation counts spec
    # changes; its resourceVersion also moves with status updates of the controllers).
    before = deploy["metadata"]["generation"], cm["metadata"]["resourceVersion"]
    applied = _deploy(testbed, (namespace, service_ip), tmp_path)
    after = (testbed.get_json("deployment", "coredns", "-n", namespace)["metadata"]["generation"],
             testbed.get_json("configmap", "coredns", "-n", namespace)["metadata"]["resourceVersion"])
    assert after == before
    # Client-side apply dropped the UDP port here (containerPort alone is its merge key).
    ports = testbed.get_json("deployment", "coredns", "-n", namespace)["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert {(p["containerPort"], p["protocol"]) for p in ports} == {(53, "UDP"), (53, "TCP"), (9153, "TCP")}
    assert applied and not any(r.get("changed") for r in applied), applied


def test_role_air_gapped_configmap_carries_the_root_zone(testbed, namespace, tmp_path):
    _deploy(testbed, namespace, tmp_path, coredns_air_gapped=True,
            coredns_hosts=[{"ip": "192.0.2.71", "names": ["harbor.example.internal"]}])
    data = testbed.get_json("configmap", "coredns", "-n", namespace[0])["data"]
    assert "forward" not in data["Corefile"]
    assert "file /etc/coredns/db.root ." in data["Corefile"]
    assert "IN SOA" in data["db.root"]
    assert json.dumps("192.0.2.71 harbor.example.internal")[1:-1] in data["Corefile"]
