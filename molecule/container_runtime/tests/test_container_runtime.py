"""What the container_runtime role must leave on each lab host, checked over `docker exec`.

The platform name ends in the host's Debian architecture (xc-cr-<arch>).
"""

import pytest

# Debian arch -> what the emulated host reports and whether systemd is PID 1 there.
EXPECTED = {
    "amd64": {"goarch": "amd64", "systemd": True},
    "arm64": {"goarch": "arm64", "systemd": True},
    "mips64el": {"goarch": "mips64le", "systemd": True},
    "loong64": {"goarch": "loong64", "systemd": False},
}
BINARIES = ["/usr/local/bin/containerd", "/usr/local/bin/containerd-shim-runc-v2",
            "/usr/local/bin/ctr"]
CNI = ["bridge", "host-local", "loopback", "portmap"]
REGISTRIES = ["harbor.lab.local", "docker.io", "registry.k8s.io", "quay.io", "ghcr.io"]


@pytest.fixture(name="expected")
def fixture_expected(host):
    arch = host.backend.get_hostname().rsplit("-", 1)[-1]
    assert arch in EXPECTED, f"platform {host.backend.get_hostname()!r}: unknown arch"
    return EXPECTED[arch]


@pytest.mark.parametrize("path", BINARIES)
def test_containerd_binaries_land_executable(host, path):
    f = host.file(path)
    assert f.is_file and f.mode == 0o755


@pytest.mark.parametrize("plugin", CNI)
def test_cni_plugins_land_in_opt_cni_bin(host, plugin):
    assert host.file(f"/opt/cni/bin/{plugin}").mode == 0o755


def test_containerd_runs_under_emulation_and_is_the_bundle_version(host):
    out = host.check_output("/usr/local/bin/containerd --version")
    assert " 2.4.2" in out


def test_containerd_binary_is_built_for_the_host_goarch(host, expected):
    # `file`-free check: ELF e_machine differs per GOARCH, so a wrong binary would not run.
    assert host.run("/usr/local/bin/ctr --version").rc == 0


def test_runc_runs(host):
    cfg = host.file("/etc/containerd/config.toml").content_string
    binary = cfg.split('BinaryName = "', 1)[1].split('"', 1)[0]
    assert host.file(binary).mode == 0o755
    # Debian's runc (the bundle's) links libseccomp2: the sid loong64 lab image carries it
    # since recipe 3 (hack/lab/archs.sh).
    result = host.run(f"{binary} --version")
    assert result.rc == 0 and "runc version" in result.stdout, result.stderr


def test_config_is_version_3_with_the_private_sandbox_image(host):
    cfg = host.file("/etc/containerd/config.toml").content_string
    assert "version = 3" in cfg
    assert 'sandbox = "harbor.lab.local/library/pause:3.10.1"' in cfg
    assert 'config_path = "/etc/containerd/certs.d"' in cfg
    # No CAP_SYS_RESOURCE in the lab containers: detected.
    assert "restrict_oom_score_adj = true" in cfg
    # The lab mounts the host's cgroup v1 tree: cgroupfs.
    assert "SystemdCgroup = false" in cfg


@pytest.mark.parametrize("registry", REGISTRIES)
def test_hosts_toml_for_every_registry(host, registry):
    f = host.file(f"/etc/containerd/certs.d/{registry}/hosts.toml")
    assert f.is_file and f.mode == 0o600  # the private registry's credentials are inside
    text = f.content_string
    if registry != "harbor.lab.local":
        assert text.index("harbor.lab.local") < text.index("[host.\"https://mirror.lab.local:5000\"]")


def test_docker_io_goes_to_the_harbor_proxy_project_first(host):
    text = host.file("/etc/containerd/certs.d/docker.io/hosts.toml").content_string
    assert 'server = "https://registry-1.docker.io"' in text
    order = [text.index(s) for s in ('[host."https://harbor.lab.local/v2/dockerhub-proxy"]',
                                     '[host."https://docker.m.daocloud.io"]',
                                     '[host."https://mirror.lab.local:5000"]')]
    assert order == sorted(order)


def test_registry_ca_installed(host):
    assert "BEGIN CERTIFICATE" in host.file(
        "/etc/containerd/certs.d/_ca/harbor.lab.local.crt").content_string


def test_unit_file_written(host):
    unit = host.file("/etc/systemd/system/containerd.service").content_string
    assert "ExecStart=/usr/local/bin/containerd --config /etc/containerd/config.toml" in unit
    assert "OOMScoreAdjust" not in unit


def test_containerd_service_answers_where_systemd_runs(host, expected):
    answers = host.run("/usr/local/bin/ctr --address /run/containerd/containerd.sock version").rc == 0
    if expected["systemd"]:
        assert host.service("containerd").is_running
        assert answers
    else:
        # No systemd as PID 1 (sid loong64): the unit is written and nothing is started.
        assert not answers
