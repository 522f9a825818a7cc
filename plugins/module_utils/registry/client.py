# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OCI distribution client and the index reconciler built on it.

Layers, bottom up:
  * ``RegistryClient``: one registry, HTTP basic and the bearer-token flow (distribution's
    htpasswd, Harbor, distribution with a token server), retries with exponential backoff
    that honours ``Retry-After`` for 429 / 5xx / connection faults, and a request counter.
  * ``publish_index`` / ``delete_index`` / ``inspect_references``: what the modules do,
    in as few requests as the protocol allows. The pure decisions (references, platforms,
    index bytes, diffs) live in ``manifest_index.py``.

Why ``requests`` and not ``ansible.module_utils.urls.open_url``: the CA file must be passed
per request (``verify=``) so that it wins over ``REQUESTS_CA_BUNDLE`` and friends, blob
copies between repositories stream, and ``image_manifest_info`` asks in parallel over one
keep-alive connection pool; ``open_url`` opens a fresh connection (and TLS handshake) for
every request.

The same client speaks Harbor's REST API (``harbor_api.py``): one HTTP layer, one place for
TLS, retries and credentials.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import re
import threading
import time

try:
    from http.cookiejar import DefaultCookiePolicy
except ImportError:  # pragma: no cover - Python 2 has no target here
    DefaultCookiePolicy = None

try:
    import requests
    from requests.adapters import HTTPAdapter
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as _err:  # pragma: no cover - the module reports missing_required_lib
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = _err

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

RETRY_STATUS = (429, 500, 502, 503, 504)
# Retry-After values above this are capped: a module must end within a play's patience.
MAX_RETRY_AFTER = 60.0


class RegistryError(XinchuangError):
    """The registry answered something we cannot go on with."""


class RegistryAuthError(RegistryError):
    """401/403: missing or wrong credentials, or a token server refusing them."""


class RegistryTLSError(RegistryError):
    """The TLS handshake or certificate verification failed."""


class RegistryUnavailableError(RegistryError):
    """Connection faults, timeouts, 429 or 5xx that outlasted every retry."""


class ManifestNotFoundError(RegistryError):
    """A source image is not in the registry."""


class ManifestConflictError(RegistryError):
    """The target tag holds something other than an index and replacing it was not asked."""


def registry_argument_spec():
    """Options shared by every registry module (mirrored by doc fragment registry_auth)."""
    return dict(
        registry=dict(type="str", required=True),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        ca_path=dict(type="path"),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="float", default=30.0),
        retries=dict(type="int", default=3),
    )


REGISTRY_REQUIRED_TOGETHER = [["username", "password"]]


def client_from_params(params):
    """A RegistryClient from the options of registry_argument_spec() (and ``concurrency``,
    which sizes the connection pool), as the registry modules receive them."""
    return RegistryClient(
        params["registry"], username=params["username"], password=params["password"],
        ca_path=params["ca_path"], validate_certs=params["validate_certs"],
        timeout=params["timeout"], retries=params["retries"],
        pool_size=max(params.get("concurrency") or 1, 1))


# The options that say how to talk to a registry, not which one: a module that reads images
# from whatever registry their references name takes these as one dict of suboptions.
REGISTRY_CREDENTIAL_OPTIONS = ("username", "password", "ca_path", "validate_certs")


def registry_credentials_argument_spec():
    """The credential options of registry_argument_spec() alone (suboptions of
    canary_weights' ``registry_auth``)."""
    spec = registry_argument_spec()
    return dict((key, spec[key]) for key in REGISTRY_CREDENTIAL_OPTIONS)


def client_for_image_registry(host, credentials=None, timeout=30.0, retries=3):
    """client_from_params() for the registry host of an image reference, with options of
    registry_credentials_argument_spec() (None: anonymous, certificates verified).
    ``docker.io`` is Docker Hub, whose API answers at registry-1.docker.io."""
    spec = registry_credentials_argument_spec()
    credentials = credentials or {}
    params = dict((key, credentials.get(key, spec[key].get("default"))) for key in spec)
    params.update(registry="registry-1.docker.io" if host == "docker.io" else host,
                  timeout=timeout, retries=retries)
    return client_from_params(params)


_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]*))')


def parse_challenge(header):
    """``Bearer realm="..",service="..",scope=".."`` -> ('bearer', {realm, service, scope})."""
    if not header:
        return None, {}
    scheme, _sep, rest = header.strip().partition(" ")
    params = dict((m.group(1).lower(), m.group(2) if m.group(2) is not None else m.group(3))
                  for m in _CHALLENGE_PARAM.finditer(rest))
    return scheme.lower(), params


def retry_after_seconds(value, now=None):
    """Retry-After as seconds (delta-seconds or HTTP-date), or None when absent/unparsable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_delay(attempt, base=0.5, cap=30.0, retry_after=None):
    """Seconds to wait before retry ``attempt`` (0-based); Retry-After wins when given."""
    if retry_after is not None:
        return min(MAX_RETRY_AFTER, max(0.0, retry_after))
    return min(cap, base * (2 ** attempt))


def _error_detail(resp):
    try:
        errors = resp.json().get("errors") or []
        return "; ".join("%s: %s" % (e.get("code"), e.get("message")) for e in errors) or \
            resp.text[:200]
    except ValueError:
        return (resp.text or "")[:200]


class RegistryClient(object):
    """A client of one registry. ``requests`` counts every HTTP request it sends."""

    def __init__(self, registry, username=None, password=None, ca_path=None,
                 validate_certs=True, timeout=30.0, retries=3, session=None,
                 sleep=time.sleep, backoff=0.5, backoff_cap=30.0, pool_size=10):
        if not HAS_REQUESTS:  # pragma: no cover
            raise RegistryError("the Python library 'requests' is missing: %s"
                                % REQUESTS_IMPORT_ERROR)
        value = registry.strip().rstrip("/")
        if value.startswith("http://") or value.startswith("https://"):
            self.base = value
        else:
            self.base = "https://" + value
        self.host = mi.strip_scheme(value)
        self.username = username
        self.password = password
        self.ca_path = ca_path
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            if DefaultCookiePolicy is not None:
                # Harbor answers every request with a session cookie (sid); a client that sends
                # it back is treated as a browser session and its writes are refused with
                # "CSRF token invalid" (goharbor/harbor#10890, #12455). Registries need no
                # cookies at all, so none are kept.
                session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.session = session
        self.requests = 0
        self.writes = 0
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._token = None
        self._scopes = set()
        # Basic credentials are sent up front: distribution with htpasswd then needs no 401
        # round trip. A bearer challenge switches to tokens.
        self._use_basic = bool(username)

    # -- plumbing ---------------------------------------------------------------------

    def add_scope(self, repository, actions="pull"):
        """Declare a repository up front so one token covers every request of the run."""
        with self._lock:
            self._scopes.add("repository:%s:%s" % (repository, actions))

    def _verify(self):
        # Passed per request: requests lets REQUESTS_CA_BUNDLE override Session.verify, but
        # not an explicit path given to the request itself.
        if not self.validate_certs:
            return False
        return self.ca_path or True

    def _count(self, n=1, write=False):
        with self._lock:
            self.requests += n
            if write:
                self.writes += n

    def _count_bytes(self, n):
        with self._lock:
            self.bytes_sent += n

    def _counted(self, chunks):
        for chunk in chunks:
            self._count_bytes(len(chunk))
            yield chunk

    def _body(self, data):
        """Request body with its bytes counted as they are sent (bytes, or an iterable of
        chunks that is streamed)."""
        if data is None:
            return None
        if isinstance(data, (bytes, bytearray)):
            self._count_bytes(len(data))
            return data
        return self._counted(data)

    def _auth_headers(self):
        if self._token:
            return {"Authorization": "Bearer " + self._token}
        return {}

    def _auth(self):
        if self._token is None and self._use_basic:
            return (self.username, self.password)
        return None

    def _fetch_token(self, params, what):
        realm = params.get("realm")
        if not realm:
            raise RegistryAuthError("registry %s asked for a bearer token without a realm "
                                    "while reading %s" % (self.host, what))
        with self._lock:
            scopes = sorted(self._scopes)
        if params.get("scope") and params["scope"] not in scopes:
            scopes.append(params["scope"])
        query = [("scope", s) for s in scopes]
        if params.get("service"):
            query.insert(0, ("service", params["service"]))
        auth = (self.username, self.password) if self.username else None
        self._count()
        try:
            resp = self.session.get(realm, params=query, auth=auth, timeout=self.timeout,
                                    verify=self._verify())
        except requests.exceptions.SSLError as err:
            raise RegistryTLSError("TLS failure talking to the token server %s for %s: %s; set "
                                   "ca_path to the CA that signed it" % (realm, what, err))
        except requests.exceptions.RequestException as err:
            raise RegistryUnavailableError("token server %s did not answer for %s: %s"
                                           % (realm, what, err))
        if resp.status_code in (401, 403):
            raise RegistryAuthError(
                "registry %s rejected the credentials%s (HTTP %s from the token server) while "
                "accessing %s; check username and password"
                % (self.host, " of user %r" % self.username if self.username else
                   " (none given: set username and password)", resp.status_code, what))
        if resp.status_code != 200:
            raise RegistryAuthError("token server %s answered HTTP %s for %s: %s"
                                    % (realm, resp.status_code, what, _error_detail(resp)))
        body = resp.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryAuthError("token server %s returned no token for %s" % (realm, what))
        with self._lock:
            self._token = token

    def request(self, method, path, what, headers=None, data=None, stream=False,
                write=False, replayable=True, absolute=False, passthrough=()):
        """Send one logical request; retries, auth and TLS errors handled. Returns Response.

        ``what`` names the reference for error messages. Only 401 (after auth), 429, 5xx
        and connection faults are handled here; callers judge the other statuses, and those
        of ``passthrough`` (401/403 for an API whose error body says more than a registry's)
        are returned to them instead of raised.
        """
        url = path if absolute else self.base + path
        attempt = 0
        auth_refreshed = False
        while True:
            hdrs = dict(headers or {})
            hdrs.update(self._auth_headers())
            self._count(write=write)
            try:
                resp = self.session.request(
                    method, url, headers=hdrs, data=self._body(data), auth=self._auth(),
                    timeout=self.timeout, verify=self._verify(), stream=stream)
            except requests.exceptions.SSLError as err:
                raise RegistryTLSError(
                    "TLS verification failed for %s at %s: %s; set ca_path to the CA that "
                    "signed the registry's certificate (or validate_certs: false for a lab)"
                    % (what, self.base, err))
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
                if replayable and attempt < self.retries:
                    self._sleep(backoff_delay(attempt, self.backoff, self.backoff_cap))
                    attempt += 1
                    continue
                raise RegistryUnavailableError(
                    "registry %s did not answer %s %s for %s after %d attempt(s): %s"
                    % (self.host, method, path.split("?")[0], what, attempt + 1, err))
            except requests.exceptions.RequestException as err:
                # A streamed body whose source broke off (ChunkedEncodingError ...): not
                # replayable, and the message must still name the reference.
                raise RegistryUnavailableError(
                    "%s %s to registry %s for %s failed: %s"
                    % (method, path.split("?")[0], self.host, what, err))
            if resp.history:  # redirects to blob storage are requests too
                self._count(len(resp.history))
            if resp.status_code == 401:
                scheme, params = parse_challenge(resp.headers.get("WWW-Authenticate"))
                if scheme == "bearer" and not auth_refreshed:
                    resp.close()
                    self._fetch_token(params, what)
                    auth_refreshed = True
                    continue
                if 401 in passthrough:
                    return resp
                raise RegistryAuthError(
                    "registry %s rejected %s (HTTP 401) while accessing %s; %s"
                    % (self.host, "the credentials of user %r" % self.username
                       if self.username else "anonymous access",
                       what, "check username and password" if self.username
                       else "set username and password"))
            if resp.status_code == 403 and 403 not in passthrough:
                raise RegistryAuthError(
                    "registry %s denied %s %s (HTTP 403) for %s: %s; the user %r lacks the "
                    "permission" % (self.host, method, path.split("?")[0], what,
                                    _error_detail(resp), self.username))
            if resp.status_code in RETRY_STATUS and replayable and attempt < self.retries:
                delay = backoff_delay(attempt, self.backoff, self.backoff_cap,
                                      retry_after_seconds(resp.headers.get("Retry-After")))
                resp.close()
                self._sleep(delay)
                attempt += 1
                continue
            if resp.status_code in RETRY_STATUS:
                raise RegistryUnavailableError(
                    "registry %s answered HTTP %s to %s %s for %s after %d attempt(s): %s"
                    % (self.host, resp.status_code, method, path.split("?")[0], what,
                       attempt + 1, _error_detail(resp)))
            return resp

    def _unexpected(self, resp, method, what):
        return RegistryError("registry %s answered HTTP %s to %s for %s: %s"
                             % (self.host, resp.status_code, method, what, _error_detail(resp)))

    # -- manifests ----------------------------------------------------------------------

    def head_manifest(self, ref):
        """Reference -> {digest, media_type, size} or None when absent (404)."""
        path = "/v2/%s/manifests/%s" % (ref.repository, ref.reference)
        resp = self.request("HEAD", path, ref.text, headers={"Accept": mi.MANIFEST_ACCEPT})
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._unexpected(resp, "HEAD", ref.text)
        digest = resp.headers.get("Docker-Content-Digest")
        media_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        if not digest or media_type not in mi.INDEX_TYPES + mi.IMAGE_TYPES:
            # Registries that omit the digest on HEAD (or answer HEAD oddly) get a GET.
            got = self.get_manifest(ref)
            if got is None:
                return None
            return {"digest": got["digest"], "media_type": got["media_type"],
                    "size": len(got["data"])}
        return {"digest": digest, "media_type": media_type,
                "size": int(resp.headers.get("Content-Length") or 0)}

    def get_manifest(self, ref):
        """Reference -> {data, media_type, digest} or None when absent (404)."""
        path = "/v2/%s/manifests/%s" % (ref.repository, ref.reference)
        resp = self.request("GET", path, ref.text, headers={"Accept": mi.MANIFEST_ACCEPT})
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._unexpected(resp, "GET", ref.text)
        data = resp.content
        digest = mi.digest_of(data)
        if ref.digest and ref.digest.startswith("sha256:") and ref.digest != digest:
            raise RegistryError("registry %s returned a manifest for %s whose digest is %s"
                                % (self.host, ref.text, digest))
        media_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        doc_type = mi.parse_manifest(data, "manifest of %s" % ref.text).get("mediaType")
        return {"data": data, "digest": digest, "media_type": doc_type or media_type}

    def put_manifest(self, repository, reference, data, media_type, what):
        """PUT manifest bytes under a tag or digest; returns the digest the registry reports."""
        path = "/v2/%s/manifests/%s" % (repository, reference)
        resp = self.request("PUT", path, what, headers={"Content-Type": media_type},
                            data=data, write=True)
        if resp.status_code not in (200, 201):
            raise self._unexpected(resp, "PUT", what)
        return resp.headers.get("Docker-Content-Digest") or mi.digest_of(data)

    def delete_manifest(self, repository, digest, what):
        resp = self.request("DELETE", "/v2/%s/manifests/%s" % (repository, digest), what,
                            write=True)
        if resp.status_code == 405:
            raise RegistryError(
                "registry %s does not allow deleting manifests (HTTP 405) for %s; enable "
                "deletion (distribution: storage.delete.enabled: true)" % (self.host, what))
        if resp.status_code not in (200, 202, 404):
            raise self._unexpected(resp, "DELETE", what)

    # -- blobs --------------------------------------------------------------------------

    def get_blob(self, repository, digest, what):
        resp = self.request("GET", "/v2/%s/blobs/%s" % (repository, digest), what)
        if resp.status_code == 404:
            raise ManifestNotFoundError("blob %s of %s is missing from repository %s"
                                        % (digest, what, repository))
        if resp.status_code != 200:
            raise self._unexpected(resp, "GET blob", what)
        if mi.digest_of(resp.content) != digest and digest.startswith("sha256:"):
            raise RegistryError("blob %s of %s has the wrong content" % (digest, what))
        return resp.content

    def blob_exists(self, repository, digest, what):
        resp = self.request("HEAD", "/v2/%s/blobs/%s" % (repository, digest), what)
        return resp.status_code == 200

    def _location(self, resp, what):
        loc = resp.headers.get("Location")
        if not loc:
            raise RegistryError("registry %s started an upload for %s without a Location"
                                % (self.host, what))
        if loc.startswith("/"):
            loc = self.base + loc
        return loc

    def _finish_upload(self, location, digest, data, what, replayable=True):
        sep = "&" if "?" in location else "?"
        resp = self.request("PUT", location + sep + "digest=" + digest, what, data=data,
                            headers={"Content-Type": "application/octet-stream"},
                            write=True, replayable=replayable, absolute=True)
        if resp.status_code not in (201, 204):
            raise self._unexpected(resp, "PUT blob", what)

    def blob_chunks(self, repository, digest, what, chunk_size=1 << 20):
        """Stream a blob: the GET is sent when iteration starts (so a caller that never needs
        the data sends nothing)."""
        resp = self.request("GET", "/v2/%s/blobs/%s" % (repository, digest), what, stream=True)
        if resp.status_code != 200:
            resp.close()
            raise ManifestNotFoundError("blob %s of %s is missing from repository %s of "
                                        "registry %s" % (digest, what, repository, self.host))
        yield from resp.iter_content(chunk_size)

    def ensure_blob(self, repository, digest, chunks, what, from_repository=None):
        """Make a blob present in ``repository`` in as few requests as the protocol allows.

        One POST asks to mount it from ``from_repository``; without one, from ``repository``
        itself, which a registry answers with 201 when the blob is already linked there (one
        request instead of a HEAD) and otherwise with the 202 of a new upload (one request
        instead of a HEAD and a POST). Only then ``chunks()`` (a callable giving an iterable
        of bytes) is asked for the data, which the PUT streams. Returns ``present``,
        ``mounted`` or ``uploaded``.
        """
        source = from_repository or repository
        path = "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (repository, digest, source)
        resp = self.request("POST", path, what, write=True)
        if resp.status_code == 201:
            return "present" if source == repository else "mounted"
        if resp.status_code != 202:
            raise self._unexpected(resp, "POST mount", what)
        self._finish_upload(self._location(resp, what), digest, chunks(), what, replayable=False)
        return "uploaded"

    def mount_blob(self, repository, digest, from_repository, what):
        """Cross-repository mount; when the registry declines (202), stream a copy instead."""
        done = self.ensure_blob(
            repository, digest, lambda: self.blob_chunks(from_repository, digest, what), what,
            from_repository=from_repository)
        return "copied" if done == "uploaded" else "mounted"

    def push_blob(self, repository, data, what=None):
        """Monolithic upload of bytes (skipped when the blob is there); returns the digest."""
        digest = mi.digest_of(data)
        what = what or "%s@%s" % (repository, digest)
        if self.blob_exists(repository, digest, what):
            return digest
        resp = self.request("POST", "/v2/%s/blobs/uploads/" % repository, what, write=True)
        if resp.status_code != 202:
            raise self._unexpected(resp, "POST upload", what)
        self._finish_upload(self._location(resp, what), digest, data, what)
        return digest


# ---------------------------------------------------------------------------------------
# What the modules do
# ---------------------------------------------------------------------------------------

def _source_not_found(ref, client):
    return ManifestNotFoundError(
        "source image %s was not found in registry %s (HTTP 404); push it first or fix the "
        "'ref' of that source" % (ref.text, client.host))


def _pick_from_index(client, ref, index_desc, platform, data=None):
    """A source that is itself an index: take its child for ``platform``."""
    if data is None:
        got = client.get_manifest(mi.Reference(ref.repository, digest=index_desc["digest"],
                                               text=ref.text))
        if got is None:
            raise _source_not_found(ref, client)
        data = got["data"]
    every = mi.index_entries(mi.parse_manifest(data, ref.text))
    entries = [e for e in every if e["known"]]
    if platform is not None:
        want = arch.platform_string(platform)
        entries = [e for e in entries if e["platform"] == want]
        if not entries:
            raise ManifestNotFoundError(
                "source %s is an index without platform %s; it has: %s"
                % (ref.text, want, ", ".join(e["platform"] for e in every) or "nothing"))
    elif len(entries) != 1:
        raise mi.ManifestError(
            "source %s is an index of %d platforms (%s); give the source a 'platform' to pick "
            "one" % (ref.text, len(entries), ", ".join(e["platform"] for e in entries)))
    entry = entries[0]
    return ({"digest": entry["digest"], "media_type": entry["media_type"],
             "size": entry["size"]}, mi.normalize_platform(entry["platform"]))


def config_of(client, repository, doc, what):
    """The image config a parsed manifest ``doc`` names (a GET of its blob in ``repository``),
    or None when it names none; ``what`` names the image in errors."""
    digest = (doc.get("config") or {}).get("digest")
    if not digest:
        return None
    return mi.parse_manifest(client.get_blob(repository, digest, what), "config of %s" % what)


def resolve_source(client, ref, platform):
    """One source -> child descriptor dict with its platform and source repository.

    With a platform given and an image manifest at the reference this costs one HEAD;
    without one, a GET of the manifest (instead of the HEAD) and a GET of its config (both
    kept on the child, for _child_manifest and _child_label).
    """
    manifest = config = None
    if platform is None:
        got = client.get_manifest(ref)
        if got is None:
            raise _source_not_found(ref, client)
        desc = {"digest": got["digest"], "media_type": got["media_type"],
                "size": len(got["data"])}
        manifest = got["data"]
    else:
        desc = client.head_manifest(ref)
        if desc is None:
            raise _source_not_found(ref, client)
    if desc["media_type"] in mi.INDEX_TYPES:
        desc, platform = _pick_from_index(client, ref, desc, platform, manifest)
        manifest = None
    elif desc["media_type"] not in mi.IMAGE_TYPES:
        raise mi.ManifestError("source %s has media type %r, not an image manifest"
                               % (ref.text, desc["media_type"]))
    if platform is None:
        if manifest is None:
            got = client.get_manifest(mi.Reference(ref.repository, digest=desc["digest"],
                                                   text=ref.text))
            if got is None:
                raise _source_not_found(ref, client)
            manifest = got["data"]
        config = config_of(client, ref.repository, mi.parse_manifest(manifest, "manifest of %s" % ref.text),
                           ref.text)
        if config is None:
            raise mi.ManifestError("source %s has no config; give it a 'platform'" % ref.text)
        platform = mi.platform_from_config(config, "image config of source %s" % ref.text)
    return {"mediaType": desc["media_type"], "digest": desc["digest"], "size": desc["size"],
            "platform": platform, "source": ref.text, "repository": ref.repository,
            "manifest": manifest, "config": config}


def _summary(entries):
    return [{"platform": arch.platform_string(e["platform"]), "digest": e["digest"],
             "media_type": e["mediaType"], "size": e["size"], "source": e.get("source")}
            for e in sorted(entries, key=lambda m: mi.platform_key(m["platform"]))]


def _state_of(client, target, current, want_details):
    """What the tag holds now, for diff: {digest, media_type, platforms}."""
    if current is None:
        return {"digest": None, "media_type": None, "platforms": {}}
    state = {"digest": current["digest"], "media_type": current["media_type"],
             "platforms": {}}
    if want_details and current["media_type"] in mi.INDEX_TYPES:
        got = client.get_manifest(mi.Reference(target.repository, digest=current["digest"],
                                               text=target.text))
        if got is not None:
            state["platforms"] = mi.platform_map(
                mi.index_entries(mi.parse_manifest(got["data"], target.text)))
    return state


def _conflict(target, current, client, action):
    return ManifestConflictError(
        "tag %s in registry %s holds a single image manifest (%s, %s), not an index; "
        "set force: true to %s it" % (target.text, client.host, current["media_type"],
                                      current["digest"], action))


def _child_manifest(client, child):
    """The parsed manifest of a resolved child: a GET unless it was read already (kept on the
    child for the next reader)."""
    if child.get("manifest") is None:
        got = client.get_manifest(mi.Reference(child["repository"], digest=child["digest"],
                                               text=child["source"]))
        if got is None:
            raise ManifestNotFoundError("child %s of source %s vanished from registry %s"
                                        % (child["digest"], child["source"], client.host))
        child["manifest"] = got["data"]
    return mi.parse_manifest(child["manifest"], "manifest of %s" % child["source"])


def _child_label(client, child, label):
    """The value of ``label`` in the config of a resolved child (read with its manifest, see
    _child_manifest, unless resolve_source kept it), or None when it has no config."""
    if child.get("config") is None:
        child["config"] = config_of(client, child["repository"], _child_manifest(client, child),
                                    child["source"])
    return mi.config_label(child["config"], label) if child["config"] is not None else None


def publish_index(client, repository, tag, sources, fmt="oci", annotations=None,
                  required_platforms=None, force=False, check_mode=False, want_diff=False,
                  same_label=None):
    """Make ``repository:tag`` an index of ``sources``; write only when it differs.

    ``sources``: list of {ref, platform?}. The order of writes is: child manifests of other
    repositories (after mounting their blobs), then the index under the tag, last.
    ``same_label``: a config label every child must carry with one value (refused before any
    write otherwise).
    """
    target = mi.parse_reference("%s:%s" % (repository, tag), registry=client.host)
    parsed = []
    for i, src in enumerate(sources or []):
        ref = mi.parse_reference(src.get("ref"), default_repository=target.repository,
                                 registry=client.host)
        platform = None
        if src.get("platform"):
            platform = mi.normalize_platform(src["platform"], "platform of source %s" % ref.text)
        parsed.append((ref, platform))
    if not parsed:
        raise mi.ManifestError("sources is empty; an index needs at least one image")
    # Duplicates among the platforms given are refused before any request.
    mi.check_duplicates((p, r.text) for r, p in parsed if p is not None)
    for required in required_platforms or []:
        mi.normalize_platform(required, "required platform %r" % (required,))
    if fmt not in mi.FORMATS:
        raise mi.ManifestError("format %r: use one of %s" % (fmt, ", ".join(sorted(mi.FORMATS))))
    if annotations and fmt != "oci":
        raise mi.ManifestError("annotations need format: oci; a Docker manifest list has no "
                               "annotations field")

    client.add_scope(target.repository, "pull,push")
    for ref, _platform in parsed:
        if ref.repository != target.repository:
            client.add_scope(ref.repository, "pull")

    children = [resolve_source(client, ref, platform) for ref, platform in parsed]
    mi.check_duplicates((c["platform"], c["source"]) for c in children)
    missing = mi.missing_platforms([arch.platform_string(c["platform"]) for c in children],
                                   required_platforms)
    if missing:
        raise mi.MissingPlatformError(
            "index %s would miss required platform(s) %s; the sources give %s"
            % (target.text, ", ".join(missing),
               ", ".join(arch.platform_string(c["platform"]) for c in children)))
    label_value = None
    if same_label:
        label_value = mi.check_same_label(target.text, same_label, [
            (arch.platform_string(c["platform"]), c["source"], _child_label(client, c, same_label))
            for c in children])

    data = mi.build_index(children, fmt, annotations)
    digest = mi.digest_of(data)
    media_type = mi.FORMATS[fmt]

    current = client.head_manifest(target)
    if current is not None and current["media_type"] not in mi.INDEX_TYPES and not force:
        raise _conflict(target, current, client, "replace")
    changed = current is None or current["digest"] != digest

    result = {"changed": changed, "digest": digest, "media_type": media_type,
              "platforms": [m["platform"] for m in _summary(children)],
              "manifests": _summary(children),
              "previous_digest": current["digest"] if current else None}
    if same_label:
        result["same_label_value"] = label_value
    if want_diff:
        before = _state_of(client, target, current, changed)
        if not changed:
            before["platforms"] = mi.platform_map(result["manifests"])
        after = {"digest": digest, "media_type": media_type,
                 "platforms": mi.platform_map(result["manifests"])}
        result["diff"] = {"before": before, "after": after}
        result["platform_changes"] = mi.diff_platforms(before["platforms"], after["platforms"])

    if changed and not check_mode:
        for child in children:
            if child["repository"] != target.repository:
                _copy_child(client, child, target)
        stored = client.put_manifest(target.repository, target.tag, data, media_type,
                                     target.text)
        if stored != digest:
            raise RegistryError("registry %s stored the index of %s as %s, expected %s"
                                % (client.host, target.text, stored, digest))
    return result


def _copy_child(client, child, target):
    """Bring a child manifest from another repository into the target one, blobs first."""
    here = mi.Reference(target.repository, digest=child["digest"],
                        text="%s (child %s of %s)" % (child["source"], child["digest"],
                                                      target.text))
    if client.head_manifest(here) is not None:
        return
    doc = _child_manifest(client, child)
    for blob in mi.manifest_blobs(doc):
        client.mount_blob(target.repository, blob, child["repository"], child["source"])
    client.put_manifest(target.repository, child["digest"], child["manifest"], child["mediaType"],
                        here.text)


def delete_index(client, repository, tag, force=False, check_mode=False, want_diff=False):
    """Remove what ``repository:tag`` points at (by digest: distribution deletes by digest)."""
    target = mi.parse_reference("%s:%s" % (repository, tag), registry=client.host)
    client.add_scope(target.repository, "pull,push,delete")
    current = client.head_manifest(target)
    result = {"changed": current is not None, "digest": None, "media_type": None,
              "platforms": [], "manifests": [],
              "previous_digest": current["digest"] if current else None}
    if current is not None and current["media_type"] not in mi.INDEX_TYPES and not force:
        raise _conflict(target, current, client, "delete")
    if want_diff:
        before = _state_of(client, target, current, True)
        result["diff"] = {"before": before,
                          "after": {"digest": None, "media_type": None, "platforms": {}}}
        result["platform_changes"] = mi.diff_platforms(before["platforms"], {})
    if current is not None and not check_mode:
        client.delete_manifest(target.repository, current["digest"], target.text)
    return result


def inspect_reference(client, ref, required_platforms=None):
    """One reference -> {ref, exists, media_type, digest, platforms, manifests, missing}."""
    out = {"ref": ref.text, "exists": False, "media_type": None, "digest": None,
           "platforms": [], "manifests": [], "missing_platforms": []}
    got = client.get_manifest(ref)
    if got is not None:
        out.update(exists=True, media_type=got["media_type"], digest=got["digest"])
        doc = mi.parse_manifest(got["data"], "manifest of %s" % ref.text)
        if got["media_type"] in mi.INDEX_TYPES:
            entries = mi.index_entries(doc)
        else:
            config = config_of(client, ref.repository, doc, ref.text) or {}
            try:
                platform = arch.platform_string(
                    mi.platform_from_config(config, "config of %s" % ref.text))
                known = True
            except XinchuangError:
                platform = "/".join(v for v in (config.get("os"), config.get("architecture"),
                                                config.get("variant")) if v) or "unknown"
                known = False
            entries = [{"platform": platform, "digest": got["digest"],
                        "media_type": got["media_type"], "size": len(got["data"]),
                        "known": known}]
        out["manifests"] = entries
        out["platforms"] = [e["platform"] for e in entries if e["known"]]
    if required_platforms:
        out["missing_platforms"] = mi.missing_platforms(out["platforms"], required_platforms)
    return out


def inspect_references(client, references, required_platforms=None, concurrency=4):
    """Many references, at most ``concurrency`` in flight; results in the input order."""
    from concurrent.futures import ThreadPoolExecutor

    refs = [mi.parse_reference(r, registry=client.host) for r in references]
    for required in required_platforms or []:
        mi.normalize_platform(required, "required platform %r" % (required,))
    for ref in refs:
        client.add_scope(ref.repository, "pull")
    if not refs:
        return []
    workers = max(1, min(int(concurrency), len(refs)))
    if workers == 1:
        return [inspect_reference(client, r, required_platforms) for r in refs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda r: inspect_reference(client, r, required_platforms), refs))


def reconcile_many(client, specs, state="present", defaults=None, concurrency=4,
                   check_mode=False, want_diff=False):
    """Several indexes in one go (a catalogue), at most ``concurrency`` at a time.

    ``specs``: list of {repository, tag, sources?, format?, annotations?,
    required_platforms?, force?, same_label?}; missing keys come from ``defaults``. Every index is
    reconciled on its own (its own PUT last), so one failure does not stop the others.
    Returns (results, errors): results in the input order (None where it failed), errors
    as messages naming the index.
    """
    from concurrent.futures import ThreadPoolExecutor

    defaults = defaults or {}

    def one(spec):
        opts = dict(defaults)
        opts.update(dict((k, v) for k, v in spec.items() if v is not None))
        name = "%s:%s" % (opts.get("repository"), opts.get("tag"))
        try:
            if state == "absent":
                out = delete_index(client, opts["repository"], opts["tag"],
                                   force=opts.get("force", False), check_mode=check_mode,
                                   want_diff=want_diff)
            else:
                if not opts.get("sources"):
                    raise mi.ManifestError("index %s has no sources; state present needs them"
                                           % name)
                out = publish_index(
                    client, opts["repository"], opts["tag"], opts["sources"],
                    fmt=opts.get("format") or "oci", annotations=opts.get("annotations"),
                    required_platforms=opts.get("required_platforms"),
                    force=opts.get("force", False), check_mode=check_mode,
                    want_diff=want_diff, same_label=opts.get("same_label"))
            out["repository"], out["tag"] = opts["repository"], opts["tag"]
            return out, None
        except XinchuangError as err:
            return None, "%s: %s" % (name, err)

    workers = max(1, min(int(concurrency), len(specs) or 1))
    if workers == 1:
        pairs = [one(s) for s in specs]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pairs = list(pool.map(one, specs))
    return [p[0] for p in pairs], [p[1] for p in pairs if p[1]]
