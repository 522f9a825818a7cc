# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the harbor role decides on the controller (plugins/plugin_utils/harbor/config.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.harbor import config as hc

SETTINGS = {
    "version": "v2.15.2", "hostname": "harbor.lab.example", "http_port": 80, "https_port": 443,
    "cert_path": "/etc/harbor/tls/server.crt", "key_path": "/etc/harbor/tls/server.key",
    "external_url": "", "admin_password": "Admin-Secret-1", "database_password": "Db-Secret-1",
    "database": {}, "external_database": {}, "external_redis": {}, "data_volume": "/data/harbor",
    "storage": {"backend": "filesystem", "options": {}, "ca_bundle": ""}, "trivy": {},
    "max_job_workers": 10, "log_level": "info", "log_location": "/var/log/harbor", "proxy": {},
    "extra": {},
}


# --- versions ---------------------------------------------------------------------------------

def test_versions_compare_as_releases():
    assert hc.parse_version("v2.15.2") == hc.parse_version("2.15.2")
    assert hc.parse_version("v2.9.0") < hc.parse_version("v2.10.0")  # not as strings
    assert hc.parse_version("v2.15.0-rc1") < hc.parse_version("v2.15.0")
    assert hc.config_version("v2.15.2") == "2.15.0"
    with pytest.raises(hc.HarborSettingsError) as err:
        hc.parse_version("latest")
    assert "harbor_version 'latest' is not a Harbor release version" in str(err.value)


@given(st.tuples(*[st.integers(0, 40)] * 3), st.tuples(*[st.integers(0, 40)] * 3))
def test_plan_follows_the_order_of_versions(a, b):
    older, newer = sorted([a, b])
    va, vb = "v%d.%d.%d" % older, "v%d.%d.%d" % newer
    plan = hc.upgrade_plan(va, vb, data_present=True)
    assert plan["action"] == ("keep" if older == newer else "upgrade") and plan["problems"] == []
    if older != newer:
        back = hc.upgrade_plan(vb, va, data_present=True)
        assert back["action"] == "refuse" and "a downgrade is refused" in back["problems"][0]


def test_plan_for_a_new_or_foreign_data_volume():
    assert hc.upgrade_plan("", "v2.15.2") == {"action": "install", "problems": []}
    refused = hc.upgrade_plan("", "v2.15.2", data_present=True)
    assert refused["action"] == "refuse" and "no record of the version" in refused["problems"][0]
    garbage = hc.upgrade_plan("yesterday", "v2.15.2", data_present=True)
    assert garbage["action"] == "refuse" and "'yesterday', which is not a version" in garbage["problems"][0]


# --- the bundle ---------------------------------------------------------------------------------

def test_installers_are_read_from_their_names():
    paths = ["/b/harbor/amd64/harbor-offline-installer-v2.15.2.tgz",
             "/b/harbor/amd64/harbor-offline-installer-v2.9.1.tgz",
             "/b/harbor/arm64/harbor-offline-installer-v2.14.1.tgz",
             "/b/harbor/arm64/harbor-online-installer-v2.15.2.tgz",
             "/b/harbor/loong64/notes.txt"]
    assert hc.installers(paths) == {"amd64": ["v2.9.1", "v2.15.2"], "arm64": ["v2.14.1"]}


def test_installer_problem_names_the_architecture_and_what_is_there():
    holdings = {"amd64": ["v2.15.2"], "arm64": ["v2.14.1"]}
    assert hc.installer_problem(holdings, "amd64", "v2.15.2", "/b", "h1") == ""
    problem = hc.installer_problem(holdings, "loong64", "v2.15.2", "/b", "h1")
    assert problem.startswith("host h1 (GOARCH loong64): the bundle holds no Harbor v2.15.2 offline "
                              "installer for loong64 (it holds amd64: v2.15.2; arm64: v2.14.1)")
    assert "/b/harbor/loong64/" in problem
    assert "(it holds none)" in hc.installer_problem({}, "arm64", "v2.15.2", "/b", "h1")


# --- harbor.yml ---------------------------------------------------------------------------------

def test_harbor_yml_carries_the_settings():
    doc = hc.harbor_yml(SETTINGS)
    assert doc["hostname"] == "harbor.lab.example"
    assert doc["https"] == {"port": 443, "certificate": "/etc/harbor/tls/server.crt",
                            "private_key": "/etc/harbor/tls/server.key"}
    assert doc["_version"] == "2.15.0"
    assert doc["database"]["password"] == "Db-Secret-1"
    assert "storage_service" not in doc and "external_database" not in doc
    assert doc["trivy"]["skip_update"] is True and doc["trivy"]["offline_scan"] is True
    assert doc["proxy"]["components"] == ["core", "jobservice", "trivy"]
    assert "http" in doc and "external_url" not in doc


def test_harbor_yml_without_http_and_with_extra():
    doc = hc.harbor_yml(dict(SETTINGS, http_port=0, external_url="https://harbor.example:8443",
                             extra={"cache": {"enabled": True}, "upload_purging": None}))
    assert "http" not in doc and doc["external_url"] == "https://harbor.example:8443"
    assert doc["cache"] == {"enabled": True, "expire_hours": 24}
    assert "upload_purging" not in doc


def test_storage_service_for_another_driver_and_redirect():
    doc = hc.harbor_yml(dict(SETTINGS, storage={"backend": "oss", "options": {"bucket": "b"},
                                                "ca_bundle": "/ca.pem", "redirect_disabled": True}))
    assert doc["storage_service"] == {"oss": {"bucket": "b"}, "ca_bundle": "/ca.pem",
                                      "redirect": {"disable": True}}


@pytest.mark.parametrize("change, expected", [
    ({"hostname": "reg.mydomain.com"}, "harbor_hostname 'reg.mydomain.com'"),
    ({"hostname": "127.0.0.2"}, "harbor_hostname '127.0.0.2'"),
    ({"admin_password": ""}, "harbor_admin_password is empty"),
    ({"admin_password": "Harbor12345"}, "harbor_admin_password is the template's example password"),
    ({"database_password": "root123"}, "harbor_database_password is the template's example password"),
    ({"database_password": ""}, "harbor_database_password is empty"),
    ({"cert_path": ""}, "harbor_tls_cert_file and harbor_tls_key_file"),
    ({"https_port": 0}, "harbor_https_port 0 is not a TCP port"),
    ({"external_database": {"host": "pg", "port": 5432, "db_name": "r", "username": "u",
                            "password": "p", "ssl_mode": "prefer"}},
     "harbor_external_database.ssl_mode 'prefer' is not one of"),
    ({"external_redis": {"host": "a:1,b"}}, "harbor_external_redis.host 'a:1,b' must be host:port"),
    ({"storage": {"backend": "ceph"}}, "harbor_storage_backend 'ceph' is not one of"),
    ({"storage": {"backend": "s3", "options": {}}}, "harbor_storage_backend s3 needs harbor_storage_options"),
    ({"log_level": "trace"}, "harbor_log_level 'trace' is not one of"),
    ({"proxy": {"components": ["registry"]}}, "harbor_proxy.components registry: Harbor proxies only core, jobservice, trivy"),
    ({"data_volume": "data"}, "harbor_data_volume 'data' is not an absolute path"),
])
def test_settings_harbor_would_refuse(change, expected):
    settings = dict(SETTINGS, **change)
    problems = hc.config_problems(settings)
    assert any(expected in p for p in problems), problems
    with pytest.raises(hc.HarborSettingsError) as err:
        hc.harbor_yml(settings)
    assert expected in str(err.value)


def test_no_message_carries_a_password():
    settings = dict(SETTINGS, hostname="localhost", admin_password="Harbor12345",
                    external_database={"host": "pg", "password": "Pg-Secret-9"},
                    external_redis={"host": "bad", "password": "Redis-Secret-9"})
    text = "; ".join(hc.config_problems(settings))
    for secret in ("Harbor12345", "Pg-Secret-9", "Redis-Secret-9"):
        assert secret not in text
    assert len(hc.config_problems(settings)) >= 4  # every problem at once


def test_external_services_replace_the_internal_ones():
    doc = hc.harbor_yml(dict(SETTINGS, database_password="", external_database={
        "host": "pg", "port": "5432", "db_name": "registry", "username": "harbor", "password": "x"},
        external_redis={"host": "s1:26379,s2:26379", "sentinel_master_set": "mymaster", "password": "y"}))
    assert doc["external_database"]["harbor"]["port"] == 5432
    assert doc["external_database"]["harbor"]["ssl_mode"] == "disable"
    assert doc["external_redis"]["sentinel_master_set"] == "mymaster"
    assert "tlsOptions" not in doc["external_redis"]
