# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes connection options shared by every Kubernetes module of the collection.

The option names follow kubernetes.core (kubeconfig, context, host, api_key, ca_cert,
client_cert, client_key, validate_certs) so a play can set them once for both through
``module_defaults`` and the ``group/xinchuang.cloud.kubernetes`` action group.
Documented by the ``xinchuang.cloud.kube_auth`` doc fragment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json as _json
import os
from urllib.parse import quote as _quote

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


# ---------------------------------------------------------------------------
# Generic REST helpers: list, server-side apply (with dry-run), delete.
#
# They talk to the API with one ApiClient (``api_client(params)``) and build paths
# themselves, so a module that reconciles hundreds of objects pays no discovery and no
# per-object GET: list once per namespace, compare, apply what differs. Safe to call from
# several threads (urllib3's pool is thread-safe).
# ---------------------------------------------------------------------------

class KubeApiError(XinchuangError):
    """The API server answered a request with an error status."""

    def __init__(self, message, status=None, reason=None, details=None):
        super(KubeApiError, self).__init__(message)
        self.status = status
        self.reason = reason
        self.details = details or {}


def guess_plural(kind):
    """Kind -> resource name, by the API machinery's own guess
    (meta.UnsafeGuessKindToResource): lower case, ``-s``/``-x``/``-z``/``-ch``/``-sh`` + es,
    consonant + ``y`` -> ies, else + s. Pass ``plural`` where a CRD differs."""
    low = kind.lower()
    if not low:
        return low
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return low + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


def resource_path(api_version, kind, namespace=None, name=None, plural=None):
    """``apps/v1``, ``Deployment``, ``ns``, ``web`` -> ``/apis/apps/v1/namespaces/ns/deployments/web``.
    ``namespace=None`` lists across all namespaces (or addresses a cluster-scoped object)."""
    base = "/api/%s" % api_version if "/" not in api_version else "/apis/%s" % api_version
    parts = [base]
    if namespace:
        parts.append("namespaces/%s" % _quote(namespace, safe=""))
    parts.append(plural or guess_plural(kind))
    if name:
        parts.append(_quote(name, safe=""))
    return "/".join(parts)


def request_json(client, method, path, query=None, body=None, content_type=None, timeout=None):
    """One request; returns (status, decoded JSON or None). Raises KubeApiError on an error
    status (the server's own message in it) and KubeConnectionError when unreachable."""
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    if body is not None and not isinstance(body, (str, bytes)):
        body = _json.dumps(body)
    try:
        method, url, headers, body, _post = client.param_serialize(
            method, path, query_params=list(query or []), header_params=headers, body=body,
            auth_settings=["BearerToken"])
        response = client.call_api(method, url, header_params=headers, body=body,
                                   _request_timeout=timeout)
        response.read()
    except XinchuangError:
        raise
    except Exception as exc:  # urllib3 / ssl errors
        raise KubeConnectionError(
            "request %s %s to %s failed: %s; check host/kubeconfig, and ca_cert or "
            "validate_certs for TLS errors" % (method, path, client.configuration.host, exc))
    data = None
    if response.data:
        try:
            data = _json.loads(response.data)
        except ValueError:
            data = None
    if not 200 <= response.status <= 299:
        message = (data or {}).get("message") if isinstance(data, dict) else None
        raise KubeApiError(
            "%s %s: HTTP %s %s%s" % (method, path, response.status,
                                     (data or {}).get("reason", response.reason)
                                     if isinstance(data, dict) else response.reason,
                                     ": %s" % message if message else ""),
            status=response.status,
            reason=(data or {}).get("reason") if isinstance(data, dict) else response.reason,
            details=data if isinstance(data, dict) else {})
    return response.status, data


def list_objects(client, api_version, kind, namespace=None, label_selector=None,
                 field_selector=None, plural=None, page_size=500):
    """Every object of a kind in one namespace (or all with ``namespace=None``), paging
    through ``continue`` tokens; returns a list of dicts."""
    path = resource_path(api_version, kind, namespace, plural=plural)
    items = []
    token = None
    while True:
        query = [("limit", page_size)]
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if token:
            query.append(("continue", token))
        _status, data = request_json(client, "GET", path, query)
        items.extend((data or {}).get("items") or [])
        token = ((data or {}).get("metadata") or {}).get("continue")
        if not token:
            return items


def server_side_apply(client, body, field_manager, dry_run=False, force=False, plural=None):
    """Server-side apply ``body`` (a full object with apiVersion, kind, metadata.name and,
    when namespaced, metadata.namespace) as ``field_manager``; returns the object as the
    server stores it (or would, with ``dry_run``). ``force`` takes over fields owned by
    other managers instead of failing with a 409 conflict."""
    meta = body.get("metadata") or {}
    path = resource_path(body["apiVersion"], body["kind"], meta.get("namespace"), meta["name"],
                         plural=plural)
    query = [("fieldManager", field_manager)]
    if force:
        query.append(("force", "true"))
    if dry_run:
        query.append(("dryRun", "All"))
    _status, data = request_json(client, "PATCH", path, query, body=_json.dumps(body),
                                 content_type="application/apply-patch+yaml")
    return data


def delete_object(client, api_version, kind, name, namespace=None, dry_run=False, plural=None):
    """Delete one object; returns False when it was already gone."""
    query = [("dryRun", "All")] if dry_run else []
    try:
        request_json(client, "DELETE", resource_path(api_version, kind, namespace, name, plural),
                     query)
    except KubeApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def server_version(client):
    """The API server's /version document (gitVersion, major, minor ...)."""
    return request_json(client, "GET", "/version")[1] or {}
