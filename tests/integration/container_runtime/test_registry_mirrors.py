"""The container_runtime role proven by containerd 2.x itself, on the host (not in the lab:
its hosts have no network).

Two docker-registry instances on 127.0.0.1, each with its own self-signed CA and htpasswd:
the first is the private registry (Harbor's place), the second a domestic mirror; the probe
image is pushed into the second only. The role runs on localhost with every path under a
temp dir (check mode, real, idempotence in check mode, idempotence), a containerd built from
the matrix starts with the role's config.toml, and ``ctr images pull --hosts-dir`` of a
name whose certs.d points at the two registries must come from the mirror while the private
registry is stopped. Offline mode then drops everything but the private registry.
"""

import os
import shutil
import subprocess
import tomllib

import pytest

from tests.integration.fixtures_containerd import (
    ContainerdProcess, host_goarch, role_failure, run_role)
from tests.integration.fixtures_registry import make_image, skopeo_push

pytestmark = pytest.mark.slow

UPSTREAM = "registry.example"  # reserved TLD: the upstream server never answers
REPOSITORY = "library/xinchuang-probe"


@pytest.fixture(scope="module")
def workdir():
    path = os.path.realpath(os.path.join("/var/tmp", "xc-containerd-test"))
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    yield path
    subprocess.run(["umount", "-R", path], capture_output=True, check=False)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def registries():
    """(private, mirror): throw-away TLS + htpasswd registries (fixtures_registry)."""
    import tempfile
    from tests.integration.fixtures_registry import RegistryPair
    made = []
    try:
        for _attempt in range(2):
            made.append(RegistryPair(tempfile.mkdtemp(prefix="xc-registry-cr-")).start())
        yield made[0], made[1]
    finally:
        for pair in made:
            pair.stop()
            shutil.rmtree(pair.workdir, ignore_errors=True)


def endpoint(pair):
    return {"url": "https://" + pair.host, "ca_file": pair.ca,
            "username": pair.username, "password": pair.password}


@pytest.fixture(scope="module")
def role_vars(workdir, registries, containerd_bundle):
    bundle_root, version, _bundle_dir = containerd_bundle
    private, mirror = registries
    tree = os.path.join(workdir, "root")
    return {
        "container_runtime_bundle_dir": bundle_root,
        "container_runtime_kubernetes_version": version,
        "container_runtime_bin_dir": tree + "/usr/local/bin",
        "container_runtime_cni_bin_dir": tree + "/opt/cni/bin",
        "container_runtime_cni_conf_dir": tree + "/etc/cni/net.d",
        "container_runtime_config_dir": tree + "/etc/containerd",
        "container_runtime_root_dir": tree + "/var/lib/containerd",
        "container_runtime_state_dir": tree + "/run/containerd",
        "container_runtime_unit_dir": tree + "/etc/systemd/system",
        "container_runtime_runc_bundle_path": tree + "/usr/local/sbin/runc",
        # The host's own containerd (Debian's, under dockerd) is an earlier one to report.
        "container_runtime_legacy_paths": ["/usr/bin/containerd", tree + "/usr/local/bin/containerd"],
        "container_runtime_manage_service": False,
        # NRI's socket path is host-wide; the host's containerd may own it.
        "container_runtime_disabled_plugins": ["io.containerd.nri.v1.nri"],
        "container_runtime_private_registry": endpoint(private),
        "container_runtime_registry_mirrors": [endpoint(mirror)],
        "container_runtime_upstream_registries": [UPSTREAM, "docker.io"],
    }


@pytest.fixture(scope="module")
def converged(role_vars):
    """Check mode, real run, then both again: the first changes, the repeats do not."""
    config = os.path.join(role_vars["container_runtime_config_dir"], "config.toml")
    results, stats, _output = run_role(role_vars, check=True)
    assert not stats.get("failures"), role_failure(results)
    assert stats["changed"] > 0
    assert not os.path.exists(config), "check mode wrote config.toml"

    results, stats, _output = run_role(role_vars)
    assert not stats.get("failures"), role_failure(results)
    assert stats["changed"] > 0
    first = results

    for check in (True, False):
        results, stats, _output = run_role(role_vars, check=check)
        assert not stats.get("failures"), role_failure(results)
        changed = [r["_task"] for r in results if r.get("changed")]
        assert stats["changed"] == 0, "second run (check=%s) changed: %s" % (check, changed)
    return first


@pytest.fixture(scope="module")
def containerd(role_vars, converged, workdir):
    proc = ContainerdProcess(
        os.path.join(role_vars["container_runtime_bin_dir"], "containerd"),
        os.path.join(role_vars["container_runtime_config_dir"], "config.toml"),
        os.path.join(role_vars["container_runtime_state_dir"], "containerd.sock"),
        os.path.join(workdir, "containerd.log")).start()
    yield proc
    proc.stop()


def ctr(role_vars, *args, check=True):
    binary = os.path.join(role_vars["container_runtime_bin_dir"], "ctr")
    sock = os.path.join(role_vars["container_runtime_state_dir"], "containerd.sock")
    proc = subprocess.run([binary, "--address", sock] + list(args), capture_output=True,
                          text=True, timeout=300, check=False)
    if check:
        assert proc.returncode == 0, "ctr %s failed:\n%s%s" % (" ".join(args), proc.stdout,
                                                               proc.stderr)
    return proc


def pull(role_vars, ref, check=True):
    certs_d = os.path.join(role_vars["container_runtime_config_dir"], "certs.d")
    return ctr(role_vars, "images", "pull", "--hosts-dir", certs_d, ref, check=check)


def hosts_toml(role_vars, registry):
    path = os.path.join(role_vars["container_runtime_config_dir"], "certs.d", registry,
                        "hosts.toml")
    with open(path, "rb") as fh:
        return tomllib.load(fh), oct(os.stat(path).st_mode & 0o777)


def test_role_reports_the_earlier_containerd_it_replaces(converged):
    # hack/deps.sh installs Debian's docker.io, which brings containerd 1.6: the earlier
    # containerd this test needs is always there.
    assert os.path.exists("/usr/bin/containerd"), "Debian's containerd is missing: run hack/deps.sh"
    msgs = [item.get("msg", "") for r in converged if "replaces the earlier" in r["_task"]
            for item in r.get("results", [])]
    text = " ".join(str(m) for m in msgs)
    assert "/usr/bin/containerd will be replaced by containerd 2.4.2" in text, text


def test_hosts_toml_orders_private_mirror_then_upstream(role_vars, registries, converged):
    private, mirror = registries
    data, mode = hosts_toml(role_vars, UPSTREAM)
    assert data["server"] == "https://" + UPSTREAM
    assert list(data["host"]) == ["https://" + private.host, "https://" + mirror.host]
    for pair in (private, mirror):
        host = data["host"]["https://" + pair.host]
        assert host["capabilities"] == ["pull", "resolve"]
        assert host["header"]["Authorization"].startswith("Basic ")
        with open(host["ca"]) as fh:
            assert fh.read().strip() == open(pair.ca).read().strip()
    assert mode == "0o600"  # credentials inside
    docker, _path = hosts_toml(role_vars, "docker.io")
    assert docker["server"] == "https://registry-1.docker.io"


def test_installed_containerd_is_the_bundle_version(role_vars, converged):
    out = subprocess.run([os.path.join(role_vars["container_runtime_bin_dir"], "containerd"),
                          "--version"], capture_output=True, text=True, check=True).stdout
    assert " 2.4.2" in out


def test_config_toml_is_what_containerd_loads(role_vars, containerd):
    """containerd's own view of the rendered config (config dump merges it with defaults)."""
    dump = subprocess.run(
        [os.path.join(role_vars["container_runtime_bin_dir"], "containerd"), "--config",
         os.path.join(role_vars["container_runtime_config_dir"], "config.toml"),
         "config", "dump"], capture_output=True, text=True, check=True).stdout
    cfg = tomllib.loads(dump)
    images = cfg["plugins"]["io.containerd.cri.v1.images"]
    runtime = cfg["plugins"]["io.containerd.cri.v1.runtime"]
    assert images["registry"]["config_path"].endswith("/etc/containerd/certs.d")
    assert images["pinned_images"]["sandbox"] == "127.0.0.1:%s/library/pause:3.10.1" % (
        role_vars["container_runtime_private_registry"]["url"].rsplit(":", 1)[1])
    runc = runtime["containerd"]["runtimes"]["runc"]["options"]
    assert runc["SystemdCgroup"] is (os.path.exists("/sys/fs/cgroup/cgroup.controllers")
                                     and os.path.realpath("/proc/1/exe").endswith("systemd"))
    assert os.path.exists(runc["BinaryName"])
    assert isinstance(runtime["restrict_oom_score_adj"], bool)
    assert runtime["cni"]["bin_dirs"] == [role_vars["container_runtime_cni_bin_dir"]]
    assert cfg["root"] == role_vars["container_runtime_root_dir"]


def test_pull_comes_from_the_mirror_while_the_private_registry_is_down(
        role_vars, registries, containerd, workdir):
    private, mirror = registries
    image = make_image({"architecture": host_goarch(), "os": "linux"}, content="probe v1\n")
    digest = skopeo_push(mirror, image, REPOSITORY, "v1", workdir)
    private.tls.stop()
    since = mirror.tls.log_size()
    proc = pull(role_vars, "%s/%s:v1" % (UPSTREAM, REPOSITORY))
    assert digest in ctr(role_vars, "images", "ls").stdout, proc.stdout
    served = mirror.tls.access_lines(since)
    assert any("/v2/%s/manifests/v1" % REPOSITORY in line and '" 200 ' in line
               for line in served), served


def test_offline_pull_fails_when_the_private_registry_is_down(
        role_vars, registries, containerd, workdir):
    private, mirror = registries
    offline = dict(role_vars, container_runtime_offline=True)
    results, stats, _output = run_role(offline, tasks_from="registry_hosts")
    assert not stats.get("failures"), role_failure(results)
    data, _path = hosts_toml(role_vars, UPSTREAM)
    assert data["server"] == "https://" + private.host and "host" not in data

    image = make_image({"architecture": host_goarch(), "os": "linux"}, content="probe v2\n")
    skopeo_push(mirror, image, REPOSITORY, "v2", workdir)
    private.tls.stop()
    since = mirror.tls.log_size()
    proc = pull(role_vars, "%s/%s:v2" % (UPSTREAM, REPOSITORY), check=False)
    assert proc.returncode != 0, proc.stdout
    assert mirror.tls.access_lines(since) == [], "offline mode still asked the mirror"

    # The same pull through the private registry, once it is back and has the image.
    private.tls.start()
    skopeo_push(private, image, REPOSITORY, "v2", workdir)
    pull(role_vars, "%s/%s:v2" % (UPSTREAM, REPOSITORY))
    assert mirror.tls.access_lines(since) == []
