# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# Apache License 2.0 (see LICENSE)
"""Kubernetes connection options shared by every Kubernetes module of the collection.

The option names follow kubernetes.core (kubeconfig, context, host, api_key, ca_cert,
client_cert, client_key, validate_certs) so a play can set them once for both through
``module_defaults`` and the ``group/xinchuang.cloud.kubernetes`` action group.
Documented by the ``xinchuang.cloud.kube_auth`` doc fragment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.xinchuang.cloud.plugins.module_utils.errors import XinchuangError

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.dynamic import DynamicClient

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module through missing_required_lib
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc


class KubeConnectionError(XinchuangError):
    """The API server could not be reached or the credentials were refused."""


KUBE_AUTH_ARGSPEC = dict(
    kubeconfig=dict(type="raw", no_log=False),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"]),
    client_cert=dict(type="path", aliases=["cert_file"]),
    client_key=dict(type="path", aliases=["key_file"], no_log=False),
    validate_certs=dict(type="bool", aliases=["verify_ssl"]),
)

# Same environment fallbacks as kubernetes.core, so AWX credentials work unchanged.
_ENV = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
}


def kube_auth_argument_spec():
    """A fresh copy of the shared options, for a module's argument_spec."""
    return dict((k, dict(v)) for k, v in KUBE_AUTH_ARGSPEC.items())


def _with_env(params):
    merged = {}
    for key in KUBE_AUTH_ARGSPEC:
        value = params.get(key)
        if value is None and os.environ.get(_ENV[key]):
            value = os.environ[_ENV[key]]
            if key == "validate_certs":
                value = value.lower() not in ("0", "false", "no", "off")
        merged[key] = value
    return merged


def api_client(params):
    """Build a kubernetes.client.ApiClient from the module's connection options.

    Order: explicit host (+ api_key / client certs) > kubeconfig (path or dict) >
    in-cluster service account > ~/.kube/config. TLS verification stays on unless
    validate_certs is false.
    """
    if not HAS_KUBERNETES:
        raise KubeConnectionError(
            "the Python 'kubernetes' package is required on the host that runs this module: "
            "pip install kubernetes (import error: %s)" % KUBERNETES_IMPORT_ERROR)
    opts = _with_env(params)
    configuration = k8s_client.Configuration()
    kubeconfig = opts["kubeconfig"]
    try:
        if isinstance(kubeconfig, dict):
            k8s_config.load_kube_config_from_dict(
                kubeconfig, context=opts["context"], client_configuration=configuration)
        elif kubeconfig:
            path = os.path.expanduser(str(kubeconfig))
            if not os.path.exists(path):
                raise KubeConnectionError(
                    "kubeconfig %r does not exist; give the path of a kubeconfig file "
                    "(option kubeconfig or K8S_AUTH_KUBECONFIG)" % path)
            k8s_config.load_kube_config(
                config_file=path, context=opts["context"], client_configuration=configuration)
        elif not opts["host"]:
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                k8s_config.load_incluster_config(client_configuration=configuration)
            else:
                k8s_config.load_kube_config(
                    context=opts["context"], client_configuration=configuration)
    except KubeConnectionError:
        raise
    except Exception as exc:  # the client raises ConfigException and friends
        raise KubeConnectionError(
            "could not load the Kubernetes configuration (kubeconfig %r, context %r): %s"
            % (kubeconfig if not isinstance(kubeconfig, dict) else "<dict>",
               opts["context"], exc))
    if opts["host"]:
        configuration.host = opts["host"]
    if opts["api_key"]:
        configuration.api_key = {"authorization": "Bearer " + opts["api_key"]}
    if opts["ca_cert"]:
        configuration.ssl_ca_cert = opts["ca_cert"]
    if opts["client_cert"]:
        configuration.cert_file = opts["client_cert"]
    if opts["client_key"]:
        configuration.key_file = opts["client_key"]
    if opts["validate_certs"] is not None:
        configuration.verify_ssl = bool(opts["validate_certs"])
    return k8s_client.ApiClient(configuration)


def dynamic_client(params):
    """A kubernetes.dynamic.DynamicClient (the former openshift client) for the options."""
    client = api_client(params)
    try:
        return DynamicClient(client)
    except Exception as exc:  # discovery is the first request: bad host/credentials show here
        raise KubeConnectionError(
            "could not reach the Kubernetes API server at %s: %s; check host/kubeconfig, "
            "and ca_cert or validate_certs for TLS errors" % (client.configuration.host, exc))
