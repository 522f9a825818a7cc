"""Benchmark: the sample WAR as an image on the app store's Tomcat, per family, app_image vs. jib.

Starts a docker-registry (TLS + htpasswd) on 127.0.0.1, pushes the app store's images built
here into it (``XC_IMAGES_SET=apps hack/images.sh push``: Tomcat 10.1.55 for amd64 and arm64,
10.1.60 for loong64), builds tests/fixtures/sample-war with Maven, then for each family, one
tool after the other, into a repository of its own:

  * xinchuang.cloud.app_image as a library call (plan + apply): cold (a new repository: the
    base's layers mounted, the WAR's layer, config, manifest and index written), then cached
    (the same artefact again: the index found in place, nothing written);
  * jib (com.google.cloud.tools:jib-maven-plugin from Maven Central, ``mvn jib:build``, the
    peer tool that also builds an image without a daemon from a WAR and a base in a
    registry): cold (empty jib caches), then cached (the same caches, the same WAR). Maven's
    own start is in its time: that is what a pipeline runs. A warm-up first resolves the
    plugin from Maven Central and builds once, so no download is timed (jib refuses Maven's
    offline mode).

Then the three families at once through ansible-playbook (playbooks/build_image.yml), cold
and again. Requests and writes are counted from the registry's access log. jib takes one base
image, so it builds each family from the tag that has its platform. Usage:

    source hack/env.sh && python bench/app_image.py [--skip-jib] [--out bench/results/app_image.md]
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

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_image  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_image_build  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch  # noqa: E402
from bench.image_manifest import Measure, log, run_cmd  # noqa: E402
from tests import sample_war  # noqa: E402
from tests.integration.ansible_run import ansible_playbook  # noqa: E402
from tests.integration.fixtures_registry import RegistryPair  # noqa: E402

JIB = "com.google.cloud.tools:jib-maven-plugin:3.5.2"
FAMILIES = ["c86", "arm", "loongarch"]
# The app store's Tomcat, as hack/images.sh pushes it (the default bases of build_image.yml).
BASES = ["appstore/tomcat:10.1.55", "appstore/tomcat:10.1.60"]


def maven_repo():
    return os.path.join(os.environ.get("XC_CACHE", "/var/cache/xinchuang"), "maven")


def push_app_images(pair, work):
    password = os.path.join(work, "password")
    with open(password, "w") as fh:
        fh.write(pair.password + "\n")
    env = dict(os.environ, XC_IMAGES_SET="apps")
    run_cmd([os.path.join(ROOT, "hack", "images.sh"), "push", pair.host, "--ca", pair.ca, "--username",
             pair.username, "--password-file", password, "amd64", "arm64", "loong64"], env=env)


def base_of(client, family):
    """The tag of BASES that has FAMILY's platform (as app_image chooses it)."""
    want = arch.platform_string(arch.platform_dict(family))
    from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
    from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg
    offered = [(b, reg.inspect_reference(client, mi.parse_reference(b))["platforms"]) for b in BASES]
    return BASES[app_image.choose_bases([want], offered)[0]]


def app_image_run(pair, war, family, repository):
    client = pair.client()
    with open(war, "rb") as fh:
        data = fh.read()
    created, mtime = app_image.image_time()
    planned = app_image_build.plan(client, BASES, repository + ":1.0", data, os.path.basename(war), [family],
                                   created=created, mtime=mtime)
    return app_image_build.apply(client, planned)


class Jib(object):
    """mvn jib:build of the sample project against the bench registry: the registry's CA in a
    trust store, the credentials in a Maven settings file (never on the command line)."""

    def __init__(self, pair, work, project):
        self.pair, self.work, self.project = pair, work, project
        self.store = os.path.join(work, "truststore.p12")
        run_cmd(["keytool", "-importcert", "-noprompt", "-alias", "bench-ca", "-file", pair.ca, "-keystore",
                 self.store, "-storetype", "PKCS12", "-storepass", "changeit"])
        self.settings = os.path.join(work, "settings.xml")
        with open(self.settings, "w") as fh:
            fh.write("<settings><servers><server><id>%s</id><username>%s</username><password>%s</password>"
                     "</server></servers></settings>\n" % (pair.host, pair.username, pair.password))

    def resolve(self):
        """The plugin and its dependencies into the Maven cache, from Maven Central (the JVM's own
        trust store); the timed builds then find it there and trust only the bench registry's CA."""
        proc = subprocess.run(["mvn", "-B", "-q", "-Dmaven.repo.local=" + maven_repo(), "-f",
                               os.path.join(self.project, "pom.xml"), JIB + ":_skaffold-init"],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError("resolving %s failed:\n%s" % (JIB, proc.stdout[-3000:]))

    def build(self, family, base, target, cache):
        platform = arch.platform_dict(family)
        env = dict(os.environ, MAVEN_OPTS="-Djavax.net.ssl.trustStore=%s -Djavax.net.ssl.trustStorePassword=changeit"
                   % self.store)
        cmd = ["mvn", "-B", "-q", "-s", self.settings, "-Dmaven.repo.local=" + maven_repo(),
               "-f", os.path.join(self.project, "pom.xml"), JIB + ":build",
               "-Djib.from.image=%s/%s" % (self.pair.host, base),
               "-Djib.from.platforms=linux/%s" % platform["architecture"],
               "-Djib.to.image=%s/%s:1.0" % (self.pair.host, target),
               "-Djib.container.appRoot=/var/lib/tomcat/webapps/hello",
               "-Djib.container.entrypoint=INHERIT",
               "-Djib.baseImageCache=%s/base" % cache, "-Djib.applicationCache=%s/app" % cache,
               "-Djib.disableUpdateChecks=true", "-Djib.console=plain"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise RuntimeError("mvn jib:build failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-1000:]))


class Total(object):
    """The sum of several measured runs, shaped as a Measure."""

    def __init__(self, wall, requests, writes, load):
        self.wall, self.requests, self.writes, self.load = wall, requests, writes, load


def jib_rows_exist(rows):
    return any(tool.startswith("jib") for _f, tool, _r, _m, _n in rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--skip-jib", action="store_true")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "app_image.md"))
    opts = parser.parse_args()

    work = tempfile.mkdtemp(prefix="xc-bench-app-")
    pair = RegistryPair(work).start()
    rows = []
    try:
        log("pushing the app store's images (amd64, arm64, loong64)")
        push_app_images(pair, work)
        log("building the sample WAR with Maven")
        war = sample_war.build(work)
        project = os.path.join(work, "sample-war")
        jib = None if opts.skip_jib else Jib(pair, work, project)
        client = pair.client()
        if jib:
            log("jib warm-up (resolves the plugin; not timed)")
            jib.resolve()
            jib.build("c86", base_of(client, "c86"), "bench/warmup", os.path.join(work, "jib-warmup"))
        for family in FAMILIES:
            base = base_of(client, family)
            for label, again in (("cold", False), ("cached", True)):
                with Measure(pair.tls) as m:
                    changed = app_image_run(pair, war, family, "apps/hello-" + family)
                rows.append((family, "app_image (library)", label, m, "changed" if changed else "unchanged"))
                log("%s app_image %s: %.1f s" % (family, label, m.wall))
            if jib:
                cache = os.path.join(work, "jib-cache-" + family)
                for label in ("cold", "cached"):
                    with Measure(pair.tls) as m:
                        jib.build(family, base, "apps/hello-jib-" + family, cache)
                    rows.append((family, "jib (mvn jib:build)", label, m, "from " + base))
                    log("%s jib %s: %.1f s" % (family, label, m.wall))
        auth = {"username": pair.username, "password": pair.password, "ca_path": pair.ca}
        extra = {"app_artifact": war, "app_image": pair.host + "/apps/hello-all:1.0", "app_families": FAMILIES,
                 "app_registry_auth": auth, "ansible_python_interpreter": sys.executable}
        for label in ("cold", "cached"):
            with Measure(pair.tls) as m:
                report, proc = ansible_playbook(["-i", "localhost,", "-c", "local", "playbooks/build_image.yml"],
                                                extra_vars=extra)
            if proc.returncode != 0:
                raise SystemExit("build_image.yml failed: %s" % proc.stdout[-2000:])
            result = [t["hosts"]["localhost"] for t in report["plays"][0]["tasks"]
                      if t["task"]["name"].endswith("Make and publish the image")][0]
            rows.append(("+".join(FAMILIES), "build_image.yml (ansible-playbook)", label, m,
                         "changed" if result["changed"] else "unchanged"))
    finally:
        pair.stop()
        shutil.rmtree(work, ignore_errors=True)

    if jib_rows_exist(rows):
        for label in ("cold", "cached"):
            runs = [m for f, tool, run, m, _n in rows if tool.startswith("jib") and run == label]
            total = Total(sum(m.wall for m in runs), sum(m.requests for m in runs), sum(m.writes for m in runs),
                          max(m.load for m in runs))
            rows.append(("+".join(FAMILIES), "jib, one run per family (one base each)", label, total, "sum"))
    header = "| family | tool | run | wall s | requests | writes | vs jib | note | load |"
    lines = [header, "|---|---|---|---:|---:|---:|---:|---|---:|"]
    jib_wall = dict(((f, run), m.wall) for f, tool, run, m, _n in rows if tool.startswith("jib"))
    for family, tool, run, m, note in rows:
        ratio = "%.2fx" % (m.wall / jib_wall[(family, run)]) if (family, run) in jib_wall else ""
        lines.append("| %s | %s | %s | %.2f | %d | %d | %s | %s | %.1f |" % (
            family, tool, run, m.wall, m.requests, m.writes, ratio, note, m.load))
    text = ("# bench/app_image.py, %s (2-core Debian 12; `source hack/env.sh && python bench/app_image.py`)\n\n"
            "The sample WAR (%s) on the app store's Tomcat, one family per repository; cold: a new repository "
            "(and, for jib, empty caches); cached: the same WAR again. Requests and writes from the registry's "
            "access log; load: the 1-minute load average when the row ended (2 cores).\n\n%s\n"
            % (time.strftime("%Y-%m-%d"), "tests/fixtures/sample-war", "\n".join(lines)))
    print(text)
    if opts.out:
        with open(opts.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
