"""xinchuang.cloud.harbor where no Harbor can run: no Harbor image or offline installer can be
obtained on this machine, so Harbor itself is NOT installed or started here. What is run:

- the role's ``render`` entry point on this machine into a temporary tree (harbor.yml, TLS
  files, the systemd unit), for amd64, checked against the keys Harbor documents in its
  ``make/harbor.yml.tmpl`` (goharbor/harbor, ``_version: 2.15.0``; the list below was typed
  from that template and from the keys its ``prepare`` reads without a default, no copy of the
  template is kept), and the unit checked by ``systemd-analyze verify``;
- the preflight's refusals: an architecture the bundle has no installer for (a FAKE bundle of
  empty files named like installers, used only for this listing test), a downgrade, data the
  role did not write, settings Harbor's prepare would refuse.

The proxy cache tasks run against the Harbor contract server in test_contract_harbor_role.py.
"""

import os
import shutil
import stat
import subprocess
import tempfile

import pytest
import yaml

from hack import pki
from tests.integration.ansible_run import run_playbook

# Every key of Harbor's make/harbor.yml.tmpl (2.15.0), including its commented-out optional
# blocks, with the type of its value; a dict is a block of keys. ``dict`` alone: a driver's own
# settings (storage_service.<driver>), free-form in the template too.
DOCUMENTED = {
    "hostname": str,
    "http": {"port": int},
    "https": {"port": int, "certificate": str, "private_key": str, "strong_ssl_ciphers": bool},
    "ip_family": {"ipv6": {"enabled": bool}, "ipv4": {"enabled": bool}},
    "internal_tls": {"enabled": bool, "dir": str},
    "external_url": str,
    "harbor_admin_password": str,
    "database": {"password": str, "max_idle_conns": int, "max_open_conns": int,
                 "conn_max_lifetime": str, "conn_max_idle_time": (int, str)},
    "data_volume": str,
    "storage_service": {"ca_bundle": str, "filesystem": dict, "azure": dict, "gcs": dict,
                        "s3": dict, "swift": dict, "oss": dict, "redirect": {"disable": bool}},
    "trivy": {"ignore_unfixed": bool, "skip_update": bool, "skip_java_db_update": bool,
              "db_repository": str, "java_db_repository": str, "offline_scan": bool,
              "security_check": str, "insecure": bool, "timeout": str, "github_token": str},
    "jobservice": {"max_job_workers": int, "max_job_duration_hours": int, "job_loggers": list,
                   "logger_sweeper_duration": int},
    "notification": {"webhook_job_max_retry": int, "webhook_job_http_client_timeout": int},
    "log": {"level": str, "local": {"rotate_count": int, "rotate_size": str, "location": str},
            "external_endpoint": {"protocol": str, "host": str, "port": int}},
    "_version": str,
    "external_database": {"harbor": {"host": str, "port": int, "db_name": str, "username": str,
                                     "password": str, "ssl_mode": str, "max_idle_conns": int,
                                     "max_open_conns": int}},
    "redis": {"registry_db_index": int, "jobservice_db_index": int, "trivy_db_index": int,
              "harbor_db_index": int, "cache_layer_db_index": int},
    "external_redis": {"host": str, "password": str, "username": str, "sentinel_master_set": str,
                       "tlsOptions": {"enable": bool, "rootCA": str}, "registry_db_index": int,
                       "jobservice_db_index": int, "trivy_db_index": int,
                       "idle_timeout_seconds": int, "harbor_db_index": int,
                       "cache_layer_db_index": int},
    "uaa": {"ca_file": str},
    "proxy": {"http_proxy": str, "https_proxy": str, "no_proxy": str, "components": list},
    "network": {"allow_private_network_access": bool},
    "metric": {"enabled": bool, "port": int, "path": str},
    "trace": {"enabled": bool, "sample_rate": (int, float), "namespace": str, "attributes": dict,
              "jaeger": {"endpoint": str, "username": str, "password": str, "agent_host": str,
                         "agent_port": int},
              "otel": {"endpoint": str, "url_path": str, "compression": bool, "insecure": bool,
                       "timeout": int}},
    "upload_purging": {"enabled": bool, "age": str, "interval": str, "dryrun": bool},
    "cache": {"enabled": bool, "expire_hours": int},
    "core": {"quota_update_provider": str},
}
# What Harbor's prepare reads without a default (utils/configs.py: configs["hostname"],
# configs["data_volume"], configs["harbor_admin_password"], js_config["max_job_workers"],
# notification_config["webhook_job_max_retry"], log_configs["level"]) and the https block's
# certificate and private_key once https is there.
REQUIRED = ["hostname", "data_volume", "harbor_admin_password", "jobservice.max_job_workers",
            "notification.webhook_job_max_retry", "log.level", "https.certificate",
            "https.private_key", "_version"]
ADMIN_PASSWORD = "Xc-Harbor-Admin-1"
DB_PASSWORD = "Xc-Harbor-Db-1"


def undocumented(doc, spec=None, path=""):
    """Keys of ``doc`` Harbor does not document (DOCUMENTED, or ``spec`` for a block), and values
    of the wrong type: ['https.certifcate: not a key Harbor documents', ...]."""
    spec = DOCUMENTED if spec is None else spec
    found = []
    for key, value in doc.items():
        where = path + key
        if key not in spec:
            found.append("%s: not a key Harbor documents" % where)
            continue
        want = spec[key]
        if isinstance(want, dict):
            if not isinstance(value, dict):
                found.append("%s: a block in Harbor's template, here %r" % (where, value))
            else:
                found += undocumented(value, want, where + ".")
        elif not isinstance(value, want) or (want is int and isinstance(value, bool)):
            found.append("%s: %r is not %s" % (where, value, want))
    return found


def lookup(doc, dotted):
    for part in dotted.split("."):
        doc = doc[part]
    return doc


@pytest.fixture(scope="module")
def tls():
    """A CA and a certificate for harbor.lab.example made here by hack/pki.py."""
    workdir = tempfile.mkdtemp(prefix="xc-harbor-tls-")
    ca = pki.ensure_ca(workdir, "harbor test CA", days=5)
    leaf = pki.ensure_cert(workdir, "harbor", workdir, cn="harbor.lab.example",
                           sans="DNS:harbor.lab.example", usage="server", days=5)
    try:
        yield {"ca": ca.cert, "cert": leaf.cert, "key": leaf.key}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def tree():
    path = tempfile.mkdtemp(prefix="xc-harbor-tree-")
    os.makedirs(os.path.join(path, "units"))  # a host's /etc/systemd/system is there already
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def role_vars(tls, tree, **more):
    out = {
        "harbor_goarch": "amd64",
        "harbor_hostname": "harbor.lab.example",
        "harbor_tls_cert_file": tls["cert"],
        "harbor_tls_key_file": tls["key"],
        "harbor_tls_ca_cert": tls["ca"],
        "harbor_admin_password": ADMIN_PASSWORD,
        "harbor_database_password": DB_PASSWORD,
        "harbor_install_dir": os.path.join(tree, "opt"),
        "harbor_config_dir": os.path.join(tree, "etc"),
        "harbor_unit_dir": os.path.join(tree, "units"),
        "harbor_data_volume": os.path.join(tree, "data"),
        "harbor_compose_command": "/usr/bin/docker compose",
        "harbor_proxy": {"https_proxy": "http://proxy.lab.example:3128", "no_proxy": "harbor.lab.example",
                         "components": ["core", "jobservice"]},
    }
    out.update(more)
    return out


def run_entry(entry, extra_vars):
    task = {"name": "harbor " + entry,
            "ansible.builtin.include_role": {"name": "xinchuang.cloud.harbor", "tasks_from": entry}}
    report, proc = run_playbook([task], extra_vars=extra_vars)
    results = [t["hosts"].get("localhost", {}) for t in report["plays"][0]["tasks"]]
    return results, proc


def failed_messages(results):
    return [r.get("msg", "") for r in results if r.get("failed")]


def release_dir(tree, version="v2.15.2"):
    return os.path.join(tree, "opt", version, "harbor")


# --- render ---------------------------------------------------------------------------------

def test_render_for_amd64_writes_only_keys_harbor_documents(tls, tree):
    results, proc = run_entry("render", role_vars(tls, tree))
    assert proc.returncode == 0, failed_messages(results) or proc.stdout[-3000:]
    for secret in (ADMIN_PASSWORD, DB_PASSWORD):
        assert secret not in proc.stdout and secret not in proc.stderr
    path = os.path.join(release_dir(tree), "harbor.yml")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as fh:
        doc = yaml.safe_load(fh)
    assert undocumented(doc) == []
    for dotted in REQUIRED:
        assert lookup(doc, dotted) not in (None, ""), dotted
    assert doc["_version"] == "2.15.0"
    assert doc["hostname"] == "harbor.lab.example"
    assert doc["https"] == {"port": 443, "certificate": os.path.join(tree, "etc", "tls", "server.crt"),
                            "private_key": os.path.join(tree, "etc", "tls", "server.key")}
    assert doc["http"] == {"port": 80}
    assert doc["harbor_admin_password"] == ADMIN_PASSWORD
    assert doc["database"]["password"] == DB_PASSWORD
    assert doc["data_volume"] == os.path.join(tree, "data")
    assert "external_database" not in doc and "external_redis" not in doc
    assert "storage_service" not in doc  # filesystem under data_volume: Harbor's default
    # Offline: the scanner's database is never downloaded.
    assert doc["trivy"]["skip_update"] is True and doc["trivy"]["offline_scan"] is True
    assert doc["proxy"] == {"http_proxy": "", "https_proxy": "http://proxy.lab.example:3128",
                            "no_proxy": "harbor.lab.example", "components": ["core", "jobservice"]}
    # The files harbor.yml names exist, the key private.
    with open(doc["https"]["certificate"]) as fh, open(tls["cert"]) as want:
        assert fh.read() == want.read()
    assert stat.S_IMODE(os.stat(doc["https"]["private_key"]).st_mode) == 0o600
    # A second render changes nothing.
    again, proc = run_entry("render", role_vars(tls, tree))
    assert proc.returncode == 0
    assert [r for r in again if r.get("changed")] == []


def test_render_with_external_database_redis_and_s3(tls, tree):
    results, proc = run_entry("render", role_vars(
        tls, tree, harbor_database_password="",
        harbor_external_database={"host": "pg.lab.example", "port": 5432, "db_name": "registry",
                                  "username": "harbor", "password": "Pg-Secret-1", "ssl_mode": "verify-full"},
        harbor_external_redis={"host": "redis.lab.example:6379", "password": "Redis-Secret-1",
                               "tls_root_ca": "/etc/harbor/tls/redis-ca.crt"},
        harbor_storage_backend="s3",
        harbor_storage_options={"region": "cn-north-1", "bucket": "harbor", "regionendpoint": "https://s3.lab.example"},
        harbor_config_extra={"metric": {"enabled": True, "port": 9090, "path": "/metrics"}}))
    assert proc.returncode == 0, failed_messages(results)
    for secret in ("Pg-Secret-1", "Redis-Secret-1"):
        assert secret not in proc.stdout
    with open(os.path.join(release_dir(tree), "harbor.yml")) as fh:
        doc = yaml.safe_load(fh)
    assert undocumented(doc) == []
    assert doc["external_database"]["harbor"]["host"] == "pg.lab.example"
    assert doc["external_database"]["harbor"]["ssl_mode"] == "verify-full"
    assert doc["external_redis"]["host"] == "redis.lab.example:6379"
    assert doc["external_redis"]["tlsOptions"] == {"enable": True, "rootCA": "/etc/harbor/tls/redis-ca.crt"}
    assert doc["storage_service"] == {"s3": {"region": "cn-north-1", "bucket": "harbor",
                                             "regionendpoint": "https://s3.lab.example"}}
    assert doc["metric"] == {"enabled": True, "port": 9090, "path": "/metrics"}


def test_key_check_catches_a_key_harbor_does_not_document(tls, tree):
    # The check above can fail: a misspelt key given through harbor_config_extra is found.
    results, proc = run_entry("render", role_vars(tls, tree, harbor_config_extra={"https": {"certifcate": "x"}}))
    assert proc.returncode == 0, failed_messages(results)
    with open(os.path.join(release_dir(tree), "harbor.yml")) as fh:
        assert undocumented(yaml.safe_load(fh)) == ["https.certifcate: not a key Harbor documents"]


def systemd_verify(path):
    return subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                          check=False)


def test_unit_passes_systemd_analyze_verify(tls, tree):
    results, proc = run_entry("render", role_vars(tls, tree))
    assert proc.returncode == 0, failed_messages(results)
    unit = os.path.join(tree, "units", "harbor.service")
    checked = systemd_verify(unit)
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
    with open(unit) as fh:
        text = fh.read()
    compose = "/usr/bin/docker compose -f %s/docker-compose.yml" % release_dir(tree)
    assert "ExecStart=%s up --remove-orphans\n" % compose in text
    assert "ExecStop=%s down\n" % compose in text
    assert "WorkingDirectory=%s\n" % release_dir(tree) in text
    assert "Requires=docker.service\n" in text


def test_unit_check_catches_a_broken_unit(tree):
    # The verify above can fail: systemd-analyze reports a misspelt key and a bad value.
    broken = os.path.join(tree, "broken.service")
    with open(broken, "w") as fh:
        fh.write("[Service]\nType=simpl\nExecStart=/usr/bin/docker compose up\nRestar=on-failure\n")
    checked = systemd_verify(broken)
    assert "simpl" in checked.stderr and "Restar" in checked.stderr


@pytest.mark.parametrize("change, expected", [
    ({"harbor_admin_password": "Harbor12345"}, "harbor_admin_password is the template's example password"),
    ({"harbor_admin_password": ""}, "harbor_admin_password is empty"),
    ({"harbor_hostname": "localhost"}, "harbor_hostname 'localhost'"),
    ({"harbor_database_password": "root123"}, "harbor_database_password is the template's example password"),
    ({"harbor_external_database": {"host": "pg"}}, "harbor_external_database.db_name is missing"),
    ({"harbor_external_redis": {"host": "redis"}}, "harbor_external_redis.host 'redis' must be host:port"),
    ({"harbor_proxy": {"components": ["core", "portal"]}}, "harbor_proxy.components portal"),
    ({"harbor_version": "2.15"}, "harbor_version '2.15' is not a Harbor release version"),
])
def test_settings_harbor_would_refuse_stop_before_anything_is_written(tls, tree, change, expected):
    results, proc = run_entry("render", role_vars(tls, tree, **change))
    assert proc.returncode != 0
    msgs = failed_messages(results)
    assert any(expected in m for m in msgs), msgs
    assert not os.path.exists(os.path.join(tree, "opt")) and not os.path.exists(os.path.join(tree, "etc"))


def test_certificate_not_naming_the_host_is_refused(tls, tree):
    results, proc = run_entry("render", role_vars(tls, tree, harbor_hostname="registry.lab.example"))
    assert proc.returncode != 0
    assert any("does not name registry.lab.example" in m and "harbor_hostname / harbor_tls_extra_names" in m
               for m in failed_messages(results)), failed_messages(results)
    assert not os.path.exists(os.path.join(tree, "etc"))


# --- preflight refusals -------------------------------------------------------------------------

@pytest.fixture
def fake_bundle_for_listing_test(tree):
    """NOT installers: empty files named like Harbor's offline installers, so the preflight's
    listing of the bundle can be tested. Nothing ever unpacks them."""
    root = os.path.join(tree, "fake-bundle-for-listing-test")
    for goarch, version in (("amd64", "v2.15.2"), ("arm64", "v2.14.1")):
        os.makedirs(os.path.join(root, "harbor", goarch))
        open(os.path.join(root, "harbor", goarch, "harbor-offline-installer-%s.tgz" % version), "w").close()
    open(os.path.join(root, "harbor", "arm64", "README"), "w").close()
    return root


@pytest.mark.parametrize("goarch, version, held", [
    ("loong64", "v2.15.2", "it holds amd64: v2.15.2; arm64: v2.14.1"),
    ("arm64", "v2.15.2", "it holds amd64: v2.15.2; arm64: v2.14.1"),
])
def test_preflight_refuses_an_architecture_without_an_installer(tls, tree, fake_bundle_for_listing_test,
                                                                goarch, version, held):
    results, proc = run_entry("preflight", role_vars(
        tls, tree, harbor_goarch=goarch, harbor_version=version,
        harbor_bundle_dir=fake_bundle_for_listing_test))
    assert proc.returncode != 0
    msgs = failed_messages(results)
    assert any("(GOARCH %s): the bundle holds no Harbor %s offline installer for %s (%s)"
               % (goarch, version, goarch, held) in m
               and "harbor/%s/" % goarch in m for m in msgs), msgs
    listing = [r.get("msg", "") for r in results if "per GOARCH" in str(r.get("msg", ""))]
    assert listing and "'amd64': ['v2.15.2']" in listing[0] and "'arm64': ['v2.14.1']" in listing[0]
    assert not os.path.exists(os.path.join(tree, "opt"))


def test_preflight_refuses_a_downgrade(tls, tree, fake_bundle_for_listing_test):
    data = os.path.join(tree, "data")
    os.makedirs(os.path.join(data, "database"))
    with open(os.path.join(data, "xinchuang-harbor.version"), "w") as fh:
        fh.write("v2.15.2\n")
    results, proc = run_entry("preflight", role_vars(
        tls, tree, harbor_version="v2.14.1", harbor_goarch="arm64",
        harbor_bundle_dir=fake_bundle_for_listing_test))
    assert proc.returncode != 0
    msgs = failed_messages(results)
    assert any("harbor_version v2.14.1 is older than the installed Harbor v2.15.2: a downgrade is refused" in m
               for m in msgs), msgs
    with open(os.path.join(data, "xinchuang-harbor.version")) as fh:
        assert fh.read() == "v2.15.2\n"


def test_preflight_refuses_data_it_did_not_write(tls, tree, fake_bundle_for_listing_test):
    os.makedirs(os.path.join(tree, "data", "database"))
    results, proc = run_entry("preflight", role_vars(tls, tree, harbor_bundle_dir=fake_bundle_for_listing_test))
    assert proc.returncode != 0
    assert any("holds a Harbor database but no record of the version" in m
               for m in failed_messages(results)), failed_messages(results)
