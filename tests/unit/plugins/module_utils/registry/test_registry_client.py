"""RegistryClient without a registry: retries, Retry-After, auth flows, TLS, CA per request,
and the request budget of publish_index against an in-memory registry."""

import json

import pytest
import requests
from hypothesis import given, strategies as st
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg


class FakeResponse(object):
    def __init__(self, status, headers=None, body=b""):
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers or {})
        self.content = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.text = self.content.decode()
        self.history = []

    def json(self):
        return json.loads(self.content)

    def close(self):
        pass

    def iter_content(self, size):
        yield self.content


class FakeSession(object):
    """Answers from a handler(method, url, headers, data, auth) -> FakeResponse or exception."""

    def __init__(self, handler, token_handler=None):
        self.handler = handler
        self.token_handler = token_handler
        self.calls = []
        self.token_calls = []

    def request(self, method, url, headers=None, data=None, auth=None, timeout=None,
                verify=None, stream=False):
        self.calls.append({"method": method, "url": url, "headers": dict(headers or {}),
                           "auth": auth, "verify": verify, "data": data})
        out = self.handler(method, url, headers or {}, data, auth)
        if isinstance(out, Exception):
            raise out
        return out

    def get(self, url, params=None, auth=None, timeout=None, verify=None):
        self.token_calls.append({"url": url, "params": params, "auth": auth})
        return self.token_handler(url, params, auth)


def client(handler, sleeps=None, **kwargs):
    slept = sleeps if sleeps is not None else []
    session = FakeSession(handler, kwargs.pop("token_handler", None))
    args = dict(username="u", password="p", ca_path="/ca.pem", retries=3,
                session=session, sleep=slept.append)
    args.update(kwargs)
    return reg.RegistryClient("registry.example:5000", **args), session, slept


def scripted(*answers):
    queue = list(answers)

    def handler(method, url, headers, data, auth):
        return queue.pop(0)
    return handler


REF = mi.parse_reference("lib/app:1.0")


def test_503_with_retry_after_then_201():
    c, session, slept = client(scripted(FakeResponse(503, {"Retry-After": "2"}),
                                        FakeResponse(201, {"Docker-Content-Digest": "sha256:x"})))
    assert c.put_manifest("lib/app", "1.0", b"{}", mi.OCI_INDEX, "lib/app:1.0") == "sha256:x"
    assert slept == [2.0]
    assert c.requests == 2 and c.writes == 2


def test_429_with_http_date_retry_after(monkeypatch):
    monkeypatch.setattr(reg.time, "time", lambda: 1700000000.0)
    when = "Tue, 14 Nov 2023 22:13:25 GMT"  # 5 s after 1700000000
    c, _session, slept = client(scripted(FakeResponse(429, {"Retry-After": when}),
                                         FakeResponse(404)))
    assert c.head_manifest(REF) is None
    assert slept == [pytest.approx(5.0)]


def test_connection_faults_back_off_exponentially_then_fail_naming_the_reference():
    err = requests.exceptions.ConnectionError("refused")
    c, _session, slept = client(lambda *a: err, retries=3)
    with pytest.raises(reg.RegistryUnavailableError) as exc:
        c.head_manifest(REF)
    assert "lib/app:1.0" in str(exc.value) and "4 attempt" in str(exc.value)
    assert slept == [0.5, 1.0, 2.0]
    assert c.requests == 4


def test_timeouts_are_retried():
    c, _session, slept = client(scripted(requests.exceptions.ReadTimeout("slow"), FakeResponse(404)))
    assert c.head_manifest(REF) is None and slept == [0.5]


def test_5xx_outlasting_retries():
    c, _session, slept = client(lambda *a: FakeResponse(502), retries=1)
    with pytest.raises(reg.RegistryUnavailableError, match="HTTP 502.*lib/app:1.0"):
        c.head_manifest(REF)
    assert c.requests == 2


def test_streamed_bodies_are_not_replayed():
    c = client(lambda *a: FakeResponse(503))[0]
    with pytest.raises(reg.RegistryUnavailableError):
        c.request("PUT", "/v2/x/blobs/uploads/1", "x", data=iter([b"a"]), replayable=False)
    assert c.requests == 1


@given(st.integers(0, 20), st.one_of(st.none(), st.floats(0, 10 ** 6)))
def test_backoff_is_bounded(attempt, retry_after):
    delay = reg.backoff_delay(attempt, 0.5, 30.0, retry_after)
    assert 0 <= delay <= max(30.0, reg.MAX_RETRY_AFTER)
    if retry_after is not None:
        assert delay == min(reg.MAX_RETRY_AFTER, retry_after)


def test_basic_credentials_are_sent_up_front():
    c, session, _slept = client(scripted(FakeResponse(404)))
    c.head_manifest(REF)
    assert session.calls[0]["auth"] == ("u", "p")
    assert c.requests == 1


def test_wrong_basic_credentials_name_user_not_password():
    c = client(lambda *a: FakeResponse(401, {"WWW-Authenticate": 'Basic realm="r"'}),
               password="hunter2")[0]
    with pytest.raises(reg.RegistryAuthError) as exc:
        c.head_manifest(REF)
    assert "'u'" in str(exc.value) and "lib/app:1.0" in str(exc.value)
    assert "hunter2" not in str(exc.value)


def test_bearer_flow_asks_one_token_for_every_declared_scope():
    challenge = ('Bearer realm="https://auth.example/token",service="harbor",'
                 'scope="repository:lib/app:pull"')

    def handler(method, url, headers, data, auth):
        if headers.get("Authorization") == "Bearer T":
            return FakeResponse(404)
        return FakeResponse(401, {"WWW-Authenticate": challenge})

    def token(url, params, auth):
        return FakeResponse(200, body={"token": "T"})

    c, session, _slept = client(handler, token_handler=token)
    c.add_scope("lib/app", "pull,push")
    c.add_scope("build/x", "pull")
    assert c.head_manifest(REF) is None
    assert c.head_manifest(mi.parse_reference("build/x:1")) is None
    assert len(session.token_calls) == 1
    params = session.token_calls[0]["params"]
    assert ("service", "harbor") in params
    assert {v for k, v in params if k == "scope"} == {
        "repository:lib/app:pull,push", "repository:build/x:pull", "repository:lib/app:pull"}
    assert session.token_calls[0]["auth"] == ("u", "p")
    assert c.requests == 4  # 401, token, retried HEAD, second HEAD with the cached token


def test_token_server_refusing_credentials():
    c = client(lambda *a: FakeResponse(401, {
        "WWW-Authenticate": 'Bearer realm="https://auth.example/token"'}),
        token_handler=lambda *a: FakeResponse(401))[0]
    with pytest.raises(reg.RegistryAuthError, match="rejected the credentials of user 'u'"):
        c.head_manifest(REF)


def test_tls_failure_names_the_fix():
    c = client(lambda *a: requests.exceptions.SSLError("certificate verify failed"))[0]
    with pytest.raises(reg.RegistryTLSError, match="lib/app:1.0.*ca_path"):
        c.head_manifest(REF)
    assert c.requests == 1  # TLS failures are not retried


class CaptureAdapter(BaseAdapter):
    def __init__(self):
        super(CaptureAdapter, self).__init__()
        self.verify = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.verify.append(verify)
        resp = requests.Response()
        resp.status_code = 404
        resp._content = b""
        resp.request = request
        return resp

    def close(self):
        pass


@pytest.mark.parametrize("kwargs,expected", [
    ({"ca_path": "/etc/xc/ca.pem"}, "/etc/xc/ca.pem"),
    ({"validate_certs": False}, False),
])
def test_ca_path_wins_over_requests_ca_bundle(monkeypatch, kwargs, expected):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/somewhere/else.pem")
    session = requests.Session()
    adapter = CaptureAdapter()
    session.mount("https://", adapter)
    c = reg.RegistryClient("registry.example:5000", session=session, **kwargs)
    c.head_manifest(REF)
    assert adapter.verify == [expected]


def test_parse_challenge():
    scheme, params = reg.parse_challenge(
        'Bearer realm="https://h/token",service="registry.docker.io",scope="repository:a/b:pull,push"')
    assert scheme == "bearer"
    assert params == {"realm": "https://h/token", "service": "registry.docker.io",
                      "scope": "repository:a/b:pull,push"}
    assert reg.parse_challenge(None) == (None, {})


# --- publish_index against an in-memory registry: the request budget -------------------

class MemoryRegistry(object):
    def __init__(self):
        self.manifests = {}  # (repo, reference) -> (bytes, media type)
        self.log = []

    def __call__(self, method, url, headers, data, auth):
        path = url.split("registry.example:5000", 1)[1]
        self.log.append((method, path))
        parts = path.split("/")
        repo, reference = "/".join(parts[2:-2]), parts[-1]
        if method in ("HEAD", "GET"):
            got = self.manifests.get((repo, reference))
            if got is None:
                return FakeResponse(404)
            data, media_type = got
            return FakeResponse(200, {"Docker-Content-Digest": mi.digest_of(data),
                                      "Content-Type": media_type,
                                      "Content-Length": str(len(data))},
                                data if method == "GET" else b"")
        if method == "PUT":
            media_type = headers["Content-Type"]
            self.manifests[(repo, reference)] = (data, media_type)
            self.manifests[(repo, mi.digest_of(data))] = (data, media_type)
            return FakeResponse(201, {"Docker-Content-Digest": mi.digest_of(data)})
        return FakeResponse(405)


def test_publish_budget_is_n_plus_two_then_n_plus_one():
    memory = MemoryRegistry()
    sources = []
    for family in arch.families():
        body = json.dumps({"schemaVersion": 2, "mediaType": mi.OCI_MANIFEST,
                           "config": {"digest": mi.digest_of(family.encode())},
                           "layers": []}).encode()
        memory.manifests[("lib/app", family)] = (body, mi.OCI_MANIFEST)
        sources.append({"ref": family, "platform": arch.oci_platform(family)})
    c = client(memory)[0]
    first = reg.publish_index(c, "lib/app", "1.0", sources)
    assert first["changed"] and c.requests == len(sources) + 2 and c.writes == 1
    assert [entry[0] for entry in memory.log[-2:]] == ["HEAD", "PUT"]
    c2 = client(memory)[0]
    second = reg.publish_index(c2, "lib/app", "1.0", list(reversed(sources)))
    assert not second["changed"] and c2.requests == len(sources) + 1 and c2.writes == 0
    c3 = client(memory)[0]
    checked = reg.publish_index(c3, "lib/app", "1.0", sources[:2], check_mode=True)
    assert checked["changed"] and c3.writes == 0


def test_platform_from_config_costs_two_gets_per_source():
    memory = MemoryRegistry()
    sources = []
    configs = {}
    for family in arch.families():
        config = json.dumps(dict(arch.platform_dict(family))).encode()
        configs[mi.digest_of(config)] = config
        body = json.dumps({"schemaVersion": 2, "mediaType": mi.OCI_MANIFEST,
                           "config": {"digest": mi.digest_of(config)}, "layers": []}).encode()
        memory.manifests[("lib/app", family)] = (body, mi.OCI_MANIFEST)
        sources.append({"ref": family})

    def handler(method, url, headers, data, auth):
        if "/blobs/" in url:
            memory.log.append((method, url))
            return FakeResponse(200, {}, configs[url.rsplit("/", 1)[1]])
        return memory(method, url, headers, data, auth)

    c = client(handler)[0]
    result = reg.publish_index(c, "lib/app", "1.0", sources)
    assert result["platforms"] == [arch.oci_platform(f) for f in arch.families()]
    assert c.requests == 2 * len(sources) + 2


BLOB = b"layer bytes"
BLOB_DIGEST = mi.digest_of(BLOB)


def test_ensure_blob_present_costs_one_post_and_reads_no_data():
    asked = []
    c, session, _slept = client(scripted(FakeResponse(201)))
    done = c.ensure_blob("lib/app", BLOB_DIGEST, lambda: asked.append(1) or [BLOB], "lib/app")
    assert done == "present" and asked == [] and c.requests == 1
    assert session.calls[0]["url"].endswith(
        "/v2/lib/app/blobs/uploads/?mount=%s&from=lib/app" % BLOB_DIGEST)


def test_ensure_blob_missing_streams_the_data_into_the_opened_upload():
    c, session, _slept = client(scripted(
        FakeResponse(202, {"Location": "/v2/lib/app/blobs/uploads/u1?_state=s"}),
        FakeResponse(201)))
    done = c.ensure_blob("lib/app", BLOB_DIGEST, lambda: iter([BLOB[:5], BLOB[5:]]), "lib/app")
    assert done == "uploaded" and c.requests == 2 and c.writes == 2
    put = session.calls[1]
    assert put["method"] == "PUT"
    assert put["url"] == ("https://registry.example:5000/v2/lib/app/blobs/uploads/u1?_state=s"
                          "&digest=" + BLOB_DIGEST)
    assert b"".join(put["data"]) == BLOB
    assert c.bytes_sent == len(BLOB)


def test_ensure_blob_mounts_from_the_repository_named():
    c, session, _slept = client(scripted(FakeResponse(201)))
    assert c.ensure_blob("lib/b", BLOB_DIGEST, lambda: [BLOB], "lib/b",
                         from_repository="lib/a") == "mounted"
    assert session.calls[0]["url"].endswith("mount=%s&from=lib/a" % BLOB_DIGEST)


def test_mount_blob_copies_from_the_other_repository_when_declined():
    sent = []

    def handler(method, url, headers, data, auth):
        if method == "POST":
            return FakeResponse(202, {"Location": "/v2/lib/b/blobs/uploads/u2"})
        if method == "PUT":
            sent.append(b"".join(data))  # sending the body reads the source as it goes
            return FakeResponse(201)
        assert method == "GET" and url.endswith("/v2/lib/a/blobs/" + BLOB_DIGEST)
        return FakeResponse(200, {}, BLOB)

    c, session, _slept = client(handler)
    assert c.mount_blob("lib/b", BLOB_DIGEST, "lib/a", "lib/b") == "copied"
    assert sent == [BLOB]
    assert [call["method"] for call in session.calls] == ["POST", "PUT", "GET"]


def test_the_client_keeps_no_cookie():
    """Harbor refuses writes of clients that send its session cookie back (CSRF)."""
    import http.cookiejar
    import urllib.request
    c = reg.RegistryClient("harbor.example.com")
    cookie = http.cookiejar.Cookie(
        0, "sid", "abc", None, False, "harbor.example.com", False, False, "/", True, False,
        None, False, None, None, {})
    policy = c.session.cookies.get_policy()
    assert not policy.set_ok(cookie, urllib.request.Request("https://harbor.example.com/api"))


def test_passthrough_statuses_are_returned_not_raised():
    c, _session, _slept = client(scripted(FakeResponse(403, {}, {"errors": []}),
                                          FakeResponse(403, {}, {"errors": []})))
    assert c.request("GET", "/api/v2.0/projects", "projects", passthrough=(403,)).status_code \
        == 403
    with pytest.raises(reg.RegistryAuthError):
        c.request("GET", "/api/v2.0/projects", "projects")
