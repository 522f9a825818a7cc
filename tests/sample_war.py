"""The sample web application of the application-image tests (tests/fixtures/sample-war),
built with Maven from Maven Central: a servlet at /hello/hello that names the JVM's os.arch,
and a static page. The Maven repository is cached under $XC_CACHE/maven, so only the first
build downloads the plugins and the Servlet API. The build is reproducible
(project.build.outputTimestamp): the same sources give the same WAR, byte for byte."""

import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = os.path.join(ROOT, "tests", "fixtures", "sample-war")
CONTEXT_PATH = "/hello"
SERVLET = CONTEXT_PATH + "/hello"
# What the servlet answers on a JVM of each machine: "hello from xinchuang.cloud on <os.arch>".
GREETING = "hello from xinchuang.cloud on %s"
# The JVM's os.arch per GOARCH (the JDK says amd64 for x86_64, aarch64 for arm64).
OS_ARCH = {"amd64": "amd64", "arm64": "aarch64", "loong64": "loongarch64", "mips64le": "mips64el"}


def build(workdir):
    """Build the WAR in a copy of the sources under WORKDIR; its path (WORKDIR/sample-war/target/hello.war)."""
    out = os.path.join(workdir, "sample-war")
    shutil.copytree(SOURCES, out, ignore=shutil.ignore_patterns("target"))
    repo = os.path.join(os.environ.get("XC_CACHE", "/var/cache/xinchuang"), "maven")
    proc = subprocess.run(["mvn", "-B", "-q", "-Dmaven.repo.local=" + repo, "-f", os.path.join(out, "pom.xml"),
                           "package", "-DskipTests"], capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return os.path.join(out, "target", "hello.war")
