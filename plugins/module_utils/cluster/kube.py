# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the collection's modules talk to a Kubernetes API server.

- Connection options shared by every Kubernetes module. The names follow kubernetes.core
  (kubeconfig, context, host, api_key, ca_cert, client_cert, client_key, validate_certs), so
  a play sets them once for both through ``module_defaults`` and the
  ``group/xinchuang.cloud.kubernetes`` action group; documented by the
  ``xinchuang.cloud.kube_auth`` doc fragment.
- Resource names from the server's discovery documents, never guessed from the kind.
- Reads (list, get), writes by server-side apply only - one field-manager option, one
  conflict policy, check mode as a server-side dry run - and delete.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json as _json
import os
import threading
import weakref
from collections import namedtuple
from urllib.parse import quote as _quote

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

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


def apply_argument_spec(field_manager, force_conflicts=False):
    """The write options of every Kubernetes module: ``field_manager`` (defaulting to the
    module's name) and ``force_conflicts``. The module documents them with its defaults."""
    return dict(
        field_manager=dict(type="str", default=field_manager),
        force_conflicts=dict(type="bool", default=force_conflicts),
    )


# ---------------------------------------------------------------------------
# Requests. One ApiClient (``api_client(params)``); paths built here, so a module that
# reconciles hundreds of objects pays one discovery request per API group version and no
# per-object GET: list once per namespace, compare, apply what differs. Safe to call from
# several threads (urllib3's pool is thread-safe, the discovery cache is locked).
# ---------------------------------------------------------------------------

class KubeApiError(XinchuangError):
    """The API server answered a request with an error status."""

    def __init__(self, message, status=None, reason=None, details=None):
        super(KubeApiError, self).__init__(message)
        self.status = status
        self.reason = reason
        self.details = details or {}


class KubeNotServedError(KubeApiError):
    """The server does not serve the API group version or the kind (a CRD is missing)."""


class KubeConflictError(KubeApiError):
    """Server-side apply refused: another field manager owns fields this apply changes."""


class KubeModifiedError(KubeApiError):
    """The object changed after it was read (its resourceVersion moved): read it again."""


class FieldOwnedError(XinchuangError):
    """A field to remove is set by another field manager: an apply can only drop its own."""


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
        status = data if isinstance(data, dict) else {}
        message = status.get("message")
        raise KubeApiError(
            "%s %s: HTTP %s %s%s" % (method, path, response.status,
                                     status.get("reason", response.reason),
                                     ": %s" % message if message else ""),
            status=response.status, reason=status.get("reason", response.reason),
            details=status)
    return response.status, data


# --- discovery ----------------------------------------------------------------------------

ApiResource = namedtuple("ApiResource", "name namespaced")

_DISCOVERY = weakref.WeakKeyDictionary()  # ApiClient -> {api_version: [APIResource] or None}
_DISCOVERY_LOCK = threading.Lock()


def api_resource(client, api_version, kind):
    """The resource serving ``kind`` in ``api_version``: its plural name and whether it is
    namespaced, from the server's discovery document (one request per group version and
    client). Raises KubeNotServedError when the server does not serve it."""
    with _DISCOVERY_LOCK:
        cache = _DISCOVERY.setdefault(client, {})
        if api_version not in cache:
            path = "/api/%s" % api_version if "/" not in api_version else "/apis/%s" % api_version
            try:
                cache[api_version] = (request_json(client, "GET", path)[1] or {}).get(
                    "resources") or []
            except KubeApiError as exc:
                if exc.status != 404:
                    raise
                cache[api_version] = None
        resources = cache[api_version]
    for resource in resources or ():
        # "deployments/scale" and friends are subresources, not the kind's own resource.
        if resource.get("kind") == kind and "/" not in resource.get("name", ""):
            return ApiResource(resource["name"], bool(resource.get("namespaced")))
    raise KubeNotServedError(
        "the API server does not serve %s %s%s" % (
            api_version, kind, "" if resources is None else
            " (the group version has no such kind)"), status=404)


def resource_path(client, api_version, kind, namespace=None, name=None):
    """``apps/v1``, ``Deployment``, ``ns``, ``web`` -> ``/apis/apps/v1/namespaces/ns/deployments/web``.
    ``namespace=None`` lists across all namespaces (or addresses a cluster-scoped object)."""
    resource = api_resource(client, api_version, kind)
    parts = ["/api/%s" % api_version if "/" not in api_version else "/apis/%s" % api_version]
    if namespace and resource.namespaced:
        parts.append("namespaces/%s" % _quote(namespace, safe=""))
    parts.append(resource.name)
    if name:
        parts.append(_quote(name, safe=""))
    return "/".join(parts)


# --- reads --------------------------------------------------------------------------------

def list_objects(client, api_version, kind, namespace=None, label_selector=None,
                 field_selector=None, page_size=500):
    """Every object of a kind in one namespace (or all with ``namespace=None``), paging
    through ``continue`` tokens; returns a list of dicts."""
    path = resource_path(client, api_version, kind, namespace)
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
        for item in (data or {}).get("items") or []:
            # list items carry neither; the objects a GET returns do
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
            items.append(item)
        token = ((data or {}).get("metadata") or {}).get("continue")
        if not token:
            return items


def get_object(client, api_version, kind, name, namespace=None):
    """One object as a dict, or None when it does not exist."""
    try:
        return request_json(client, "GET",
                            resource_path(client, api_version, kind, namespace, name))[1]
    except KubeApiError as exc:
        if exc.status == 404 and not isinstance(exc, KubeNotServedError):
            return None
        raise


# --- writes -------------------------------------------------------------------------------

def describe(obj):
    """How messages name an object: ``HTTPRoute shop/web``."""
    meta = obj.get("metadata") or {}
    where = "%s/%s" % (meta["namespace"], meta.get("name")) if meta.get("namespace") \
        else meta.get("name")
    return "%s %s" % (obj.get("kind"), where)


def conflict_error(body, field_manager, exc):
    """The 409 of an apply as one of the two things it means, with the fix."""
    causes = [c for c in (exc.details.get("details") or {}).get("causes") or []
              if c.get("reason") == "FieldManagerConflict"]
    if causes:
        return KubeConflictError(
            "%s: %s own fields this apply (field manager %s) changes: %s; set "
            "force_conflicts: true to take them over, or leave them to their manager" % (
                describe(body),
                ", ".join(sorted(set(c.get("message", "another field manager") for c in causes))),
                field_manager, ", ".join(c.get("field", "?") for c in causes)),
            status=409, reason=exc.reason, details=exc.details)
    return KubeModifiedError(
        "%s changed after it was read (%s); read it again" % (describe(body), exc),
        status=409, reason=exc.reason, details=exc.details)


def server_side_apply(client, body, field_manager, dry_run=False, force=False):
    """Server-side apply ``body`` (apiVersion, kind, metadata.name and, when namespaced,
    metadata.namespace, plus the fields this manager sets) as ``field_manager``; returns the
    object as the server stores it (or would, with ``dry_run``: check mode).

    The conflict policy of every module: a field another manager owns is taken over only
    with ``force`` (the module option ``force_conflicts``), else KubeConflictError names
    the managers, the fields and that option. A ``metadata.resourceVersion`` in ``body``
    makes the apply conditional: KubeModifiedError when the object moved since it was read.
    """
    meta = body.get("metadata") or {}
    path = resource_path(client, body["apiVersion"], body["kind"], meta.get("namespace"),
                         meta["name"])
    query = [("fieldManager", field_manager)]
    if force:
        query.append(("force", "true"))
    if dry_run:
        query.append(("dryRun", "All"))
    try:
        _status, data = request_json(client, "PATCH", path, query, body=_json.dumps(body),
                                     content_type="application/apply-patch+yaml")
    except KubeApiError as exc:
        if exc.status == 409:
            raise conflict_error(body, field_manager, exc)
        raise
    return data


def delete_object(client, api_version, kind, name, namespace=None, dry_run=False):
    """Delete one object; returns False when it was already gone."""
    query = [("dryRun", "All")] if dry_run else []
    try:
        request_json(client, "DELETE", resource_path(client, api_version, kind, namespace, name),
                     query)
    except KubeApiError as exc:
        if exc.status == 404 and not isinstance(exc, KubeNotServedError):
            return False
        raise
    return True


def server_version(client):
    """The API server's /version document (gitVersion, major, minor ...)."""
    return request_json(client, "GET", "/version")[1] or {}


def pod_exec(client, namespace, pod, container, argv, stdin=None, timeout=120):
    """Run ``argv`` in a container of a running Pod (the exec subresource, as ``kubectl exec``);
    ``stdin`` (text) is written to its input, which is then closed (the v5 stream protocol,
    Kubernetes >= 1.30). Returns (exit code, stdout, stderr). The command goes into the
    request's URL (and so the API server's audit log): secrets go through ``stdin`` only."""
    from kubernetes import client as k8s_client_module  # pylint: disable=import-outside-toplevel
    from kubernetes.stream import stream  # pylint: disable=import-outside-toplevel
    from kubernetes.stream.ws_client import ERROR_CHANNEL, STDIN_CHANNEL  # pylint: disable=import-outside-toplevel

    core = k8s_client_module.CoreV1Api(client)
    try:
        resp = stream(core.connect_get_namespaced_pod_exec, pod, namespace, container=container,
                      command=list(argv), stdin=stdin is not None, stdout=True, stderr=True, tty=False,
                      _preload_content=False, _request_timeout=timeout)
    except Exception as exc:  # the client raises ApiException or websocket errors
        raise KubeApiError("exec in pod %s/%s (container %s) failed: %s; check that the Pod runs and that "
                           "these credentials may create pods/exec" % (namespace, pod, container, exc),
                           status=getattr(exc, "status", None))
    try:
        if stdin is not None:
            resp.write_stdin(stdin)
            resp.close_channel(STDIN_CHANNEL)
        resp.run_forever(timeout=timeout)
        still_running = resp.is_open()
        out, err = resp.read_stdout() or "", resp.read_stderr() or ""
        status = resp.read_channel(ERROR_CHANNEL) or ""
    finally:
        resp.close()
    if still_running or not status:
        raise KubeApiError("exec in pod %s/%s (container %s) gave no exit status within %ss"
                           % (namespace, pod, container, timeout))
    code, message = exec_status(status)
    return code, out, (err + message) if message else err


def exec_status(text):
    """The exec stream's status (a metav1.Status, as JSON) -> (exit code, message): 0 on Success,
    the code of a NonZeroExitCode, else 126 (the command did not run) with the server's message."""
    try:
        status = _json.loads(text)
    except ValueError:
        return 126, text
    if status.get("status") == "Success":
        return 0, ""
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message")), ""
            except (TypeError, ValueError):
                break
    return 126, status.get("message") or text


# ---------------------------------------------------------------------------
# Apply configurations. An apply sends the fields its manager sets, and the server drops
# the fields that manager set before and no longer sends (when nobody else set them). So a
# module that changes a few fields of an object others wrote (a route's weights) sends
# exactly: the fields it already owns, plus those it changes; and it can remove only fields
# it alone owns. Pure functions over the object as read (its managedFields).
# ---------------------------------------------------------------------------

def _fields_v1(entry, path):
    node = entry.get("fieldsV1") or {}
    for part in path:
        node = node.get("f:" + part)
        if not isinstance(node, dict):
            return {}
    return node


def field_owners(obj, path, key):
    """Managers recorded for ``path + [key]`` of ``obj``, as (manager, operation) pairs."""
    out = []
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if "f:" + key in _fields_v1(entry, path):
            out.append((entry.get("manager"), entry.get("operation")))
    return out


def applied_keys(obj, field_manager, path):
    """Keys under ``path`` (``("metadata", "annotations")``, ``("spec",)``) that
    ``field_manager`` owns by apply in ``obj``."""
    keys = set()
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == field_manager and entry.get("operation") == "Apply":
            keys.update(k[2:] for k in _fields_v1(entry, path) if k.startswith("f:"))
    return keys


def _apply_part(current, desired, field_manager, path, only=None):
    """{key: value} of the mapping at ``path`` to send (keys in ``only``, when given); raises
    FieldOwnedError for a key ``desired`` drops that another manager set (an apply cannot
    remove it, and the next run would find it again)."""
    def at(obj):
        node = obj or {}
        for part in path:
            node = node.get(part) or {}
        return dict((k, v) for k, v in node.items() if only is None or k in only)

    have, want = at(current), at(desired)
    mine = applied_keys(current, field_manager, path)
    for key in have:
        if key in want:
            continue
        others = [o for o in field_owners(current, path, key) if o != (field_manager, "Apply")]
        if others or key not in mine:
            raise FieldOwnedError(
                "%s: %s.%s is set by %s, so field manager %s cannot remove it; remove it with "
                "the tool that set it, or keep it" % (
                    describe(current), ".".join(path), key,
                    ", ".join("%s (%s)" % o for o in others) or "no recorded field manager",
                    field_manager))
    return dict((k, v) for k, v in want.items() if k in mine or have.get(k) != v)


def apply_configuration(current, desired, field_manager, spec_fields=None):
    """The apply body that turns ``current`` (None: the object is new) into ``desired``
    for the labels, annotations and spec fields (``spec_fields``; None: all of the spec)
    that ``field_manager`` sets: what it owns already plus what changes. It carries the
    resourceVersion read, so the write fails (KubeModifiedError) if the object moved."""
    meta = desired.get("metadata") or {}
    body = {"apiVersion": desired["apiVersion"], "kind": desired["kind"],
            "metadata": {"name": meta["name"]}}
    if meta.get("namespace"):
        body["metadata"]["namespace"] = meta["namespace"]
    if current is not None:
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    for field in ("labels", "annotations"):
        part = _apply_part(current, desired, field_manager, ("metadata", field))
        if part:
            body["metadata"][field] = part
    part = _apply_part(current, desired, field_manager, ("spec",), spec_fields)
    if part:
        body["spec"] = part
    return body
