# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control plane's programs as the kubernetes role runs them: the command-line flags of
etcd, kube-apiserver, kube-controller-manager and kube-scheduler from one set of inputs, and
the kubeconfig of a client certificate.

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
import json
import sys

from ansible_collections.xinchuang.cloud.plugins.module_utils.errors import XinchuangError

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


def _etcd(i):
    pki = i["pki_dir"]
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
    }


def _apiserver(i):
    pki = i["pki_dir"]
    return {
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
    }


def _controller_manager(i):
    pki, kubeconfig = i["pki_dir"], i["controller_manager_kubeconfig"]
    return {
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
    }


def _scheduler(i):
    kubeconfig = i["scheduler_kubeconfig"]
    return {
        "kubeconfig": kubeconfig,
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        "leader-elect": "true",
    }


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
        else:
            sys.stderr.write(cli.__doc__)
            return 2
    except (XinchuangError, ValueError, IOError) as exc:
        sys.stderr.write("ERROR: %s\n" % exc)
        return 1
    return 0
