"""A real Prometheus (Debian's ``prometheus`` package, installed by hack/deps.sh) scraping a
real target, for the metric checks of the canary_release role.

Fixture ``prometheus``: a factory. ``prometheus(samples)`` starts

- a metrics target: an HTTP server on a free port of 127.0.0.1 whose ``/metrics`` answers in
  the Prometheus text format what ``samples()`` returns at the moment of each scrape
  (``[(name, {label: value}, number)]``), so a test can make the metric follow the state of
  the cluster;
- Prometheus on another free port of 127.0.0.1, with a private data directory, scraping that
  target every second and logging every query it answers (``query_log_file``), so a test can
  read back which queries were asked.

Both stop at the end of the test; a Prometheus that does not come up, or never scrapes the
target, fails the test with its log tail.
"""

import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.integration.server_process import LoggedProcess

BINARY = "prometheus"
SCRAPE_SECONDS = 1


class MetricsTarget(object):
    """The scraped target: ``/metrics`` from a callable, counting the scrapes."""

    def __init__(self, samples):
        self.samples = samples
        self.scrapes = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                lines = []
                for name, labels, value in outer.samples():
                    text = ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items()))
                    lines.append("%s{%s} %s" % (name, text, repr(float(value))))
                body = ("\n".join(lines) + "\n").encode()
                outer.scrapes += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class PrometheusProcess(LoggedProcess):
    """One prometheus process scraping one target."""

    def __init__(self, workdir, target):
        # Imported here: fixtures_registry is a pytest plugin loaded after this one.
        from tests.integration.fixtures_registry import free_port

        super(PrometheusProcess, self).__init__(os.path.join(workdir, "prometheus.log"))
        self.workdir = workdir
        self.target = target
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.query_log = os.path.join(workdir, "queries.jsonl")
        self.config_path = os.path.join(workdir, "prometheus.yml")

    def _config(self):
        return "\n".join([
            "global:",
            "  scrape_interval: %ds" % SCRAPE_SECONDS,
            "  scrape_timeout: %ds" % SCRAPE_SECONDS,
            "  query_log_file: %s" % self.query_log,
            "scrape_configs:",
            "  - job_name: canary",
            "    static_configs:",
            "      - targets: ['%s']" % self.target.address,
        ]) + "\n"

    def start(self, timeout=60):
        with open(self.config_path, "w") as fh:
            fh.write(self._config())
        # Console directories of our own, so nothing outside the test's directory is read.
        for name in ("data", "consoles", "console_libraries"):
            os.makedirs(os.path.join(self.workdir, name), exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BINARY, "--config.file=" + self.config_path,
             "--storage.tsdb.path=" + os.path.join(self.workdir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--web.console.templates=" + os.path.join(self.workdir, "consoles"),
             "--web.console.libraries=" + os.path.join(self.workdir, "console_libraries")],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            if self._target_up():
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("prometheus on %s did not come up and scrape %s within %ds; log "
                           "tail:\n%s" % (self.url, self.target.address, timeout, self.log_tail()))

    def _get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as resp:
            return json.loads(resp.read())

    def _target_up(self):
        """Whether the target has been scraped successfully (not a query: not in the log)."""
        try:
            targets = self._get("/api/v1/targets")["data"]["activeTargets"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return False
        return any(t.get("health") == "up" for t in targets)

    def queries(self):
        """The PromQL expressions Prometheus answered, in order (its query log)."""
        try:
            with open(self.query_log) as fh:
                return [json.loads(line)["params"]["query"] for line in fh if line.strip()]
        except OSError:
            return []


@pytest.fixture
def prometheus():
    if shutil.which(BINARY) is None:
        pytest.fail("prometheus is not installed; run hack/deps.sh")
    started = []

    def start(samples):
        workdir = tempfile.mkdtemp(prefix="xc-prometheus-")
        target = MetricsTarget(samples)
        server = PrometheusProcess(workdir, target)
        started.append((server, target, workdir))
        return server.start()

    yield start
    for server, target, workdir in started:
        server.stop()
        target.close()
        shutil.rmtree(workdir, ignore_errors=True)
