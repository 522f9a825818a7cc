# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the registry role decides on the controller (plugins/plugin_utils/registry/config.py):
its users, the host's port and storage, distribution's configuration. The ``ss`` lines are the
ones seen on the lab hosts (a registry under systemd in a container: cgroup, no process; under
QEMU user emulation: uid only; on a host where root traces processes: the process)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.registry import config as rc


# --- users ---------------------------------------------------------------------------------------

def test_users_give_their_names_in_order():
    assert rc.check_users([{"name": "alice", "password": "a"}, {"name": "ci-bot", "password": "b"}]) \
        == ["alice", "ci-bot"]
    assert rc.check_users([]) == [] and rc.check_users(None) == []


@pytest.mark.parametrize("users, expected", [
    ([{"name": "carol"}], "user 'carol' has no password"),
    ([{"name": "carol", "password": ""}], "user 'carol' has no password"),
    ([{"name": "a:b", "password": "pw-secret-1"}], "user 'a:b': name must be"),
    ([{"name": "bad name", "password": "pw-secret-1"}], "user 'bad name': name must be"),
    ([{"password": "pw-secret-1"}], "entry 1: name must be"),
    ([{"name": "al", "password": "pw-secret-1"}, {"name": "al", "password": "pw-secret-2"}],
     "user 'al' is listed twice"),
    ([{"name": "al", "password": "pw-secret\n1"}], "user 'al': the password holds a line break"),
    ([{"name": "al", "password": "é" * 37}], "longer than 72 bytes"),
    (["alice"], "entry 1 is not a {name, password} mapping"),
])
def test_bad_users_are_refused_naming_the_user_not_the_password(users, expected):
    with pytest.raises(rc.RegistrySettingsError) as err:
        rc.check_users(users)
    assert expected in str(err.value)
    assert str(err.value).startswith("registry_users: ")
    for user in users:
        if isinstance(user, dict) and user.get("password"):
            assert user["password"] not in str(err.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(rc.RegistrySettingsError) as err:
        rc.check_users([{"name": "a"}, {"name": "b"}])
    assert "'a' has no password" in str(err.value) and "'b' has no password" in str(err.value)


def test_htpasswd_input_is_one_password_per_line_in_list_order():
    users = [{"name": "a", "password": "p 1:x"}, {"name": "b", "password": "p2"}]
    assert rc.htpasswd_input(users) == "p 1:x\np2\n"


# --- the host -----------------------------------------------------------------------------------

# Seen on the lab: systemd in a docker container (cgroup v2, no CAP_SYS_PTRACE)...
SS_CGROUP = ("LISTEN 0 4096 *:5000 *:* uid:100 ino:900001 sk:1 cgroup:/docker/2bee7be2/system.slice/"
             "docker-registry.service v6only:0 <->")
# ... another service there, whose process root may see ...
SS_OTHER = ('LISTEN 0 5 0.0.0.0:5000 0.0.0.0:* users:(("python3",pid=195,fd=3)) ino:77 sk:2 '
            'cgroup:/docker/2bee7be2/system.slice/xc-port-squatter.service <->')
# ... and QEMU user emulation (no sock_diag: ss reads /proc/net/tcp).
SS_QEMU = "LISTEN 0 0 0.0.0.0:5000 0.0.0.0:* uid:100 ino:1028816 sk:87582a63"

PROBE = "\n".join([
    "has_ss\tyes", "listen\t" + SS_CGROUP, "has_htpasswd\tyes", "systemd\tyes", "main_pid\t412",
    "user_uid\t100", "calendar_ok\tyes", "storage_real\t/var/lib/docker-registry",
    "storage_mount\t/", "foreign_mount\t/var/lib/containerd\t/var/lib/containerd",
    "installed\tdocker-registry", "installed\tapache2-utils",
    "candidate\t  Candidate: 2.8.2+ds1-1",
])


def test_probe_is_read():
    probe = rc.parse_probe(PROBE)
    assert probe["main_pid"] == 412 and probe["user_uid"] == 100
    assert probe["has_ss"] and probe["has_htpasswd"] and probe["systemd"] and probe["calendar_ok"]
    assert probe["listen"] == [SS_CGROUP]
    assert probe["foreign_mounts"] == {"/var/lib/containerd": "/var/lib/containerd"}
    assert probe["installed"] == ["docker-registry", "apache2-utils"]
    assert probe["candidate"] == "2.8.2+ds1-1"
    assert rc.parse_probe("candidate\t  Candidate: (none)")["candidate"] == ""
    assert rc.parse_probe("candidate\t2.8.3")["candidate"] == "2.8.3"  # dnf repoquery
    assert rc.parse_probe("")["systemd"] is False


def test_the_registrys_own_listener_is_not_a_conflict():
    assert rc.port_conflicts([SS_CGROUP], 5000, [412], "docker-registry.service") == []
    assert rc.port_conflicts([SS_QEMU], 5000, [412], "docker-registry.service", own_uid=100) == []
    named = 'LISTEN 0 4096 *:5000 *:* users:(("docker-registry",pid=412,fd=3))'
    assert rc.port_conflicts([named], 5000, [412]) == []


def test_another_listener_is_named_with_its_unit():
    assert rc.port_conflicts([SS_OTHER], 5000, [412], "docker-registry.service") == \
        ["python3 (pid 195) of xc-port-squatter.service on 0.0.0.0:5000"]
    # The registry's unit stopped (no uid given): a uid-only listener is someone else's.
    assert rc.port_conflicts([SS_QEMU], 5000, [0], "docker-registry.service") == \
        ["a process of uid 100 on 0.0.0.0:5000"]
    # Another port on the line is not this one.
    assert rc.port_conflicts([SS_OTHER.replace(":5000", ":50001")], 5000) == []


def test_host_problems_name_port_and_storage():
    probe = rc.parse_probe(PROBE.replace(SS_CGROUP, SS_OTHER))
    problems = rc.host_problems(probe, 5000, "/var/lib/docker-registry", unit="docker-registry.service")
    assert problems == ["port 5000 is held by python3 (pid 195) of xc-port-squatter.service on "
                        "0.0.0.0:5000: stop that service or set registry_port"]
    assert "install iproute2" in rc.host_problems(rc.parse_probe(""), 5000, "/srv/registry")[0]


@pytest.mark.parametrize("path, real, mount, foreign_mounts, expected", [
    ("/var/lib/docker-registry", "/var/lib/docker-registry", "/", {}, ""),
    ("/srv/registry", "/srv/registry", "/srv", {"/var/lib/etcd": "/var"}, ""),
    ("/var/lib/containerd/registry", "", "/", {}, "lies in /var/lib/containerd"),
    ("/var/lib", "/var/lib", "/", {}, "holds /var/lib/etcd"),
    ("/srv/registry", "/var/lib/docker/registry", "/", {}, "/var/lib/docker/registry lies in /var/lib/docker"),
    ("/data/registry", "/data/registry", "/data", {"/var/lib/etcd": "/data"},
     "mounted at /data, which also holds /var/lib/etcd"),
    ("/data/registry", "/data/registry", "/", {"/var/lib/etcd": "/"}, ""),  # the root fs is shared
    ("relative/path", "", "/", {}, "is not an absolute path"),
])
def test_storage_conflicts(path, real, mount, foreign_mounts, expected):
    found = rc.storage_conflict(path, real, mount, foreign_mounts=foreign_mounts)
    if expected:
        assert expected in found
    else:
        assert found == ""


# --- config.yml ---------------------------------------------------------------------------------

SETTINGS = {"storage_path": "/var/lib/docker-registry", "delete_enabled": True, "listen_address": "",
            "port": 5000, "cert_path": "/etc/r/server.crt", "key_path": "/etc/r/server.key",
            "htpasswd_path": "/etc/r/htpasswd", "realm": "xc", "http_secret": "", "log_level": "info",
            "extra": {}}


def test_config_carries_the_settings():
    config = rc.distribution_config(SETTINGS)
    assert config["version"] == 0.1
    assert config["http"]["addr"] == ":5000" and "secret" not in config["http"]
    assert config["http"]["tls"] == {"certificate": "/etc/r/server.crt", "key": "/etc/r/server.key"}
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["storage"]["filesystem"] == {"rootdirectory": "/var/lib/docker-registry"}
    assert config["auth"] == {"htpasswd": {"realm": "xc", "path": "/etc/r/htpasswd"}}


def test_config_without_users_has_no_auth_and_listens_where_told():
    config = rc.distribution_config(dict(SETTINGS, htpasswd_path="", listen_address="fd00::5",
                                         http_secret="s"))
    assert "auth" not in config
    assert config["http"]["addr"] == "[fd00::5]:5000" and config["http"]["secret"] == "s"


def test_extra_is_merged_last_and_null_removes():
    config = rc.distribution_config(dict(SETTINGS, extra={
        "storage": {"cache": None, "maintenance": {"uploadpurging": {"age": "24h"}}},
        "proxy": {"remoteurl": "https://mirror.example"}}))
    assert "cache" not in config["storage"]
    assert config["storage"]["maintenance"]["uploadpurging"]["age"] == "24h"
    assert config["storage"]["maintenance"]["uploadpurging"]["enabled"] is True
    assert config["proxy"] == {"remoteurl": "https://mirror.example"}


@pytest.mark.parametrize("change, expected", [
    ({"port": 70000}, "registry_port 70000 is not a TCP port"),
    ({"listen_address": "registry.lab"}, "registry_listen_address 'registry.lab' is not an IP address"),
])
def test_bad_settings_are_refused(change, expected):
    with pytest.raises(rc.RegistrySettingsError) as err:
        rc.distribution_config(dict(SETTINGS, **change))
    assert expected in str(err.value)
