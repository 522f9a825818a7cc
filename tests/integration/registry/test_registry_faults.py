"""Registry faults: the tag never points at a broken index, and transient errors are retried.

A real docker-registry is stopped between the children and the index PUT; a tiny HTTP proxy
in front of the real registry answers 503 (with Retry-After) or stalls, once.
"""

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg
from tests.integration.ansible_run import run_module
from tests.integration.fixtures_registry import client_push, make_image

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te",
              "upgrade", "trailer"}


class FaultProxy(object):
    """Forwards to ``upstream`` (host:port, plain HTTP); ``fault(method, path)`` may answer
    instead: ``("status", code, headers)`` or ``("stall", seconds)``. Logs every request."""

    def __init__(self, upstream, fault):
        self.upstream = upstream
        self.fault = fault
        self.log = []  # (time, method, path, status)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                action = proxy.fault(self.command, self.path)
                if action and action[0] == "status":
                    code, headers = action[1], action[2]
                    proxy.log.append((time.time(), self.command, self.path, code))
                    self.send_response(code)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if action and action[0] == "stall":
                    time.sleep(action[1])
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = dict((k, v) for k, v in self.headers.items()
                               if k.lower() not in HOP_BY_HOP)
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                proxy.log.append((time.time(), self.command, self.path, resp.status))
                try:
                    self.send_response(resp.status)
                    for key, value in resp.getheaders():
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    length = resp.getheader("Content-Length")
                    self.send_header("Content-Length",
                                     length if self.command == "HEAD" and length
                                     else str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a stalled request): that is the point
                conn.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def requests(self, method, path_part):
        return [entry for entry in self.log if entry[1] == method and path_part in entry[2]]


def once(method, path_part, action):
    """A fault rule that fires on the first matching request only."""
    fired = []

    def rule(m, path):
        if m == method and path_part in path and not fired:
            fired.append(path)
            return action
        return None
    return rule


def test_index_put_last_keeps_old_tag_on_failure(registry_factory):
    pair = registry_factory()
    setup = pair.client()
    image = dict((f, make_image(arch.platform_dict(f))) for f in arch.families())
    client_push(setup, image["c86"], "fault/app", "amd64")
    client_push(setup, image["arm"], "fault/app", "arm64")
    client_push(setup, image["loongarch"], "fault/src", "loong64")
    old = reg.publish_index(pair.client(), "fault/app", "1.0", [
        {"ref": "amd64", "platform": "amd64"}, {"ref": "arm64", "platform": "arm64"}])
    assert old["changed"]

    client = pair.client(retries=1, timeout=5)
    writes = []
    real_put = client.put_manifest

    def put_then_crash(repository, reference, data, media_type, what):
        writes.append(reference)
        if reference == "1.0":  # the index: the registry dies right before it
            pair.tls.stop()
        return real_put(repository, reference, data, media_type, what)

    client.put_manifest = put_then_crash
    with pytest.raises(reg.RegistryUnavailableError) as err:
        reg.publish_index(client, "fault/app", "1.0", [
            {"ref": "amd64", "platform": "amd64"}, {"ref": "arm64", "platform": "arm64"},
            {"ref": "fault/src:loong64", "platform": "loong64"}])
    assert "fault/app:1.0" in str(err.value)
    # The cross-repository child went in first, the index last.
    assert writes == [image["loongarch"]["digest"], "1.0"]

    pair.tls.start()
    after = pair.client()
    assert after.head_manifest(mi.parse_reference("fault/app:1.0"))["digest"] == old["digest"]
    got = after.get_manifest(mi.parse_reference("fault/app:1.0"))
    assert [e["platform"] for e in mi.index_entries(mi.parse_manifest(got["data"]))] == [
        "linux/amd64", "linux/arm64/v8"]
    # A re-run completes the job.
    again = reg.publish_index(after, "fault/app", "1.0", [
        {"ref": "amd64", "platform": "amd64"}, {"ref": "arm64", "platform": "arm64"},
        {"ref": "fault/src:loong64", "platform": "loong64"}])
    assert again["changed"] and again["platforms"][-1] == "linux/loong64"


def test_503_with_retry_after_then_201_succeeds(registry, images):
    rule = once("PUT", "/v2/xc/app/manifests/retry", ("status", 503, {"Retry-After": "1"}))
    with FaultProxy(registry.plain_host, rule) as proxy:
        result = run_module("xinchuang.cloud.image_manifest", dict(
            registry="http://127.0.0.1:%d" % proxy.port, repository="xc/app", tag="retry",
            sources=images.sources(), retries=2))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    puts = proxy.requests("PUT", "/manifests/retry")
    assert [p[3] for p in puts] == [503, 201]
    assert puts[1][0] - puts[0][0] >= 1.0  # Retry-After honoured
    assert result["requests"] == 5 + 2 + 1  # the retried PUT counts
    tls = registry.client()
    assert tls.head_manifest(mi.parse_reference("xc/app:retry"))["digest"] == result["digest"]


def test_timeout_is_retried(registry, images):
    rule = once("HEAD", "/v2/xc/app/manifests/slow", ("stall", 3))
    with FaultProxy(registry.plain_host, rule) as proxy:
        result = run_module("xinchuang.cloud.image_manifest", dict(
            registry="http://127.0.0.1:%d" % proxy.port, repository="xc/app", tag="slow",
            sources=images.sources(["c86", "sw64"]), timeout=1, retries=2))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["requests"] == 2 + 2 + 1


def test_503_outlasting_retries_fails_naming_the_reference(registry, images):
    def always(method, path):
        if method == "PUT":
            return ("status", 503, {})
        return None
    with FaultProxy(registry.plain_host, always) as proxy:
        result = run_module("xinchuang.cloud.image_manifest", dict(
            registry="http://127.0.0.1:%d" % proxy.port, repository="xc/app",
            tag="unavailable", sources=images.sources(["c86"]), retries=1))
    assert result.get("failed")
    assert "xc/app:unavailable" in result["msg"] and "503" in result["msg"]
    assert len(proxy.requests("PUT", "/manifests/unavailable")) == 2
    assert registry.client().head_manifest(mi.parse_reference("xc/app:unavailable")) is None
