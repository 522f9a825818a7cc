"""Benchmark: a 5-platform index for each of 50 repositories, image_manifest vs. peers.

Starts its own docker-registry (TLS + htpasswd, and the plain-HTTP companion on the same
storage that ``docker manifest`` needs on loopback), pushes one small image per platform
(amd64, arm64/v8, loong64, sw64, mips64le) into every repository, then lets each tool make
an index of the five under its own tag, in the same run, one tool after the other:

  * xinchuang.cloud.image_manifest through ansible-playbook: one task looping over the
    50 repositories (with platforms given, again for idempotence, with platforms read from
    the image configs as the peers do, over TLS + htpasswd), and one task with
    ``indexes:`` (all 50 in one module run, 4 at a time);
  * the same reconciler called as a library (no Ansible start-up per item);
  * docker manifest create / annotate / push (docker CLI against dockerd's registry code);
  * crane index append and regctl index create, when their binaries are found
    (``$XC_CACHE/bench-bin``; ``go install`` them through the Go module proxy).

Requests are counted from the registry's access log (one line per HTTP request served),
so every tool is measured the same way. Usage:

    source hack/env.sh && python bench/image_manifest.py [--repos 50] [--skip-peers]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# tests/conftest.py makes ansible_collections.xinchuang.cloud importable.
__import__("tests.conftest")

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg  # noqa: E402
from tests.integration.ansible_run import run_tasks  # noqa: E402
from tests.integration.fixtures_registry import (  # noqa: E402
    RegistryPair, client_push, make_image)

WRITE_METHODS = ('"PUT ', '"POST ', '"PATCH ', '"DELETE ')


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def find_tool(name):
    cache = os.path.join(os.environ.get("XC_CACHE", "/var/cache/xinchuang"), "bench-bin", name)
    if os.access(cache, os.X_OK):
        return cache
    return shutil.which(name)


class Measure(object):
    def __init__(self, process):
        self.process = process

    def __enter__(self):
        self.since = self.process.log_size()
        self.start = time.time()
        return self

    def __exit__(self, *exc):
        self.wall = time.time() - self.start
        self.load = os.getloadavg()[0]  # other jobs share the machine: say how busy it was
        time.sleep(0.5)  # let the registry finish writing its access log
        lines = self.process.access_lines(self.since)
        self.requests = len(lines)
        self.writes = sum(1 for line in lines if any(m in line for m in WRITE_METHODS))


def check_index(client, repo, tag, expect=5):
    got = client.get_manifest(mi.parse_reference("%s:%s" % (repo, tag)))
    if got is None or got["media_type"] not in mi.INDEX_TYPES:
        raise SystemExit("%s:%s is not an index after the run" % (repo, tag))
    platforms = [e["platform"] for e in mi.index_entries(mi.parse_manifest(got["data"]))]
    if len(platforms) != expect:
        raise SystemExit("%s:%s has %s" % (repo, tag, platforms))
    return platforms


def run_cmd(cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd[:3]), proc.stderr.strip()[-500:]))
    return proc


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--repos", type=int, default=50)
    parser.add_argument("--skip-peers", action="store_true")
    opts = parser.parse_args()

    work = tempfile.mkdtemp(prefix="xc-bench-")
    pair = RegistryPair(work).start()
    rows, notes = [], []
    try:
        families = arch.families()
        images = dict((f, make_image(arch.platform_dict(f))) for f in families)
        repos = ["bench/app-%02d" % i for i in range(opts.repos)]
        setup = pair.client()
        log("pushing %d images" % (len(repos) * len(families)))
        for repo in repos:
            for f in families:
                client_push(setup, images[f], repo, "1.0-" + images[f]["platform"]["architecture"])
        n = len(families)
        plain = "http://" + pair.plain_host

        def sources(with_platform=True):
            out = []
            for f in families:
                src = {"ref": "1.0-" + images[f]["platform"]["architecture"]}
                if with_platform:
                    src["platform"] = arch.oci_platform(f)
                out.append(src)
            return out

        def ansible_rows(label, tag, process, registry_args, with_platform=True):
            task = {"name": "index", "xinchuang.cloud.image_manifest": dict(
                registry_args, repository="{{ item }}", tag=tag,
                sources=sources(with_platform)), "loop": repos}
            with Measure(process) as m:
                result = run_tasks([task])[0]
            items = result.get("results", [])
            failed = [i.get("msg") for i in items if i.get("failed")]
            if failed or len(items) != len(repos):
                raise SystemExit("%s failed: %s" % (label, (failed or [result])[0]))
            own = sum(i["requests"] for i in items)
            rows.append((label, m, own, sum(1 for i in items if i["changed"])))

        log("image_manifest via ansible-playbook")
        ansible_rows("image_manifest (ansible, platforms given)", "xc", pair.plain,
                     {"registry": plain})
        check_index(setup, repos[0], "xc")
        ansible_rows("image_manifest (ansible, idempotent re-run)", "xc", pair.plain,
                     {"registry": plain})
        ansible_rows("image_manifest (ansible, platforms from configs)", "xc-cfg", pair.plain,
                     {"registry": plain}, with_platform=False)
        ansible_rows("image_manifest (ansible, TLS + htpasswd)", "xc-tls", pair.tls,
                     pair.auth_args())

        def batch_row(label, tag, process, registry_args):
            task = {"name": "catalogue", "xinchuang.cloud.image_manifest": dict(
                registry_args, concurrency=4,
                indexes=[{"repository": r, "tag": tag, "sources": sources()} for r in repos])}
            with Measure(process) as m:
                result = run_tasks([task])[0]
            if result.get("failed"):
                raise SystemExit("%s failed: %s" % (label, result.get("msg")))
            rows.append((label, m, result["requests"],
                         sum(1 for i in result["indexes"] if i["changed"])))

        log("image_manifest, one task for every index")
        batch_row("image_manifest (ansible, one task, indexes:)", "xc-batch", pair.plain,
                  {"registry": plain})
        check_index(setup, repos[0], "xc-batch")
        batch_row("image_manifest (one task, idempotent re-run)", "xc-batch", pair.plain,
                  {"registry": plain})
        batch_row("image_manifest (one task, TLS + htpasswd)", "xc-batch-tls", pair.tls,
                  pair.auth_args())

        log("publish_index as a library")
        with Measure(pair.plain) as m:
            own = changed = 0
            for repo in repos:
                client = reg.RegistryClient(plain)
                changed += reg.publish_index(client, repo, "lib", sources())["changed"]
                own += client.requests
        rows.append(("publish_index (library, platforms given)", m, own, changed))

        if not opts.skip_peers:
            peer_rows(pair, repos, images, families, rows, notes, setup, work)

        print_table(rows, notes, len(repos), n)
    finally:
        pair.stop()
        shutil.rmtree(work, ignore_errors=True)


def peer_rows(pair, repos, images, families, rows, notes, setup, work):
    host = pair.plain_host
    if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True,
                                                 check=False).returncode == 0:
        log("docker manifest create/annotate/push")
        env = dict(os.environ, DOCKER_CONFIG=os.path.join(work, "docker-config"))
        refused = set()
        with Measure(pair.plain) as m:
            for repo in repos:
                target = "%s/%s:docker" % (host, repo)
                children = ["%s/%s:1.0-%s" % (host, repo, images[f]["platform"]["architecture"])
                            for f in families]
                run_cmd(["docker", "manifest", "create", "--insecure", target] + children, env)
                for f, child in zip(families, children):
                    fam = arch.lookup(f)
                    cmd = ["docker", "manifest", "annotate", "--os", "linux", "--arch",
                           fam.oci_arch]
                    if fam.oci_variant:
                        cmd += ["--variant", fam.oci_variant]
                    proc = subprocess.run(cmd + [target, child], capture_output=True,
                                          text=True, env=env, check=False)
                    if proc.returncode != 0:
                        refused.add("%s (%s)" % (fam.oci_arch, proc.stderr.strip()[:90]))
                run_cmd(["docker", "manifest", "push", "--insecure", "--purge", target], env)
        check_index(setup, repos[0], "docker")
        rows.append(("docker manifest create/annotate/push", m, None, len(repos)))
        if refused:
            notes.append("docker manifest annotate refused: %s; create had already taken "
                         "the platform from the image config" % "; ".join(sorted(refused)))
    else:
        notes.append("docker: no dockerd answering; run hack/deps.sh")

    crane = find_tool("crane")
    if crane:
        log("crane index append")
        with Measure(pair.plain) as m:
            for repo in repos:
                cmd = [crane, "index", "append", "--insecure", "-t", "%s/%s:crane" % (host, repo)]
                for f in families:
                    cmd += ["-m", "%s/%s:1.0-%s" % (host, repo,
                                                    images[f]["platform"]["architecture"])]
                run_cmd(cmd)
        check_index(setup, repos[0], "crane")
        rows.append(("crane index append", m, None, len(repos)))
    else:
        notes.append("crane: not built (go install github.com/google/go-containerregistry/"
                     "cmd/crane into $XC_CACHE/bench-bin)")

    regctl = find_tool("regctl")
    if regctl:
        log("regctl index create")
        env = dict(os.environ, HOME=os.path.join(work, "regctl-home"))
        os.makedirs(env["HOME"], exist_ok=True)
        run_cmd([regctl, "registry", "set", "--tls", "disabled", host], env)
        with Measure(pair.plain) as m:
            for repo in repos:
                cmd = [regctl, "index", "create", "%s/%s:regctl" % (host, repo)]
                for f in families:
                    cmd += ["--ref", "%s/%s:1.0-%s" % (host, repo,
                                                       images[f]["platform"]["architecture"])]
                run_cmd(cmd, env)
        check_index(setup, repos[0], "regctl")
        rows.append(("regctl index create", m, None, len(repos)))
    else:
        notes.append("regctl: not built (go install github.com/regclient/regclient/cmd/regctl "
                     "into $XC_CACHE/bench-bin)")


def print_table(rows, notes, repos, n):
    docker = [r for r in rows if r[0].startswith("docker")]
    base = docker[0][1] if docker else None
    print()
    print("Index of %d platforms (amd64, arm64/v8, loong64, sw64, mips64le) for %d "
          "repositories, %d existing children each; requests from the registry access log."
          % (n, repos, n))
    header = ("tool", "changed", "requests", "req/index", "writes/index", "module says",
              "wall s", "wall vs docker", "req vs docker", "load")
    fmt = "| %-50s | %7s | %8s | %9s | %12s | %11s | %7s | %14s | %13s | %5s |"
    print(fmt % header)
    print("|" + "|".join("-" * len(cell) for cell in (fmt % header).split("|")[1:-1]) + "|")
    for label, m, own, changed in rows:
        print(fmt % (label, changed, m.requests, "%.1f" % (m.requests / float(repos)),
                     "%.1f" % (m.writes / float(repos)),
                     "-" if own is None else "%.1f" % (own / float(repos)),
                     "%.1f" % m.wall,
                     "%.2fx" % (m.wall / base.wall) if base else "-",
                     "%.2fx" % (m.requests / float(base.requests)) if base else "-",
                     "%.1f" % m.load))
    print()
    print("load: 1-minute load average of the machine (%d cores) when the row ended; "
          "module says: the requests the module itself counted." % os.cpu_count())
    print("Target: <= N+2 = %d requests per index of N=%d existing children; wall time below "
          "docker manifest." % (n + 2, n))
    for note in notes:
        print("Note: " + note)


if __name__ == "__main__":
    main()
