"""The control plane's hardening against the real programs of the testbed, which runs the
kubernetes role's flags and files (plugins/plugin_utils/cluster/components.py): Secrets encrypted
at rest (aescbc, read back from etcd itself), the audit log (Secret writes with their user and
request body, reads as metadata), no anonymous requests, TLS 1.2+ with ECDHE AEAD ciphers only,
on the API server, etcd, the controller manager and the scheduler (docs/roles/kubernetes.md,
"Hardening").

Runs on the shared testbed (fixture ``testbed``) or on another one: TB_STATE and the
TESTBED_PORT_* variables say which (docs/testbed.md).
"""

import base64
import json
import os
import socket
import ssl
import stat
import subprocess
import uuid
import warnings

import pytest

from ..testbed.helpers import unique_namespace, wait_for

pytestmark = pytest.mark.slow


def port(name, default):
    return int(os.environ.get("TESTBED_PORT_" + name) or default)


def pki(testbed, name):
    return os.path.join(testbed.state_dir, "pki", name)


@pytest.fixture
def namespace(testbed):
    name = unique_namespace(testbed, "hard")
    yield name
    testbed.kubectl("delete", "namespace", name, "--wait=false")


def etcd_value(testbed, key):
    """The bytes etcd holds under KEY, read with etcdctl (built beside the testbed's etcd)."""
    etcdctl = os.path.join(os.path.dirname(os.path.realpath(os.path.join(testbed.state_dir, "bin", "etcd"))),
                           "etcdctl")
    proc = subprocess.run(
        [etcdctl, "--endpoints", "https://127.0.0.1:%d" % port("ETCD", 12379),
         "--cacert", pki(testbed, "etcd-ca.crt"), "--cert", pki(testbed, "apiserver-etcd-client.crt"),
         "--key", pki(testbed, "apiserver-etcd-client.key"), "get", key, "--print-value-only"],
        capture_output=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def secret(name, namespace, value):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "stringData": {"password": value}}


def test_a_secret_is_aescbc_ciphertext_in_etcd_and_plain_through_the_api(testbed, namespace):
    value = "s3cret-" + uuid.uuid4().hex
    testbed.apply(secret("db", namespace, value))
    stored = etcd_value(testbed, "/registry/secrets/%s/db" % namespace)
    assert stored.startswith(b"k8s:enc:aescbc:v1:key1:"), stored[:40]
    assert value.encode() not in stored
    got = testbed.get_json("secret", "db", "-n", namespace)
    assert got["data"]["password"] == base64.b64encode(value.encode()).decode()
    # A ConfigMap is not encrypted: the configuration names Secrets only.
    testbed.kubectl("-n", namespace, "create", "configmap", "plain", "--from-literal=k=" + value, check=True)
    assert value.encode() in etcd_value(testbed, "/registry/configmaps/%s/plain" % namespace)
    # The key and the configuration that holds it are the owner's alone.
    for path in (pki(testbed, "encryption-aescbc.key"), os.path.join(testbed.state_dir, "encryption-config.yaml")):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def audit_events(testbed, word):
    """The audit log's events whose line has WORD (the shared testbed's log grows all session)."""
    with open(os.path.join(testbed.state_dir, "logs", "audit.log")) as fh:
        return [json.loads(line) for line in fh if word in line]


def test_the_audit_log_has_the_secret_write_with_its_user_and_the_read_as_metadata(testbed):
    name = "audit-" + uuid.uuid4().hex[:8]
    ns = testbed.user_namespace
    # An Event written first: the policy's first rule leaves Events out, so no line may name it
    # once the Secret's events (written after it) are in the log.
    event = "ev-" + name
    testbed.apply({"apiVersion": "v1", "kind": "Event", "metadata": {"name": event, "namespace": ns},
                   "involvedObject": {"kind": "ConfigMap", "name": "probe", "namespace": ns}, "reason": "AuditProbe",
                   "message": "an Event the audit policy leaves out", "type": "Normal"})
    assert testbed.get_json("event", event, "-n", ns)["reason"] == "AuditProbe"
    testbed.user_kubectl("-n", ns, "create", "secret", "generic", name, "--from-literal=k=v", check=True)
    testbed.user_kubectl("-n", ns, "get", "secret", name, "-o", "name", check=True)
    testbed.user_kubectl("-n", ns, "delete", "secret", name, check=True)

    def mine():
        return [e for e in audit_events(testbed, '"name":"%s"' % name)
                if (e.get("objectRef") or {}).get("resource") == "secrets"
                and (e.get("objectRef") or {}).get("name") == name]

    events = wait_for("the audit events of Secret %s" % name, lambda: len(mine()) >= 3 and mine())
    by_verb = {e["verb"]: e for e in events}
    create = by_verb["create"]
    assert create["user"]["username"] == testbed.user
    assert create["level"] == "Request" and create["requestObject"]["kind"] == "Secret"
    assert "responseObject" not in create
    assert by_verb["get"]["level"] == "Metadata" and "requestObject" not in by_verb["get"]
    assert by_verb["delete"]["user"]["username"] == testbed.user
    assert {e["stage"] for e in events} == {"ResponseComplete"}
    # Events are not audited at all: not the one written before the Secret, nor any other.
    assert audit_events(testbed, event) == []
    assert not [e for e in audit_events(testbed, '"events"') if (e.get("objectRef") or {}).get("resource") == "events"]


def status_of(url, *curl_args):
    proc = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"]
                          + list(curl_args) + [url], capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout


@pytest.mark.parametrize("path", ["/readyz", "/livez", "/healthz", "/version", "/api/v1/namespaces"])
def test_anonymous_requests_get_401_even_health_probes(testbed, path):
    assert status_of(testbed.server + path, "--cacert", testbed.ca_file) == "401"
    # The same request with the admin's client certificate (the role's probes do this).
    assert status_of(testbed.server + path, "--cacert", testbed.ca_file, "--cert", pki(testbed, "admin.crt"),
                     "--key", pki(testbed, "admin.key")) == "200"


def handshake(address, version=None, ciphers=None, client=None):
    """Handshake with ADDRESS offering only VERSION (ssl.TLSVersion) and CIPHERS (OpenSSL names);
    returns (protocol, cipher) or raises ssl.SSLError."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if client:
        ctx.load_cert_chain(*client)
    if version:
        # SECLEVEL=0: let this client offer what the server must refuse, so the refusal is the server's.
        ctx.set_ciphers((ciphers or "ALL") + ":@SECLEVEL=0")
        with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
    elif ciphers:
        ctx.set_ciphers(ciphers)
    with socket.create_connection(address, timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            return tls.version(), tls.cipher()[0]


def servers(testbed):
    etcd_client = (pki(testbed, "apiserver-etcd-client.crt"), pki(testbed, "apiserver-etcd-client.key"))
    return {"kube-apiserver": (("127.0.0.1", port("APISERVER", 16443)), None),
            "etcd": (("127.0.0.1", port("ETCD", 12379)), etcd_client),
            "kube-controller-manager": (("127.0.0.1", port("CONTROLLER_MANAGER", 16257)), None),
            "kube-scheduler": (("127.0.0.1", port("SCHEDULER", 16259)), None)}


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler"])
def test_tls_1_1_and_weak_ciphers_are_refused_tls_1_2_with_ecdhe_gcm_accepted(testbed, component):
    address, client = servers(testbed)[component]
    with pytest.raises(ssl.SSLError) as old:
        handshake(address, ssl.TLSVersion.TLSv1_1, client=client)
    assert "PROTOCOL_VERSION" in str(old.value).upper(), old.value  # the server's alert, not ours
    # TLS 1.2 with CBC (no AEAD) or without ECDHE (no forward secrecy): refused. Each offer names
    # the ECDSA and the RSA variant (the testbed's certificates are ECDSA, the controllers'
    # self-signed ones RSA).
    for weak in ("ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA", "AES128-GCM-SHA256:AES256-GCM-SHA384"):
        with pytest.raises(ssl.SSLError) as refused:
            handshake(address, ssl.TLSVersion.TLSv1_2, weak, client=client)
        assert "HANDSHAKE_FAILURE" in str(refused.value).upper(), (weak, refused.value)
    for good in ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
                 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
                 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"):
        protocol, cipher = handshake(address, ssl.TLSVersion.TLSv1_2, good, client=client)
        assert protocol == "TLSv1.2" and cipher in good.split(":"), (good, protocol, cipher)
    assert handshake(address, client=client)[0] == "TLSv1.3"
