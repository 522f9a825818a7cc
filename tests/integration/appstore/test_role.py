"""The appstore role and playbooks against real servers: the test bed's API server (kwok nodes of
every family, so Pods of an allowed family are scheduled and Running), the session's CNCF registry
(tests/integration/fixtures_registry.py) holding the applications' images as indexes, and Helm
built from upstream source (the bundle's helm row).

- sonarqube on mips is refused with the catalogue's message before anything changes;
- redis on c86 and arm, whose image index lacks arm64, is refused by the preflight, naming the
  application, the family and the image, and neither the chart nor the release appear;
- a bad value is rejected by the chart's schema and no release is made;
- nginx on c86 and arm: check mode changes nothing; then the chart is pushed as an OCI artifact
  and the release installed into appstore-nginx, its Pods Running on the amd64 and arm64 nodes
  only; a second run changes nothing (no push, no upgrade); appstore_list.yml prints and writes
  the 15 x 5 matrix with the image's presence and the installation;
- a password in redis's values is printed by neither the install nor the list.
"""

import base64
import json
import os
import subprocess
import sys
import threading
import uuid

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from tests.integration.ansible_run import ROOT, ansible_playbook
from tests.integration.fixtures_registry import make_image, push_index
from tests.proof import secrets as secrets_proof

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def images(registry):
    """nginx for amd64 and arm64; redis for amd64 only (its arm64 image "removed")."""
    client = registry.client()
    for name, tag, arches in (("nginx", "1.22.1", ("amd64", "arm64")), ("redis", "7.0.15", ("amd64",))):
        children = [make_image(arch.platform_dict(a), content="%s %s\n" % (name, a)) for a in arches]
        push_index(client, "appstore/" + name, tag, children)
    return registry


@pytest.fixture
def cluster(testbed, helm):
    made = []
    yield testbed, made
    for release, namespace in made:
        subprocess.run([helm, "uninstall", release, "-n", namespace, "--kubeconfig", testbed.kubeconfig],
                       capture_output=True, timeout=120, check=False)
        testbed.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")


def role_vars(testbed, registry, helm, apps, **extra):
    out = {"appstore_apps": apps, "appstore_registry": registry.host, "appstore_helm_binary": helm,
           "appstore_kubeconfig": testbed.kubeconfig, "appstore_wait_timeout": 120,
           "appstore_registry_auth": {"ca_file": registry.ca, "username": registry.username,
                                      "password": registry.password},
           "ansible_python_interpreter": sys.executable}
    out.update(extra)
    return out


def play(playbook, variables, check=False):
    report, proc = ansible_playbook(["-i", "localhost,", "-c", "local", os.path.join(ROOT, "playbooks", playbook)],
                                    extra_vars=variables, check=check)
    results = [dict(t["hosts"].get("localhost", {}), task=t["task"]["name"]) for p in report["plays"] for t in p["tasks"]]
    failed = " ".join(r.get("msg", "") for r in results if r.get("failed"))
    return proc, report["stats"]["localhost"], failed, results


def changed_releases(results):
    """The releases the role's install task changed (or, in check mode, would change), as the
    role names them after that task (whose results are hidden), checked against the number of
    items the hidden task itself reports changed."""
    named, counted = [], 0
    for result in results:
        if result["task"].endswith(" : Appstore | Install or upgrade each application"):
            counted += sum(1 for item in result.get("results", []) if item.get("changed"))
        if result["task"].endswith(" : Appstore | The releases installed or upgraded"):
            named += result["msg"]
    assert len(named) == counted, (named, counted)
    return sorted(named)


def printing(results, secret):
    """The tasks whose results show SECRET, in any form secrets_proof searches."""
    return [r["task"] for r in results if secrets_proof.leaks(json.dumps(r), {"secret": secret})]


def parent_pid(pid):
    """The parent of PID from /proc/PID/stat (after the command name, which may hold spaces)."""
    with open("/proc/%s/stat" % pid, "rb") as fh:
        return int(fh.read().rsplit(b")", 1)[1].split()[1])


class CommandLines:
    """Reads the command line (/proc/*/cmdline, what `ps` shows any user) of every process this test
    started, at any depth, while a run goes on; keeps those that hold SECRET, and those of helm, to
    prove helm's were seen. Other tests' processes (the other pytest workers', whose fixtures use the
    same test password) are not this run's and are left out."""

    def __init__(self, secret, helm):
        self.secret, self.helm = secret.encode(), helm.encode()
        self.leaked, self.helm_seen = set(), set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @staticmethod
    def _started_here(pid, root):
        try:
            while pid > 1:
                pid = parent_pid(pid)
                if pid == root:
                    return True
        except (OSError, IndexError, ValueError):
            pass
        return False

    def _watch(self):
        root = os.getpid()
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as fh:
                        line = fh.read()
                except OSError:
                    continue
                if not (self.secret in line or line.startswith(self.helm + b"\0")):
                    continue
                if not self._started_here(int(pid), root):
                    continue
                if self.secret in line:
                    self.leaked.add(line.replace(b"\0", b" ").decode(errors="replace"))
                if line.startswith(self.helm + b"\0"):
                    self.helm_seen.add(line.split(b"\0")[1].decode(errors="replace"))
            self._stop.wait(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def chart_in_registry(helm, registry, chart):
    return subprocess.run([helm, "show", "chart", "oci://%s/charts/%s" % (registry.host, chart), "--version",
                           "0.1.0", "--ca-file", registry.ca, "--username", registry.username, "--password",
                           registry.password], capture_output=True, timeout=120, check=False).returncode == 0


def test_sonarqube_on_mips_is_refused_before_anything_changes(cluster, images, helm):
    testbed, _made = cluster
    apps = [{"name": "sonarqube", "families": ["c86", "mips"]}]
    proc, stats, failed, _output = play("appstore.yml", role_vars(testbed, images, helm, apps))
    assert proc.returncode != 0
    assert ("application sonarqube is not adapted to family mips; families that have it: c86, arm, loongarch, sw64; "
            "nothing was changed") in failed, failed
    assert stats["changed"] == 0
    assert testbed.kubectl("get", "namespace", "appstore-sonarqube").returncode != 0


def test_an_image_without_the_arm64_platform_is_refused_by_the_preflight(cluster, images, helm):
    testbed, made = cluster
    made.append(("redis", "appstore-redis"))
    apps = [{"name": "redis", "families": ["c86", "arm"]}]
    proc, stats, failed, _output = play("appstore.yml", role_vars(testbed, images, helm, apps))
    assert proc.returncode != 0
    assert "application redis has no image for family arm (linux/arm64/v8)" in failed, failed
    assert "%s/appstore/redis:7.0.15 serves only linux/amd64" % images.host in failed
    assert stats["changed"] == 0
    assert not chart_in_registry(helm, images, "redis")
    assert testbed.kubectl("get", "namespace", "appstore-redis").returncode != 0


def test_a_value_the_schema_refuses_makes_no_release(cluster, images, helm):
    testbed, made = cluster
    namespace = "appstore-bad-" + uuid.uuid4().hex[:6]
    made.append(("nginx", namespace))
    proc, _stats, failed, _output = play("appstore.yml", role_vars(
        testbed, images, helm, [{"name": "nginx", "families": ["c86"], "namespace": namespace,
                                 "values": {"service": {"port": 70000}}}]))
    assert proc.returncode != 0
    assert "/service/port" in failed and "65535" in failed.replace(",", ""), failed
    listed = subprocess.run([helm, "list", "-n", namespace, "-q", "--kubeconfig", testbed.kubeconfig],
                            capture_output=True, text=True, timeout=60, check=True)
    assert listed.stdout.strip() == ""


def test_nginx_is_published_and_installed_on_its_families_once(cluster, images, helm, tmp_path):
    testbed, made = cluster
    made.append(("nginx", "appstore-nginx"))
    # The nodes pull by a name this controller cannot resolve (registry.local), as the lab's do
    # (xc-lab-registry): charts and image checks go to the registry's address instead.
    nodes_name = "registry.local:" + images.host.rsplit(":", 1)[1]
    variables = role_vars(testbed, images, helm, [{"name": "nginx", "families": ["c86", "arm"],
                                                   "values": {"replicaCount": 4}}],
                          appstore_registry=nodes_name, appstore_registry_endpoint=images.host)
    proc, stats, failed, output = play("appstore.yml", variables, check=True)
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    # Check mode names exactly the release it would install, and that is its only change.
    assert changed_releases(output) == ["nginx"] and stats["changed"] == 1, (changed_releases(output), stats)
    assert testbed.kubectl("get", "namespace", "appstore-nginx").returncode != 0, "check mode installed"

    with CommandLines(images.password, helm) as seen:
        proc, stats, failed, output = play("appstore.yml", variables)
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert changed_releases(output) == ["nginx"] and stats["changed"] == 2, stats  # the push and the release
    # The registry password is on no command line (helm registry login --password-stdin), and
    # the watcher did see helm's: the login, the look-up, the push.
    assert seen.leaked == set(), seen.leaked
    assert {"registry", "show", "push"} <= seen.helm_seen, seen.helm_seen
    assert chart_in_registry(helm, images, "nginx")
    releases = json.loads(subprocess.run([helm, "list", "-n", "appstore-nginx", "-o", "json", "--kubeconfig",
                                          testbed.kubeconfig], capture_output=True, text=True, timeout=60,
                                         check=True).stdout)
    assert [(r["name"], r["chart"], r["status"]) for r in releases] == [("nginx", "nginx-0.1.0", "deployed")]
    pods = testbed.get_json("pods", "-n", "appstore-nginx", "-l", "app.kubernetes.io/name=nginx")["items"]
    assert len(pods) == 4 and all(p["status"]["phase"] == "Running" for p in pods)
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {nodes_name + "/appstore/nginx:1.22.1"}
    # On both families' nodes, not only where the scheduler scored best (the role's spread).
    nodes = sorted(p["spec"]["nodeName"] for p in pods)
    assert set(nodes) == {"kwok-c86-0", "kwok-arm-0"}, nodes

    proc, stats, failed, _output = play("appstore.yml", variables)
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert stats["changed"] == 0, "a second run changed something"

    path = tmp_path / "appstore.md"
    proc, _stats, failed, results = play("appstore_list.yml", dict(
        variables, appstore_list_path=str(path), appstore_list_images=True, appstore_list_installed=True))
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    printed = [r["msg"] for r in results if isinstance(r.get("msg"), list)][0]
    assert len(printed) == 16 and printed[0].split() == ["application", "buildable", "here", "C86", "ARM", "LoongArch",
                                                         "SW64", "MIPS"]
    lines = path.read_text().splitlines()
    assert len(lines) == 17
    assert lines[2] == ("| nginx | recipe nginx: C86, ARM, LoongArch, MIPS | adapted, present, installed "
                        "| adapted, present, installed | adapted, MISSING | adapted, MISSING | adapted, MISSING |")
    assert lines[5].startswith("| redis | recipe redis: C86, ARM, LoongArch, MIPS | adapted, present "
                               "| adapted, MISSING |")
    assert lines[16] == ("| sonarqube | no: site registry | adapted, MISSING | adapted, MISSING | adapted, MISSING "
                         "| adapted, MISSING | not adapted |")


def test_a_password_in_the_values_is_printed_by_no_run(cluster, images, helm, tmp_path):
    """redis on c86 with a password in its values (the chart keeps it in a Secret): the install
    and appstore_list.yml reading the release print it in no form, though Helm's results hold
    the values and the manifest (the role hides them and names the release changed instead)."""
    testbed, made = cluster
    namespace = "appstore-pw-" + uuid.uuid4().hex[:6]
    made.append(("redis", namespace))
    password = uuid.uuid4().hex
    variables = role_vars(testbed, images, helm, [{"name": "redis", "families": ["c86"], "namespace": namespace,
                                                   "values": {"password": password}}])
    proc, _stats, failed, output = play("appstore.yml", variables)
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert changed_releases(output) == ["redis"]
    assert secrets_proof.leaks(proc.stdout + proc.stderr, {"password": password}) == [], printing(output, password)
    secret = testbed.get_json("secret", "-n", namespace, "-l", "app.kubernetes.io/instance=redis")["items"]
    assert any(password in base64.b64decode(value).decode() for s in secret for value in s["data"].values()), \
        "the password is not in the release's Secret: the run above proved nothing"

    path = tmp_path / "appstore.md"
    proc, _stats, failed, output = play("appstore_list.yml", dict(
        variables, appstore_list_path=str(path), appstore_list_installed=True))
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert secrets_proof.leaks(proc.stdout + proc.stderr, {"password": password}) == [], printing(output, password)
    redis = [line for line in path.read_text().splitlines() if line.startswith("| redis |")]
    assert redis == ["| redis | recipe redis: C86, ARM, LoongArch, MIPS | adapted, installed | adapted | adapted "
                     "| adapted | adapted |"], redis


def test_a_site_adds_an_application_without_restating_the_catalogue(cluster, images, helm, tmp_path):
    """appstore_catalogue_extra: a new application (minio, on c86 and arm) and one field of a Table 2
    entry, merged over the default catalogue; the matrix has Table 2's 15 rows and the new one."""
    testbed, _made = cluster
    extra = {"minio": {"kind": "object store", "chart": "nginx", "chart_version": "0.1.0", "families": ["c86", "arm"],
                       "image": {"repository": "appstore/minio", "tag": "1.0"}, "debian_package": "", "values": {}},
             "nginx": {"values": {"replicaCount": 2}}}
    path = tmp_path / "appstore.md"
    proc, _stats, failed, _results = play("appstore_list.yml", dict(
        role_vars(testbed, images, helm, []), appstore_catalogue_extra=extra, appstore_list_path=str(path)))
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    rows = [line.split("|")[1].strip() for line in path.read_text().splitlines()[2:]]
    assert len(rows) == 16 and rows[-1] == "minio" and rows[0] == "nginx", rows
    minio = path.read_text().splitlines()[-1]
    assert minio == "| minio | no: site registry | adapted | adapted | not adapted | not adapted | not adapted |", minio
