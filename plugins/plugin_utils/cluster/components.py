# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control plane's programs as the kubernetes role runs them: the command-line flags of
etcd, kube-apiserver, kube-controller-manager and kube-scheduler from one set of inputs, the
kubeconfig of a client certificate, and the hardening files the API server reads (its audit
policy and the encryption configuration of Secrets at rest).

The kubernetes role asks through the filters ``kube_component_flags`` (its units, with the
role's ``kubernetes_*_extra_args`` over these) and ``kubeconfig``; the project's test bed asks
through ``cli()`` with its own overrides (loopback addresses, its ports), so the test bed runs
the flags and kubeconfigs the role writes, and the integration tests prove them against the
real programs.

Flag values are strings, as they appear after ``--flag=`` in a unit file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import json
import sys

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")

# Inputs each component needs (the error names the missing ones).
_NEEDS = {
    "etcd": ("node_name", "node_ip", "pki_dir", "etcd_data_dir", "etcd_initial_cluster", "cluster_name"),
    "kube-apiserver": ("node_ip", "pki_dir", "apiserver_port", "etcd_servers", "service_cidr",
                       "cluster_domain"),
    "kube-controller-manager": ("pki_dir", "controller_manager_kubeconfig", "cluster_name",
                                "service_cidr", "pod_cidr", "node_cidr_mask_size"),
    "kube-scheduler": ("scheduler_kubeconfig",),
}


# TLS: 1.2 at least everywhere; for TLS 1.2 only ECDHE key exchange with AEAD ciphers (Go's
# crypto/tls picks the TLS 1.3 suites itself). Both ECDSA and RSA: the role's keys are RSA,
# the test bed's ECDSA.
TLS_MIN_VERSIONS = ("VersionTLS12", "VersionTLS13")
TLS_CIPHER_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
)
# Names Go knows but that are refused here: no forward secrecy (TLS_RSA_*) or CBC/RC4/3DES.
_WEAK_CIPHER_SUITES = (
    "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
)
# etcd names the minimum version its own way.
_ETCD_TLS_VERSION = {"VersionTLS12": "TLS1.2", "VersionTLS13": "TLS1.3"}


def tls_settings(inputs):
    """(minimum version, [cipher suites]) from the optional inputs ``tls_min_version`` and
    ``tls_cipher_suites`` (list or comma-separated), checked: the defaults are TLS 1.2 and
    ``TLS_CIPHER_SUITES``."""
    version = inputs.get("tls_min_version") or "VersionTLS12"
    if version not in TLS_MIN_VERSIONS:
        raise XinchuangError("tls_min_version %r is not allowed: use one of %s (TLS 1.0 and 1.1 are "
                             "refused)" % (version, ", ".join(TLS_MIN_VERSIONS)))
    suites = inputs.get("tls_cipher_suites")
    if suites in (None, "", []):
        suites = list(TLS_CIPHER_SUITES)
    elif isinstance(suites, str):
        suites = [s.strip() for s in suites.split(",") if s.strip()]
    else:
        suites = list(suites)
    for suite in suites:
        if suite in _WEAK_CIPHER_SUITES:
            raise XinchuangError("TLS cipher suite %s is refused (no forward secrecy or no AEAD): "
                                 "use ECDHE with AES-GCM or CHACHA20-POLY1305, e.g. %s"
                                 % (suite, TLS_CIPHER_SUITES[1]))
        if suite not in TLS_CIPHER_SUITES:
            raise XinchuangError("unknown TLS cipher suite %r: use Go's names, some of %s"
                                 % (suite, ", ".join(TLS_CIPHER_SUITES)))
    return version, suites


def _whole(name, value):
    """VALUE as an int >= 0, or an error naming NAME."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or number < 0 or str(number) != str(value).strip():
        raise XinchuangError("%s %r is not a whole number >= 0" % (name, value))
    return number


def _tls_flags(inputs):
    version, suites = tls_settings(inputs)
    return {"tls-min-version": version, "tls-cipher-suites": ",".join(suites)}


def _etcd(i):
    pki = i["pki_dir"]
    version, suites = tls_settings(i)
    client, peer = str(i.get("etcd_client_port", 2379)), str(i.get("etcd_peer_port", 2380))
    listen = ["127.0.0.1", i["node_ip"]]
    return {
        "name": i["node_name"],
        "data-dir": i["etcd_data_dir"],
        "listen-client-urls": ",".join("https://%s:%s" % (a, client)
                                       for n, a in enumerate(listen) if a not in listen[:n]),
        "advertise-client-urls": "https://%s:%s" % (i["node_ip"], client),
        "listen-peer-urls": "https://%s:%s" % (i["node_ip"], peer),
        "initial-advertise-peer-urls": "https://%s:%s" % (i["node_ip"], peer),
        "initial-cluster": i["etcd_initial_cluster"],
        "initial-cluster-token": "%s-etcd" % i["cluster_name"],
        "initial-cluster-state": "new",
        "client-cert-auth": "true",
        "trusted-ca-file": pki + "/etcd-ca.crt",
        "cert-file": pki + "/etcd-server.crt",
        "key-file": pki + "/etcd-server.key",
        "peer-client-cert-auth": "true",
        "peer-trusted-ca-file": pki + "/etcd-ca.crt",
        "peer-cert-file": pki + "/etcd-peer.crt",
        "peer-key-file": pki + "/etcd-peer.key",
        "snapshot-count": "10000",
        "tls-min-version": _ETCD_TLS_VERSION[version],
        "cipher-suites": ",".join(suites),
    }


def _apiserver(i):
    pki = i["pki_dir"]
    flags = {
        "advertise-address": i["node_ip"],
        "secure-port": str(i["apiserver_port"]),
        "etcd-servers": i["etcd_servers"],
        "etcd-cafile": pki + "/etcd-ca.crt",
        "etcd-certfile": pki + "/apiserver-etcd-client.crt",
        "etcd-keyfile": pki + "/apiserver-etcd-client.key",
        "tls-cert-file": pki + "/apiserver.crt",
        "tls-private-key-file": pki + "/apiserver.key",
        "client-ca-file": pki + "/ca.crt",
        "kubelet-client-certificate": pki + "/apiserver-kubelet-client.crt",
        "kubelet-client-key": pki + "/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "InternalIP,Hostname,ExternalIP",
        "service-cluster-ip-range": i["service_cidr"],
        "service-account-issuer": "https://kubernetes.default.svc." + i["cluster_domain"],
        "service-account-key-file": pki + "/sa.pub",
        "service-account-signing-key-file": pki + "/sa.key",
        "authorization-mode": "Node,RBAC",
        "enable-admission-plugins": "NodeRestriction",
        "allow-privileged": "true",
        "requestheader-client-ca-file": pki + "/front-proxy-ca.crt",
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "proxy-client-cert-file": pki + "/front-proxy-client.crt",
        "proxy-client-key-file": pki + "/front-proxy-client.key",
        "enable-aggregator-routing": "true",
        # Every request authenticates (client certificate, token); health probes too.
        "anonymous-auth": "false",
        # On SIGTERM: answer new requests 429 with Retry-After while those in flight drain, then
        # stop the HTTP server within 2 s. Without it the server stops listening at once and
        # waits out its 60 s shutdown timeout on the open watch connections: every restart of
        # the API server (certs_renew.yml, etcd_restore.yml, upgrade.yml, a changed flag) kept
        # the API away for a minute (measured on the lab: the stop took 60.7 s).
        "shutdown-send-retry-after": "true",
    }
    flags.update(_tls_flags(i))
    if i.get("kubelet_certificate_authority"):
        flags["kubelet-certificate-authority"] = i["kubelet_certificate_authority"]
    if i.get("audit_policy_file"):
        if not i.get("audit_log_path"):
            raise XinchuangError("audit_policy_file %s needs audit_log_path (the file the API server "
                                 "writes the audit log to)" % i["audit_policy_file"])
        flags["audit-policy-file"] = i["audit_policy_file"]
        flags["audit-log-path"] = i["audit_log_path"]
        for name, default in (("maxage", 30), ("maxbackup", 10), ("maxsize", 100)):
            flags["audit-log-" + name] = str(_whole("audit_log_" + name, i.get("audit_log_" + name, default)))
    if i.get("encryption_config_file"):
        flags["encryption-provider-config"] = i["encryption_config_file"]
    return flags


def _controller_manager(i):
    pki, kubeconfig = i["pki_dir"], i["controller_manager_kubeconfig"]
    return dict({
        "kubeconfig": kubeconfig,
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        "client-ca-file": pki + "/ca.crt",
        "requestheader-client-ca-file": pki + "/front-proxy-ca.crt",
        "cluster-name": i["cluster_name"],
        "cluster-signing-cert-file": pki + "/ca.crt",
        "cluster-signing-key-file": pki + "/ca.key",
        "root-ca-file": pki + "/ca.crt",
        "service-account-private-key-file": pki + "/sa.key",
        "use-service-account-credentials": "true",
        "service-cluster-ip-range": i["service_cidr"],
        "allocate-node-cidrs": "true",
        "cluster-cidr": i["pod_cidr"],
        "node-cidr-mask-size": str(i["node_cidr_mask_size"]),
        "leader-elect": "true",
    }, **_tls_flags(i))


def _scheduler(i):
    kubeconfig = i["scheduler_kubeconfig"]
    return dict({
        "kubeconfig": kubeconfig,
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        "leader-elect": "true",
    }, **_tls_flags(i))


_MAKERS = {"etcd": _etcd, "kube-apiserver": _apiserver,
           "kube-controller-manager": _controller_manager, "kube-scheduler": _scheduler}


def component_flags(inputs, component, overrides=None):
    """{flag: value} of ``component`` for ``inputs``, with ``overrides`` over them (a value of
    None drops a flag)."""
    if component not in _MAKERS:
        raise XinchuangError("unknown control plane component %r: one of %s" % (
            component, ", ".join(COMPONENTS)))
    missing = [k for k in _NEEDS[component] if inputs.get(k) in (None, "")]
    if missing:
        raise XinchuangError("the flags of %s need %s" % (component, ", ".join(missing)))
    flags = _MAKERS[component](inputs)
    for key, value in (overrides or {}).items():
        if value is None:
            flags.pop(key, None)
        else:
            flags[key] = value if isinstance(value, str) else json.dumps(value)
    return flags


# --- Audit policy --------------------------------------------------------------------------------

AUDIT_LEVELS = ("None", "Metadata", "Request", "RequestResponse")
_WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection"]


def audit_policy(write_level="Request", default_level="Metadata"):
    """The API server's audit policy (audit.k8s.io/v1 Policy, a dict). First match wins:
    events and the health probes not at all (their volume would drown the rest); writes to
    Secrets and to RBAC objects at ``write_level`` (Request: who changed what, with the request
    body, so a Secret's data lands in the log as it does in etcd, base64 only); everything else,
    reads included, at ``default_level`` (Metadata: who, what, when, no body)."""
    for name, level in (("write_level", write_level), ("default_level", default_level)):
        if level not in AUDIT_LEVELS:
            raise XinchuangError("audit %s %r is not an audit level: one of %s" % (
                name, level, ", ".join(AUDIT_LEVELS)))
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        # One event per request, when its response started or ended.
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "resources": [{"group": "", "resources": ["events"]},
                                            {"group": "events.k8s.io", "resources": ["events"]}]},
            {"level": "None", "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*", "/version"]},
            {"level": write_level, "verbs": list(_WRITE_VERBS),
             "resources": [{"group": "", "resources": ["secrets"]},
                           {"group": "rbac.authorization.k8s.io"}]},
            {"level": default_level},
        ],
    }


# --- Secrets at rest --------------------------------------------------------------------------------

ENCRYPTION_PROVIDERS = ("aescbc", "kmsv2")


def encryption_config(provider="aescbc", key=None, key_name="key1", kms_endpoint=None,
                      kms_name="kms", kms_timeout="3s"):
    """The API server's EncryptionConfiguration (apiserver.config.k8s.io/v1, a dict) for
    Secrets: written with ``provider`` (aescbc with ``key``, the base64 of 32 random bytes; or
    a KMS v2 plugin at ``kms_endpoint``, unix:///path), read with it or, for Secrets written
    before encryption was turned on, as plain data (identity)."""
    if provider == "aescbc":
        if not key:
            raise XinchuangError("aescbc encryption needs its key (the base64 of 32 random bytes, "
                                 "made once on the CA host)")
        try:
            raw = base64.b64decode(key.strip() if isinstance(key, str) else key, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise XinchuangError("the aescbc key is not base64 (make one with: head -c 32 /dev/urandom | base64)")
        if len(raw) != 32:
            raise XinchuangError("the aescbc key is %d bytes, not 32 (make one with: head -c 32 "
                                 "/dev/urandom | base64)" % len(raw))
        if not key_name or not isinstance(key_name, str):
            raise XinchuangError("the aescbc key needs a name (key_name), got %r" % (key_name,))
        first = {"aescbc": {"keys": [{"name": key_name, "secret": base64.b64encode(raw).decode("ascii")}]}}
    elif provider == "kmsv2":
        if not kms_endpoint or not str(kms_endpoint).startswith("unix:///"):
            raise XinchuangError("kmsv2 encryption needs the plugin's socket as kms_endpoint "
                                 "unix:///path/to/socket, got %r" % (kms_endpoint,))
        if not kms_name:
            raise XinchuangError("kmsv2 encryption needs a provider name (kms_name)")
        first = {"kms": {"apiVersion": "v2", "name": kms_name, "endpoint": kms_endpoint,
                         "timeout": kms_timeout}}
    else:
        raise XinchuangError("unknown Secrets encryption provider %r: one of %s" % (
            provider, ", ".join(ENCRYPTION_PROVIDERS)))
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": [first, {"identity": {}}]}],
    }


# --- kubelet ------------------------------------------------------------------------------------------

def kubelet_security(client_ca_file, tls_cert_file=None, tls_key_file=None, tls_min_version=None,
                     tls_cipher_suites=None):
    """The security part of a KubeletConfiguration: no anonymous requests, bearer tokens checked
    with the API server (webhook), client certificates of the cluster CA, every request
    authorized by the API server (Webhook), TLS 1.2+ with the cipher list, and the serving
    certificate the role issues (``tls_cert_file``, ``tls_key_file``; both or neither)."""
    if not client_ca_file:
        raise XinchuangError("the kubelet needs client_ca_file (the cluster CA) to authenticate clients")
    if bool(tls_cert_file) != bool(tls_key_file):
        raise XinchuangError("the kubelet's serving certificate needs both tls_cert_file and tls_key_file, "
                             "got %r and %r" % (tls_cert_file, tls_key_file))
    version, suites = tls_settings({"tls_min_version": tls_min_version, "tls_cipher_suites": tls_cipher_suites})
    config = {
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": client_ca_file}},
        "authorization": {"mode": "Webhook"},
        "tlsMinVersion": version,
        "tlsCipherSuites": suites,
    }
    if tls_cert_file:
        config.update({"tlsCertFile": tls_cert_file, "tlsPrivateKeyFile": tls_key_file})
    return config


def kubeconfig(server, cluster, user, ca, cert, key, namespace=None, embed=False):
    """A kubeconfig (dict) for one client certificate. ``ca``, ``cert`` and ``key`` are paths on
    the host that reads it, or with ``embed`` their contents (PEM text or base64 of it), for a
    copy that leaves the host (the admin's kubeconfig on the controller, the test bed's)."""
    for name, value in (("server", server), ("cluster", cluster), ("user", user)):
        if not value:
            raise XinchuangError("a kubeconfig needs its %s" % name)

    def data(value):
        text = value.decode("ascii") if isinstance(value, bytes) else value
        if "-----BEGIN" in text:
            return base64.b64encode(text.encode("ascii")).decode("ascii")
        return text.strip()

    if embed:
        cluster_auth = {"certificate-authority-data": data(ca)}
        user_auth = {"client-certificate-data": data(cert), "client-key-data": data(key)}
    else:
        cluster_auth = {"certificate-authority": ca}
        user_auth = {"client-certificate": cert, "client-key": key}
    context = {"cluster": cluster, "user": user}
    if namespace:
        context["namespace"] = namespace
    name = "%s@%s" % (user, cluster)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": dict({"server": server}, **cluster_auth)}],
        "users": [{"name": user, "user": user_auth}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
    }


def command_line(flags):
    """``--flag=value`` words, sorted by flag (as the role's units write them)."""
    return ["--%s=%s" % (k, flags[k]) for k in sorted(flags)]


def cli(argv=None):
    """For the test bed:
        flags COMPONENT INPUTS-JSON [OVERRIDES-JSON]   one --flag=value per line
        kubeconfig SERVER CLUSTER USER CA CERT KEY [NAMESPACE]
                                                      JSON (a YAML document) with the files embedded
        audit-policy [WRITE-LEVEL [DEFAULT-LEVEL]]    the audit policy, JSON
        encryption-config KEY-FILE                    aescbc EncryptionConfiguration, JSON (the
                                                      key is read from the file, never argv)
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["flags"] and len(argv) in (3, 4):
            flags = component_flags(json.loads(argv[2]), argv[1],
                                    json.loads(argv[3]) if len(argv) == 4 else None)
            sys.stdout.write("".join(word + "\n" for word in command_line(flags)))
        elif argv[:1] == ["kubeconfig"] and len(argv) in (7, 8):
            files = []
            for path in argv[4:7]:
                with open(path) as fh:
                    files.append(fh.read())
            config = kubeconfig(argv[1], argv[2], argv[3], *files,
                                namespace=argv[7] if len(argv) == 8 else None, embed=True)
            sys.stdout.write(json.dumps(config, indent=2) + "\n")
        elif argv[:1] == ["audit-policy"] and len(argv) <= 3:
            sys.stdout.write(json.dumps(audit_policy(*argv[1:]), indent=2) + "\n")
        elif argv[:1] == ["encryption-config"] and len(argv) == 2:
            with open(argv[1]) as fh:
                key = fh.read()
            sys.stdout.write(json.dumps(encryption_config("aescbc", key), indent=2) + "\n")
        else:
            sys.stderr.write(cli.__doc__)
            return 2
    except (XinchuangError, ValueError, IOError) as exc:
        sys.stderr.write("ERROR: %s\n" % exc)
        return 1
    return 0
