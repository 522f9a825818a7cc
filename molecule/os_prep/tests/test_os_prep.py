"""What xinchuang.cloud.os_prep leaves on each lab host (containers without network, packages
not installable), checked over `docker exec`."""

SYSCTL_FILE = "/etc/sysctl.d/90-xinchuang-kubernetes.conf"
MODULES_FILE = "/etc/modules-load.d/90-xinchuang-kubernetes.conf"
MEMBERS = {
    "xc-osp-amd64": "192.0.2.11",
    "xc-osp-arm64": "192.0.2.31",
    "xc-osp-mips64el": "192.0.2.61",
    "xc-osp-loong64": "192.0.2.41",
}


def _hosts_block(host):
    text = host.file("/etc/hosts").content_string
    begin = text.index("# BEGIN cluster members (xinchuang.cloud.os_prep)")
    end = text.index("# END cluster members (xinchuang.cloud.os_prep)")
    return text[begin:end].splitlines()[1:]


def test_hosts_file_lists_every_cluster_member_with_its_domain_name(host):
    lines = _hosts_block(host)
    for name, ip in MEMBERS.items():
        assert f"{ip} {name} {name}.lab.internal" in lines


def test_hosts_file_has_the_extra_entries_once(host):
    lines = _hosts_block(host)
    assert lines.count("192.0.2.71 harbor.lab.internal") == 1


def test_hosts_file_keeps_the_runtime_entries(host):
    assert "localhost" in host.file("/etc/hosts").content_string


def test_sysctl_file_sets_bridge_netfilter_and_forwarding(host):
    conf = host.file(SYSCTL_FILE)
    assert conf.is_file and conf.user == "root" and conf.mode == 0o644
    lines = conf.content_string.splitlines()
    for line in ("net.bridge.bridge-nf-call-iptables = 1", "net.bridge.bridge-nf-call-ip6tables = 1",
                 "net.ipv4.ip_forward = 1"):
        assert line in lines


def test_modules_load_file_names_overlay_and_br_netfilter_one_per_line(host):
    lines = [line for line in host.file(MODULES_FILE).content_string.splitlines()
             if line and not line.startswith("#")]
    assert lines == ["overlay", "br_netfilter"]


def test_chrony_was_not_installed_without_package_install(host):
    # os_prep_install_packages is false in this scenario (no network): nothing installed.
    assert not host.file("/usr/sbin/chronyd").exists
