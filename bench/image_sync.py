"""Benchmark: 20 five-platform images from an upstream registry into the private registry,
image_sync vs. skopeo, in the same run.

Starts docker-registry processes (TLS + htpasswd): ``upstream`` holding 20 indexes of five
platforms, amd64 arm64/v8 loong64 sw64 mips64le, each child a single-layer image with
``--layer`` KiB of incompressible data, and one destination per row, so that no tool finds
blobs another row left there (skopeo remembers where it saw blobs, in its blob-info cache,
and would mount them from there). Each registry is behind a byte-counting TCP relay (in a
separate process; every tool reaches the registries through the same loopback hop). Then,
one tool after the other:

  * xinchuang.cloud.image_sync through ansible-playbook: one task for the 20 images
    (4 at a time), then the same task again (idempotence), and the library call alone;
  * ``skopeo copy --all --preserve-digests``, one invocation per image (how a script loops);
  * ``skopeo sync --all --preserve-digests --src yaml``, one invocation for the 20;

first into an empty destination, then into one already holding half of every image's blobs
(amd64 and arm64 whole, the loong64 layer). Requests are counted from the registries' access
logs (one line per request served), bytes at the relays; every destination index is checked
to equal the upstream's byte for byte. Usage:

    source hack/env.sh && python bench/image_sync.py [--images 20] [--layer 128] [--skip-skopeo]
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# tests/conftest.py makes ansible_collections.xinchuang.cloud importable.
__import__("tests.conftest")

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import image_sync as sync  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi  # noqa: E402
from bench.image_manifest import log, run_cmd  # noqa: E402
from tests.integration.ansible_run import run_tasks  # noqa: E402
from tests.integration.fixtures_registry import (  # noqa: E402
    RegistrySet, make_image, push_index, write_lines)

TAG = "1.0"


# -- byte-counting relay ----------------------------------------------------------------

def _relay_main(routes, counters, ready):
    """routes: [(listen port, target port)]; counters[2*i] client->server bytes,
    counters[2*i+1] server->client bytes of route i."""

    async def pump(reader, writer, slot):
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                with counters.get_lock():
                    counters[slot] += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except (ConnectionError, OSError):
                pass

    def handler(index, target):
        async def handle(client_reader, client_writer):
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
            except OSError:
                client_writer.close()
                return
            await asyncio.gather(pump(client_reader, up_writer, 2 * index),
                                 pump(up_reader, client_writer, 2 * index + 1))
        return handle

    async def main():
        servers = [await asyncio.start_server(handler(i, target), "127.0.0.1", port)
                   for i, (port, target) in enumerate(routes)]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


class Relays(object):
    def __init__(self, targets):
        from tests.integration.fixtures_registry import free_port
        self.names = list(targets)
        self.ports = dict((n, free_port()) for n in self.names)
        routes = [(self.ports[n], targets[n]) for n in self.names]
        self.counters = multiprocessing.Array("q", 2 * len(routes))
        ready = multiprocessing.Event()
        self.proc = multiprocessing.Process(target=_relay_main,
                                            args=(routes, self.counters, ready), daemon=True)
        self.proc.start()
        if not ready.wait(30):
            raise SystemExit("the byte-counting relay did not start")

    def host(self, name):
        return "127.0.0.1:%d" % self.ports[name]

    def snapshot(self):
        with self.counters.get_lock():
            values = list(self.counters)
        return dict((n, (values[2 * i], values[2 * i + 1])) for i, n in enumerate(self.names))

    def stop(self):
        self.proc.terminate()
        self.proc.join(10)


# -- measuring --------------------------------------------------------------------------

class Row(object):
    """Wall time, requests (access logs) and bytes (relays) of one tool's run into ``dest``."""

    def __init__(self, label, servers, relays, dest):
        self.label, self.servers, self.relays, self.dest = label, servers, relays, dest
        self.note = ""

    def __enter__(self):
        self.since = dict((n, self.servers[n].log_size()) for n in ("upstream", self.dest))
        self.bytes0 = self.relays.snapshot()
        self.start = time.time()
        return self

    def __exit__(self, *exc):
        self.wall = time.time() - self.start
        self.load = os.getloadavg()[0]  # other jobs share the machine: say how busy it was
        lines = dict((n, self.servers[n].settled_access_lines(self.since[n]))
                     for n in ("upstream", self.dest))
        self.requests = sum(len(v) for v in lines.values())
        self.dest_requests = len(lines[self.dest])
        self.writes = len(write_lines(lines[self.dest]))
        after = self.relays.snapshot()
        self.sent = sum(after[n][0] - self.bytes0[n][0] for n in after)
        self.received = sum(after[n][1] - self.bytes0[n][1] for n in after)


def check_copies(servers, dest, prefix, repos, upstream_index, last_component=False):
    """Every destination tag serves the upstream's index, byte for byte (skopeo sync names a
    destination repository by the last component of the source's)."""
    client = servers.client(dest)
    for repo in repos:
        name = repo.rsplit("/", 1)[-1] if last_component else repo
        got = client.get_manifest(mi.parse_reference("%s/%s:%s" % (prefix, name, TAG)))
        if got is None or got["data"] != upstream_index[repo]:
            raise SystemExit("%s/%s:%s is not the upstream's index after the run"
                             % (prefix, repo, TAG))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--layer", type=int, default=128, help="KiB of data per layer")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--skip-skopeo", action="store_true")
    opts = parser.parse_args()

    work = tempfile.mkdtemp(prefix="xc-bench-sync-")
    servers = RegistrySet(work)
    relays = None
    rows = []
    dests = ["dest-xc", "dest-lib", "dest-skopeo", "dest-sync", "dest-xc-half",
             "dest-lib-half", "dest-skopeo-half", "dest-sync-half"]
    try:
        upstream = servers.client("upstream")
        relays = Relays(dict((n, servers[n].port) for n in ["upstream"] + dests))
        families = arch.families()
        repos = ["bench/app-%02d" % i for i in range(opts.images)]
        children, upstream_index = {}, {}
        log("pushing %d indexes of %d platforms (%d KiB layers)"
            % (len(repos), len(families), opts.layer))
        for repo in repos:
            children[repo] = [make_image(arch.platform_dict(f),
                                         content="%s %s\n" % (repo, arch.oci_platform(f)),
                                         filler=opts.layer * 1024) for f in families]
            upstream_index[repo] = push_index(upstream, repo, TAG, children[repo],
                                              {"org.opencontainers.image.ref.name": TAG})
        required = ["amd64", "arm64", "loong64", "sw64", "mips64le"]
        prefix = "mirror"

        def endpoint(name, **extra):
            out = servers.endpoint(name, **extra)
            out["url"] = relays.host(name)
            return out

        def prefill(dest, last_component=False):
            """Half of every image's blobs: amd64 and arm64 whole, the loong64 layer."""
            client = servers.client(dest)
            for repo in repos:
                target = "%s/%s" % (prefix, repo.rsplit("/", 1)[-1] if last_component else repo)
                for image in children[repo][:2]:
                    client.push_blob(target, image["layer"])
                    client.push_blob(target, image["config"])
                client.push_blob(target, children[repo][2]["layer"])

        def sync_params(dest):
            return dict(images=[{"repository": r, "tag": TAG} for r in repos],
                        sources=[endpoint("upstream")],
                        destination=endpoint(dest, prefix=prefix),
                        required_platforms=required, concurrency=opts.concurrency)

        def image_sync_row(label, dest):
            task = {"name": "sync", "xinchuang.cloud.image_sync": sync_params(dest)}
            with Row(label, servers, relays, dest) as row:
                result = run_tasks([task])[0]
            if result.get("failed"):
                raise SystemExit("%s failed: %s" % (label, result.get("msg")))
            row.note = "module: %d requests, %d changed" % (
                result["requests"], sum(1 for i in result["images"] if i["changed"]))
            check_copies(servers, dest, prefix, repos, upstream_index)
            rows.append(row)

        def library_row(label, dest):
            with Row(label, servers, relays, dest) as row:
                sync.ImageSync(sync_params(dest)).run()
            check_copies(servers, dest, prefix, repos, upstream_index)
            rows.append(row)

        cert = servers.cert_dir
        creds = "%s:%s" % (servers.username, servers.password)

        def skopeo_copy_row(label, dest):
            with Row(label, servers, relays, dest) as row:
                for repo in repos:
                    run_cmd(["skopeo", "copy", "--all", "--preserve-digests", "--quiet",
                             "--src-cert-dir", cert, "--src-creds", creds,
                             "--dest-cert-dir", cert, "--dest-creds", creds,
                             "docker://%s/%s:%s" % (relays.host("upstream"), repo, TAG),
                             "docker://%s/%s/%s:%s" % (relays.host(dest), prefix, repo, TAG)])
            check_copies(servers, dest, prefix, repos, upstream_index)
            rows.append(row)

        def skopeo_sync_row(label, dest):
            spec = os.path.join(work, "sync-%s.yaml" % dest)
            with open(spec, "w") as fh:
                json.dump({relays.host("upstream"): {
                    "images": dict((r, [TAG]) for r in repos), "tls-verify": True,
                    "cert-dir": cert, "credentials": {"username": servers.username,
                                                      "password": servers.password}}}, fh)
            with Row(label, servers, relays, dest) as row:
                run_cmd(["skopeo", "sync", "--all", "--preserve-digests", "--src", "yaml",
                         "--dest", "docker", "--dest-cert-dir", cert, "--dest-creds", creds,
                         spec, "%s/%s" % (relays.host(dest), prefix)])
            check_copies(servers, dest, prefix, repos, upstream_index, last_component=True)
            rows.append(row)

        log("empty destinations")
        image_sync_row("image_sync (ansible, one task)", "dest-xc")
        image_sync_row("image_sync (ansible, second run)", "dest-xc")
        library_row("image_sync (library call, no Ansible start-up)", "dest-lib")
        if not opts.skip_skopeo:
            skopeo_copy_row("skopeo copy --all (one per image)", "dest-skopeo")
            skopeo_copy_row("skopeo copy --all (second run)", "dest-skopeo")
            skopeo_sync_row("skopeo sync --all (one for all)", "dest-sync")
        log("half the blobs already present")
        for dest in ("dest-xc-half", "dest-lib-half", "dest-skopeo-half"):
            prefill(dest)
        prefill("dest-sync-half", last_component=True)
        image_sync_row("image_sync (ansible) | half present", "dest-xc-half")
        library_row("image_sync (library) | half present", "dest-lib-half")
        if not opts.skip_skopeo:
            skopeo_copy_row("skopeo copy --all | half present", "dest-skopeo-half")
            skopeo_sync_row("skopeo sync --all | half present", "dest-sync-half")
        print_table(rows, opts, len(families))
    finally:
        if relays is not None:
            relays.stop()
        servers.stop()
        shutil.rmtree(work, ignore_errors=True)


def print_table(rows, opts, n):
    def peer(label):
        half = "half present" in label
        second = "second run" in label
        for row in rows:
            if row.label.startswith("skopeo copy") and ("half present" in row.label) == half \
                    and ("second run" in row.label) == second:
                return row
        return None

    print()
    print("%d indexes of %d platforms (amd64, arm64/v8, loong64, sw64, mips64le), one %d KiB "
          "layer per child; TLS + htpasswd registries on 127.0.0.1; requests from the access "
          "logs of upstream and destination, bytes at a TCP relay in front of each."
          % (opts.images, n, opts.layer))
    header = ("tool", "wall s", "requests", "dest req", "dest writes", "MiB sent",
              "MiB recv", "wall vs skopeo copy", "req vs skopeo copy", "sent vs skopeo copy",
              "load")
    fmt = "| %-48s | %6s | %8s | %8s | %11s | %8s | %8s | %19s | %18s | %19s | %4s |"
    print(fmt % header)
    print("|" + "|".join("-" * len(cell) for cell in (fmt % header).split("|")[1:-1]) + "|")
    for row in rows:
        base = peer(row.label)
        print(fmt % (row.label, "%.1f" % row.wall, row.requests, row.dest_requests, row.writes,
                     "%.2f" % (row.sent / 1048576.0), "%.2f" % (row.received / 1048576.0),
                     "%.2fx" % (row.wall / base.wall) if base else "-",
                     "%.2fx" % (row.requests / float(base.requests)) if base else "-",
                     "%.2fx" % (row.sent / float(base.sent)) if base and base.sent else "-",
                     "%.1f" % row.load))
    print()
    print("load: 1-minute load average of the machine (%d cores) when the row ended. Ratios "
          "compare with skopeo copy --all in the same situation (empty destination, second "
          "run, or half the blobs present)." % os.cpu_count())
    print("Target: fewer requests than skopeo and no more wall time.")
    for row in rows:
        if row.note:
            print("Note: %s: %s" % (row.label, row.note))


if __name__ == "__main__":
    main()
