"""The control plane's hardening on the lab cluster (docs/roles/kubernetes.md, "Hardening").

Runs after tests/e2e/test_day2.py in the same session (hack/e2e.sh runs tests/e2e in file
order), on the cluster it leaves: xc-lab-amd64 (control plane, the only etcd member, node),
a foreign machine (nodes: the arm64 machine in the gate, the mips64el one in the full tier) and,
in the full tier, xc-lab-amd64-w1 (scale.yml); etcdctl is beside etcd since
playbooks/etcd_backup.yml put it there. Run alone on a lab kept up (XC_E2E_KEEP=1 hack/e2e.sh):
    pytest -q -p no:cacheprovider -s tests/e2e/test_hardening.py
It never brings the lab up or down, and changes nothing but a Secret of its own.

A Secret written through the API is aescbc ciphertext in etcd (and so is every other Secret:
the role rewrote those written before) -> the audit log on the control plane has its write
with the user and the request body, its read as metadata -> anonymous requests get 401 from
the API server (health probes included) and from kubelets on 10250 -> kubelets serve a
certificate of the cluster CA -> TLS 1.1 is refused and TLS 1.2 with ECDHE-GCM accepted on
the API server and a kubelet.
"""

import base64
import json
import os
import ssl
import socket
import urllib.error
import urllib.request
import uuid
import warnings

import pytest

from tests.e2e.lab import HOSTS, KUBECONFIG, kubectl, kubectl_json, on_host, wait_for

pytestmark = pytest.mark.slow

CONTROL_PLANE = "xc-lab-amd64"
# The amd64 nodes by name; "foreign" stands for every emulated machine registered as a node
# when the test runs (the arm64 machine in the gate, the mips64el one in the full tier, where
# remove_node.yml took the arm64 machine out).
NODES = ["xc-lab-amd64", "xc-lab-amd64-w1", "foreign"]
API = ("172.29.0.10", 6443)
PKI_DIR = "/etc/kubernetes/pki"
CONFIG_DIR = "/etc/kubernetes"
ETCDCTL = "/usr/local/bin/etcdctl"
AUDIT_LOG = "/var/log/kubernetes/audit/audit.log"
ADMIN_USER = "kubernetes-admin"
NS = "default"


@pytest.fixture(scope="module")
def lab():
    if not os.path.exists(KUBECONFIG):
        pytest.fail("no lab cluster (%s missing): run after tests/e2e/test_day2.py in the same session "
                    "(hack/e2e.sh), or keep a lab up with XC_E2E_KEEP=1" % KUBECONFIG)
    on_host(CONTROL_PLANE, "test", "-x", ETCDCTL)


@pytest.fixture(scope="module")
def proof_secret(lab):
    name = "hardening-" + uuid.uuid4().hex[:8]
    value = "e2e-" + uuid.uuid4().hex
    kubectl("-n", NS, "create", "secret", "generic", name, "--from-literal=password=" + value)
    kubectl("-n", NS, "get", "secret", name, "-o", "name")
    yield name, value
    kubectl("-n", NS, "delete", "secret", name, check=False)


def etcdctl(*args):
    return on_host(CONTROL_PLANE, ETCDCTL, "--endpoints", "https://127.0.0.1:2379",
                   "--cacert", PKI_DIR + "/etcd-ca.crt", "--cert", PKI_DIR + "/apiserver-etcd-client.crt",
                   "--key", PKI_DIR + "/apiserver-etcd-client.key", *args, binary=True).stdout


def test_a_secret_written_through_the_api_is_aescbc_ciphertext_in_etcd(proof_secret):
    name, value = proof_secret
    stored = etcdctl("get", "/registry/secrets/%s/%s" % (NS, name), "--print-value-only")
    assert stored.startswith(b"k8s:enc:aescbc:v1:key1:"), stored[:40]
    assert value.encode() not in stored
    assert base64.b64decode(kubectl_json("-n", NS, "get", "secret", name)["data"]["password"]).decode() == value


def test_every_secret_in_etcd_is_encrypted_the_ones_from_before_rewritten(lab):
    kvs = json.loads(etcdctl("get", "/registry/secrets/", "--prefix", "-w", "json"))["kvs"]
    assert kvs, "no Secret in etcd"
    plain = [base64.b64decode(kv["key"]).decode() for kv in kvs
             if not base64.b64decode(kv["value"]).startswith(b"k8s:enc:aescbc:v1:")]
    assert plain == []
    # The role recorded which configuration it rewrote them with (the checksum of the file).
    now = on_host(CONTROL_PLANE, "sha256sum", CONFIG_DIR + "/encryption-config.yaml").stdout.split()[0]
    assert on_host(CONTROL_PLANE, "cat", CONFIG_DIR + "/secrets-rewritten-with").stdout.strip() == now
    modes = on_host(CONTROL_PLANE, "stat", "-c", "%a %n", CONFIG_DIR + "/encryption-config.yaml",
                    CONFIG_DIR + "/ca/encryption-aescbc.key").stdout.split("\n")
    assert all(line.startswith("600 ") for line in modes if line), modes


def test_the_audit_log_has_the_secret_write_with_its_user_and_the_read_as_metadata(proof_secret):
    name, value = proof_secret

    def events():
        out = on_host(CONTROL_PLANE, "grep", "-F", '"name":"%s"' % name, AUDIT_LOG, check=False).stdout
        found = [json.loads(line) for line in out.splitlines() if line.strip()]
        found = [e for e in found if (e.get("objectRef") or {}).get("resource") == "secrets"]
        return found if {"create", "get"} <= {e["verb"] for e in found} else None

    found = wait_for("the audit events of Secret %s" % name, events, timeout=60)
    create = [e for e in found if e["verb"] == "create"][0]
    assert create["user"]["username"] == ADMIN_USER
    assert create["level"] == "Request" and create["requestObject"]["kind"] == "Secret"
    read = [e for e in found if e["verb"] == "get"][0]
    assert read["level"] == "Metadata" and "requestObject" not in read
    assert on_host(CONTROL_PLANE, "stat", "-c", "%a", os.path.dirname(AUDIT_LOG)).stdout.strip() == "700"


def status(url, context):
    try:
        with urllib.request.urlopen(url, context=context, timeout=20) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.mark.parametrize("path", ["/readyz", "/livez", "/version", "/api/v1/namespaces"])
def test_anonymous_requests_to_the_api_server_get_401(lab, path):
    assert status("https://%s:%d%s" % (API + (path,)), unverified()) == 401


@pytest.mark.parametrize("node", NODES)
def test_anonymous_requests_to_a_kubelet_get_401_and_it_serves_a_certificate_of_the_cluster_ca(lab, node, tmp_path):
    if node == "foreign":
        registered = [n.split("/", 1)[1] for n in kubectl("get", "nodes", "-o", "name").stdout.split()]
        hosts = [h for h in registered if HOSTS.get(h, {}).get("profile") == "machine"]
        assert hosts, "no emulated machine is a node of the cluster: %s" % registered
    else:
        hosts = [node]
    ca = tmp_path / "ca.crt"
    ca.write_text(on_host(CONTROL_PLANE, "cat", PKI_DIR + "/ca.crt").stdout)
    verified = ssl.create_default_context(cafile=str(ca))  # checks the address is in its names too
    for host in hosts:
        address = HOSTS[host]["address"]
        assert status("https://%s:10250/pods" % address, unverified()) == 401, host
        assert status("https://%s:10250/healthz" % address, verified) == 401, host


def handshake(address, version, ciphers):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(address, timeout=20) as raw:
        with ctx.wrap_socket(raw) as tls:
            return tls.version(), tls.cipher()[0]


@pytest.mark.parametrize("target", ["apiserver", "kubelet"])
def test_tls_1_1_is_refused_and_tls_1_2_with_ecdhe_gcm_accepted(lab, target):
    # The control plane's node: a kubelet in both tiers (the amd64 worker joins in the full tier).
    address = API if target == "apiserver" else (HOSTS[CONTROL_PLANE]["address"], 10250)
    with pytest.raises(ssl.SSLError) as old:
        handshake(address, ssl.TLSVersion.TLSv1_1, "ALL")
    assert "PROTOCOL_VERSION" in str(old.value).upper(), old.value
    with pytest.raises(ssl.SSLError):
        handshake(address, ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256")
    assert handshake(address, ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-GCM-SHA256") == (
        "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
