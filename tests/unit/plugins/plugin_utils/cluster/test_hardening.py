"""The control plane's hardening as plugin_utils/cluster/components.py builds it (the kubernetes
role writes it, the testbed runs it: tests/integration/hardening proves it against the real
programs): TLS settings on every component, the API server's anonymous, audit and encryption
flags, the audit policy, the encryption configuration, the kubelet's security fields."""

import base64
import json
import os

import pytest

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import components as kc
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

INPUTS = {
    "node_name": "cp1", "node_ip": "10.0.0.5", "pki_dir": "/etc/kubernetes/pki",
    "cluster_name": "xc", "cluster_domain": "cluster.local", "etcd_data_dir": "/var/lib/etcd",
    "etcd_initial_cluster": "cp1=https://10.0.0.5:2380", "etcd_servers": "https://10.0.0.5:2379",
    "apiserver_port": 6443, "service_cidr": "10.96.0.0/12", "pod_cidr": "10.244.0.0/16",
    "node_cidr_mask_size": 24, "controller_manager_kubeconfig": "/etc/kubernetes/controller-manager.conf",
    "scheduler_kubeconfig": "/etc/kubernetes/scheduler.conf",
}
KEY = base64.b64encode(bytes(range(32))).decode()
HARDENED = dict(INPUTS, audit_policy_file="/etc/kubernetes/audit-policy.yaml",
                audit_log_path="/var/log/kubernetes/audit/audit.log",
                encryption_config_file="/etc/kubernetes/encryption-config.yaml",
                kubelet_certificate_authority="/etc/kubernetes/pki/ca.crt")


# --- TLS ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("component", kc.COMPONENTS)
def test_every_component_gets_tls_1_2_and_only_ecdhe_aead_suites_by_default(component):
    flags = kc.component_flags(INPUTS, component)
    suites = flags["cipher-suites" if component == "etcd" else "tls-cipher-suites"].split(",")
    assert suites == list(kc.TLS_CIPHER_SUITES)
    assert all(s.startswith("TLS_ECDHE_") and s.endswith(("GCM_SHA256", "GCM_SHA384", "POLY1305_SHA256"))
               for s in suites)
    assert flags["tls-min-version"] == ("TLS1.2" if component == "etcd" else "VersionTLS12")


def test_tls_1_3_and_a_shorter_list_are_taken_as_a_list_or_text():
    flags = kc.component_flags(dict(INPUTS, tls_min_version="VersionTLS13",
                                    tls_cipher_suites="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "), "etcd")
    assert (flags["tls-min-version"], flags["cipher-suites"]) == ("TLS1.3", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    flags = kc.component_flags(dict(INPUTS, tls_cipher_suites=["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]),
                               "kube-scheduler")
    assert flags["tls-cipher-suites"] == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"


@pytest.mark.parametrize("bad,message", [
    ({"tls_min_version": "VersionTLS11"}, "tls_min_version 'VersionTLS11' is not allowed: use one of VersionTLS12"),
    ({"tls_min_version": "TLS1.2"}, "tls_min_version 'TLS1.2'"),
    ({"tls_cipher_suites": ["TLS_RSA_WITH_AES_128_GCM_SHA256"]}, "TLS_RSA_WITH_AES_128_GCM_SHA256 is refused"),
    ({"tls_cipher_suites": ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]}, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA is refused"),
    ({"tls_cipher_suites": "ECDHE-RSA-AES128-GCM-SHA256"}, "unknown TLS cipher suite 'ECDHE-RSA-AES128-GCM-SHA256': use Go's names"),
])
def test_old_tls_and_weak_or_unknown_suites_are_refused_by_name(bad, message):
    for component in kc.COMPONENTS:
        with pytest.raises(XinchuangError, match=message):
            kc.component_flags(dict(INPUTS, **bad), component)


# --- API server ---------------------------------------------------------------------------------

def test_the_api_server_refuses_anonymous_requests_and_verifies_kubelets():
    flags = kc.component_flags(HARDENED, "kube-apiserver")
    assert flags["anonymous-auth"] == "false"
    assert flags["kubelet-certificate-authority"] == "/etc/kubernetes/pki/ca.crt"
    assert "kubelet-certificate-authority" not in kc.component_flags(INPUTS, "kube-apiserver")


def test_the_api_server_audits_and_encrypts_when_given_the_files():
    flags = kc.component_flags(HARDENED, "kube-apiserver")
    assert flags["audit-policy-file"] == "/etc/kubernetes/audit-policy.yaml"
    assert flags["audit-log-path"] == "/var/log/kubernetes/audit/audit.log"
    assert (flags["audit-log-maxage"], flags["audit-log-maxbackup"], flags["audit-log-maxsize"]) == ("30", "10", "100")
    assert flags["encryption-provider-config"] == "/etc/kubernetes/encryption-config.yaml"
    plain = kc.component_flags(INPUTS, "kube-apiserver")
    assert not [f for f in plain if f.startswith(("audit-", "encryption-"))]


def test_audit_rotation_takes_whole_numbers_as_the_role_passes_them():
    flags = kc.component_flags(dict(HARDENED, audit_log_maxage="7", audit_log_maxbackup=0, audit_log_maxsize=" 50"),
                               "kube-apiserver")
    assert (flags["audit-log-maxage"], flags["audit-log-maxbackup"], flags["audit-log-maxsize"]) == ("7", "0", "50")


@pytest.mark.parametrize("name,value", [("audit_log_maxage", -1), ("audit_log_maxbackup", "ten"),
                                        ("audit_log_maxsize", 1.5), ("audit_log_maxage", True)])
def test_a_bad_audit_rotation_is_named(name, value):
    with pytest.raises(XinchuangError, match="%s %r is not a whole number" % (name, value)):
        kc.component_flags(dict(HARDENED, **{name: value}), "kube-apiserver")


def test_an_audit_policy_without_a_log_is_refused():
    with pytest.raises(XinchuangError, match="audit_policy_file /p.yaml needs audit_log_path"):
        kc.component_flags(dict(INPUTS, audit_policy_file="/p.yaml"), "kube-apiserver")


# --- Audit policy ---------------------------------------------------------------------------------

def first_rule(policy, verb, group, resource):
    """The level the API server's first-match rule gives a request (resource requests only)."""
    for rule in policy["rules"]:
        if "nonResourceURLs" in rule:
            continue
        if "verbs" in rule and verb not in rule["verbs"]:
            continue
        if "resources" in rule and not any(
                r["group"] == group and resource in r.get("resources", [resource]) for r in rule["resources"]):
            continue
        return rule["level"]
    return None


def test_the_policy_records_secret_and_rbac_writes_with_bodies_reads_as_metadata_and_no_events():
    policy = kc.audit_policy()
    assert (policy["apiVersion"], policy["kind"], policy["omitStages"]) == ("audit.k8s.io/v1", "Policy",
                                                                            ["RequestReceived"])
    for verb in ("create", "update", "patch", "delete", "deletecollection"):
        assert first_rule(policy, verb, "", "secrets") == "Request"
        assert first_rule(policy, verb, "rbac.authorization.k8s.io", "rolebindings") == "Request"
    for verb in ("get", "list", "watch"):
        assert first_rule(policy, verb, "", "secrets") == "Metadata"
        assert first_rule(policy, verb, "rbac.authorization.k8s.io", "clusterroles") == "Metadata"
    assert first_rule(policy, "create", "", "configmaps") == "Metadata"
    assert first_rule(policy, "create", "", "events") == "None"
    assert first_rule(policy, "create", "events.k8s.io", "events") == "None"
    assert {"level": "None", "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*", "/version"]} in policy["rules"]


def test_the_levels_are_the_callers():
    policy = kc.audit_policy("Metadata", "None")
    assert first_rule(policy, "create", "", "secrets") == "Metadata"
    assert first_rule(policy, "get", "", "pods") == "None"


@pytest.mark.parametrize("args,message", [(("request",), "audit write_level 'request' is not an audit level"),
                                          (("Request", "All"), "audit default_level 'All'")])
def test_an_unknown_audit_level_is_named(args, message):
    with pytest.raises(XinchuangError, match=message):
        kc.audit_policy(*args)


# --- Encryption configuration ---------------------------------------------------------------------

def test_aescbc_writes_with_the_key_and_still_reads_plain_secrets():
    config = kc.encryption_config("aescbc", KEY + "\n")
    assert (config["apiVersion"], config["kind"]) == ("apiserver.config.k8s.io/v1", "EncryptionConfiguration")
    (resource,) = config["resources"]
    assert resource["resources"] == ["secrets"]
    assert resource["providers"] == [{"aescbc": {"keys": [{"name": "key1", "secret": KEY}]}}, {"identity": {}}]


def test_kmsv2_names_the_plugin_and_keeps_identity_for_reads():
    config = kc.encryption_config("kmsv2", kms_endpoint="unix:///run/kms/kms.sock", kms_name="hsm")
    assert config["resources"][0]["providers"] == [
        {"kms": {"apiVersion": "v2", "name": "hsm", "endpoint": "unix:///run/kms/kms.sock", "timeout": "3s"}},
        {"identity": {}}]


@pytest.mark.parametrize("kwargs,message", [
    ({"provider": "aescbc"}, "aescbc encryption needs its key"),
    ({"provider": "aescbc", "key": "not base64!"}, "the aescbc key is not base64 .make one with: head -c 32"),
    ({"provider": "aescbc", "key": base64.b64encode(b"x" * 16).decode()}, "the aescbc key is 16 bytes, not 32"),
    ({"provider": "aescbc", "key": KEY, "key_name": ""}, "needs a name"),
    ({"provider": "kmsv2"}, "kmsv2 encryption needs the plugin's socket as kms_endpoint"),
    ({"provider": "kmsv2", "kms_endpoint": "/run/kms.sock"}, "unix:///path/to/socket, got '/run/kms.sock'"),
    ({"provider": "secretbox", "key": KEY}, "unknown Secrets encryption provider 'secretbox': one of aescbc, kmsv2"),
])
def test_a_bad_key_endpoint_or_provider_is_refused_without_printing_the_key(kwargs, message):
    with pytest.raises(XinchuangError, match=message) as refused:
        kc.encryption_config(**kwargs)
    assert KEY not in str(refused.value)


# --- kubelet ------------------------------------------------------------------------------------

def test_the_kubelet_refuses_anonymous_requests_and_asks_the_api_server():
    config = kc.kubelet_security("/pki/ca.crt", "/pki/kubelet-server.crt", "/pki/kubelet-server.key")
    assert config["authentication"] == {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                                        "x509": {"clientCAFile": "/pki/ca.crt"}}
    assert config["authorization"] == {"mode": "Webhook"}
    assert (config["tlsMinVersion"], config["tlsCipherSuites"]) == ("VersionTLS12", list(kc.TLS_CIPHER_SUITES))
    assert (config["tlsCertFile"], config["tlsPrivateKeyFile"]) == ("/pki/kubelet-server.crt", "/pki/kubelet-server.key")
    assert "tlsCertFile" not in kc.kubelet_security("/pki/ca.crt")


@pytest.mark.parametrize("args,message", [
    (("",), "the kubelet needs client_ca_file"),
    (("/ca.crt", "/k.crt"), "needs both tls_cert_file and tls_key_file, got '/k.crt' and None"),
    (("/ca.crt", None, None, "VersionTLS10"), "tls_min_version 'VersionTLS10' is not allowed"),
    (("/ca.crt", None, None, None, ["TLS_RSA_WITH_RC4_128_SHA"]), "TLS_RSA_WITH_RC4_128_SHA is refused"),
])
def test_bad_kubelet_settings_are_named(args, message):
    with pytest.raises(XinchuangError, match=message):
        kc.kubelet_security(*args)


# --- The testbed's command line ----------------------------------------------------------------------

def test_the_cli_prints_the_policy_and_the_configuration_reading_the_key_from_a_file(tmp_path, capsys):
    assert kc.cli(["audit-policy"]) == 0
    assert json.loads(capsys.readouterr().out) == kc.audit_policy()
    assert kc.cli(["audit-policy", "Metadata", "None"]) == 0
    assert json.loads(capsys.readouterr().out) == kc.audit_policy("Metadata", "None")
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    assert kc.cli(["encryption-config", str(key_file)]) == 0
    assert json.loads(capsys.readouterr().out) == kc.encryption_config("aescbc", KEY)
    key_file.write_text("short")
    assert kc.cli(["encryption-config", str(key_file)]) == 1
    assert "ERROR: the aescbc key is" in capsys.readouterr().err
    assert kc.cli(["encryption-config", os.path.join(str(tmp_path), "missing")]) == 1
    assert kc.cli(["audit-policy", "Bogus"]) == 1
    assert "audit write_level 'Bogus'" in capsys.readouterr().err
