# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the harbor role decides before it changes a host (controller side, no I/O).

The xinchuang.cloud.harbor role asks these through the filters of plugins/filter/harbor.py:
which offline installers the bundle holds per architecture, whether the version asked for is an
install, an upgrade, the same version or a refused downgrade, and Harbor's ``harbor.yml``
built from the role's settings, with the refusals Harbor's own ``prepare`` would make (and a
few it would not: default passwords) made before anything is unpacked. No message carries a
password.

harbor.yml follows the ``make/harbor.yml.tmpl`` of goharbor/harbor for the 2.x line the role
targets (``_version`` is the installer's ``<major>.<minor>.0``); the keys written are the ones
that template documents.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import posixpath
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.pki.certificates import ip_or_none
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.registry.config import merge_extra


class HarborSettingsError(XinchuangError, ValueError):
    """A harbor role variable that cannot work as given."""


_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$")
INSTALLER = re.compile(r"^harbor-offline-installer-(v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\.tgz$")
# Harbor's prepare: "storage driver %s is not supported, only the following ones are supported".
STORAGE_BACKENDS = ("filesystem", "azure", "gcs", "s3", "swift", "oss")
LOG_LEVELS = ("debug", "info", "warning", "error", "fatal")
PROXY_COMPONENTS = ("core", "jobservice", "trivy")
SSL_MODES = ("disable", "require", "verify-ca", "verify-full")
# The template's example values: a site that keeps them has a known password or a wrong name.
TEMPLATE_PASSWORDS = {"admin_password": "Harbor12345", "database_password": "root123"}
FORBIDDEN_HOSTNAMES = ("reg.mydomain.com", "localhost", "127.0.0.1", "::1")


def parse_version(version):
    """'v2.15.2' or '2.15.2' (an optional '-rc1' suffix) -> a comparable tuple."""
    match = _VERSION.match(u"%s" % (version,))
    if not match:
        raise HarborSettingsError(
            "harbor_version %r is not a Harbor release version such as v2.15.2" % (version,))
    major, minor, patch, pre = match.groups()
    # A pre-release sorts before its release: (2, 15, 2, 0, 'rc1') < (2, 15, 2, 1, '').
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


def config_version(version):
    """The ``_version`` harbor.yml of that installer carries: v2.15.2 -> '2.15.0'."""
    major, minor = parse_version(version)[:2]
    return "%d.%d.0" % (major, minor)


def installers(paths):
    """Paths ``.../<goarch>/harbor-offline-installer-<version>.tgz`` -> {goarch: [versions]},
    versions oldest first. Other files are ignored."""
    found = {}
    for path in paths or []:
        match = INSTALLER.match(posixpath.basename(path))
        if not match:
            continue
        goarch = posixpath.basename(posixpath.dirname(path))
        found.setdefault(goarch, []).append(match.group(1))
    return dict((goarch, sorted(set(vs), key=parse_version)) for goarch, vs in found.items())


def installer_problem(holdings, goarch, version, bundle_dir, host):
    """'' when the bundle holds the installer of ``version`` for ``goarch``, else a message that
    says which installers the bundle holds, names the architecture and the file to add."""
    if version in holdings.get(goarch, []):
        return ""
    held = "; ".join("%s: %s" % (arch, ", ".join(vs)) for arch, vs in sorted(holdings.items()))
    return ("host %s (GOARCH %s): the bundle holds no Harbor %s offline installer for %s (it holds "
            "%s). Put harbor-offline-installer-%s.tgz in %s/harbor/%s/ (upstream builds amd64 "
            "only; arm64 and loong64 installers are community builds), or set harbor_version to "
            "one the bundle holds for %s"
            % (host, goarch, version, goarch, held or "none", version, bundle_dir, goarch, goarch))


def upgrade_plan(installed, wanted, data_present=False):
    """What the role does with the data volume: {'action': 'install' | 'upgrade' | 'keep',
    'problems': [...]}. A downgrade is refused (Harbor migrates its database forward only),
    and so is data the role did not write (no version recorded) unless it is empty."""
    wanted_v = parse_version(wanted)
    if not installed:
        if data_present:
            return {"action": "refuse", "problems": [
                "the data volume holds a Harbor database but no record of the version that wrote "
                "it (xinchuang-harbor.version): write that version into the file if it is a "
                "Harbor this role can upgrade from, or give the role an empty harbor_data_volume"]}
        return {"action": "install", "problems": []}
    try:
        installed_v = parse_version(installed)
    except HarborSettingsError:
        return {"action": "refuse", "problems": [
            "the data volume records Harbor version %r, which is not a version: write the "
            "version of the Harbor that wrote the data into xinchuang-harbor.version" % (installed,)]}
    if wanted_v < installed_v:
        return {"action": "refuse", "problems": [
            "harbor_version %s is older than the installed Harbor %s: a downgrade is refused "
            "(Harbor migrates its database forward only); keep harbor_version at %s or newer, or "
            "restore a backup of the data taken before the upgrade to %s"
            % (wanted, installed, installed, installed)]}
    if wanted_v == installed_v:
        return {"action": "keep", "problems": []}
    return {"action": "upgrade", "problems": []}


# --- harbor.yml ---------------------------------------------------------------------------------

def config_problems(settings):
    """Everything wrong with the role's settings, at once (empty: harbor.yml can be written).
    Messages name the variable and never a password."""
    s = settings
    problems = []
    hostname = s.get("hostname") or ""
    address = ip_or_none(hostname)
    if not hostname or hostname.lower() in FORBIDDEN_HOSTNAMES or (address and address.is_loopback):
        problems.append("harbor_hostname %r: Harbor must be reached by clients by this name, so it "
                        "may not be empty, localhost, a loopback address or the template's "
                        "reg.mydomain.com" % (hostname,))
    try:
        parse_version(s.get("version"))
    except HarborSettingsError as err:
        problems.append("%s" % err)
    if not s.get("admin_password"):
        problems.append("harbor_admin_password is empty: set it (from a vault)")
    elif s["admin_password"] == TEMPLATE_PASSWORDS["admin_password"]:
        problems.append("harbor_admin_password is the template's example password: set another")
    if not s.get("cert_path") or not s.get("key_path"):
        problems.append("harbor_tls_cert_file and harbor_tls_key_file (or harbor_tls_cert and "
                        "harbor_tls_key) are needed: the role serves Harbor over HTTPS only")
    for name in ("https_port", "http_port"):
        port = s.get(name)
        if name == "http_port" and not port:
            continue  # 0: no port redirected to HTTPS
        if not (isinstance(port, int) and 0 < port < 65536):
            problems.append("harbor_%s %r is not a TCP port (1-65535)" % (name, port))
    db = s.get("external_database") or {}
    if db:
        for key in ("host", "port", "db_name", "username", "password"):
            if not db.get(key):
                problems.append("harbor_external_database.%s is missing" % key)
        if db.get("ssl_mode", "disable") not in SSL_MODES:
            problems.append("harbor_external_database.ssl_mode %r is not one of %s"
                            % (db.get("ssl_mode"), ", ".join(SSL_MODES)))
    elif not s.get("database_password"):
        problems.append("harbor_database_password is empty: the internal PostgreSQL needs one (from "
                        "a vault), or set harbor_external_database")
    elif s["database_password"] == TEMPLATE_PASSWORDS["database_password"]:
        problems.append("harbor_database_password is the template's example password: set another")
    redis = s.get("external_redis") or {}
    if redis and not re.match(r"^[^\s:,]+:\d+(,[^\s:,]+:\d+)*$", u"%s" % redis.get("host", "")):
        problems.append("harbor_external_redis.host %r must be host:port (or, with "
                        "sentinel_master_set, a comma-separated list of host:port)"
                        % (redis.get("host"),))
    storage = s.get("storage") or {}
    if storage.get("backend", "filesystem") not in STORAGE_BACKENDS:
        problems.append("harbor_storage_backend %r is not one of %s"
                        % (storage.get("backend"), ", ".join(STORAGE_BACKENDS)))
    elif storage.get("backend", "filesystem") != "filesystem" and not storage.get("options"):
        problems.append("harbor_storage_backend %s needs harbor_storage_options (its driver's "
                        "settings)" % storage["backend"])
    if (s.get("log_level") or "info") not in LOG_LEVELS:
        problems.append("harbor_log_level %r is not one of %s" % (s.get("log_level"), ", ".join(LOG_LEVELS)))
    proxy = s.get("proxy") or {}
    unknown = [c for c in proxy.get("components") or [] if c not in PROXY_COMPONENTS]
    if unknown:
        problems.append("harbor_proxy.components %s: Harbor proxies only %s"
                        % (", ".join(unknown), ", ".join(PROXY_COMPONENTS)))
    for key in ("data_volume", "log_location"):
        if not posixpath.isabs(s.get(key) or ""):
            problems.append("harbor_%s %r is not an absolute path" % (key, s.get(key)))
    return problems


def harbor_yml(settings):
    """The role's settings -> harbor.yml as a dict (refused with every problem at once).

    settings: version, hostname, http_port, https_port, cert_path, key_path, external_url,
    admin_password, database_password, database ({max_idle_conns, max_open_conns, ...}),
    external_database ({host, port, db_name, username, password, ssl_mode, ...}), external_redis
    ({host, password, ...}), data_volume, storage ({backend, options, ca_bundle,
    redirect_disabled}), trivy ({...}), max_job_workers, log_level, log_location,
    log_rotate_count, log_rotate_size, proxy ({http_proxy, https_proxy, no_proxy, components}),
    upload_purging ({...}), cache ({...}), extra (merged last; a null removes a key).
    """
    problems = config_problems(settings)
    if problems:
        raise HarborSettingsError("; ".join(problems))
    s = settings
    conf = {"hostname": s["hostname"]}
    if s.get("http_port"):
        conf["http"] = {"port": s["http_port"]}
    conf["https"] = {"port": s.get("https_port") or 443, "certificate": s["cert_path"],
                     "private_key": s["key_path"]}
    if s.get("external_url"):
        conf["external_url"] = s["external_url"]
    conf["harbor_admin_password"] = s["admin_password"]
    database = {"password": s.get("database_password") or "", "max_idle_conns": 100,
                "max_open_conns": 900, "conn_max_lifetime": "5m", "conn_max_idle_time": 0}
    database.update(s.get("database") or {})
    conf["database"] = database
    conf["data_volume"] = s["data_volume"]
    storage = s.get("storage") or {}
    backend = storage.get("backend") or "filesystem"
    if backend != "filesystem" or storage.get("options") or storage.get("ca_bundle") \
            or storage.get("redirect_disabled") is not None:
        service = {backend: copy.deepcopy(storage.get("options") or {})}
        if storage.get("ca_bundle"):
            service["ca_bundle"] = storage["ca_bundle"]
        if storage.get("redirect_disabled") is not None:
            service["redirect"] = {"disable": bool(storage["redirect_disabled"])}
        conf["storage_service"] = service
    trivy = {"ignore_unfixed": False, "skip_update": True, "skip_java_db_update": True,
             "offline_scan": True, "security_check": "vuln", "insecure": False, "timeout": "5m0s"}
    trivy.update(s.get("trivy") or {})
    conf["trivy"] = trivy
    conf["jobservice"] = {"max_job_workers": s.get("max_job_workers") or 10,
                          "job_loggers": ["STD_OUTPUT", "FILE"], "logger_sweeper_duration": 1}
    conf["notification"] = {"webhook_job_max_retry": 3, "webhook_job_http_client_timeout": 3}
    conf["log"] = {"level": s.get("log_level") or "info",
                   "local": {"rotate_count": s.get("log_rotate_count") or 50,
                             "rotate_size": s.get("log_rotate_size") or "200M",
                             "location": s["log_location"]}}
    conf["_version"] = config_version(s["version"])
    db = s.get("external_database") or {}
    if db:
        conf["external_database"] = {"harbor": {
            "host": db["host"], "port": int(db["port"]), "db_name": db["db_name"],
            "username": db["username"], "password": db["password"],
            "ssl_mode": db.get("ssl_mode", "disable"),
            "max_idle_conns": db.get("max_idle_conns", 2), "max_open_conns": db.get("max_open_conns", 0)}}
    redis = s.get("external_redis") or {}
    if redis:
        ext = {"host": redis["host"], "password": redis.get("password") or "",
               "registry_db_index": redis.get("registry_db_index", 1),
               "jobservice_db_index": redis.get("jobservice_db_index", 2),
               "trivy_db_index": redis.get("trivy_db_index", 5),
               "idle_timeout_seconds": redis.get("idle_timeout_seconds", 30)}
        for key in ("username", "sentinel_master_set"):
            if redis.get(key):
                ext[key] = redis[key]
        if redis.get("tls_root_ca") or redis.get("tls"):
            ext["tlsOptions"] = {"enable": True}
            if redis.get("tls_root_ca"):
                ext["tlsOptions"]["rootCA"] = redis["tls_root_ca"]
        conf["external_redis"] = ext
    proxy = s.get("proxy") or {}
    conf["proxy"] = {"http_proxy": proxy.get("http_proxy") or "",
                     "https_proxy": proxy.get("https_proxy") or "",
                     "no_proxy": proxy.get("no_proxy") or "",
                     "components": list(proxy.get("components") or PROXY_COMPONENTS)}
    purging = {"enabled": True, "age": "168h", "interval": "24h", "dryrun": False}
    purging.update(s.get("upload_purging") or {})
    conf["upload_purging"] = purging
    cache = {"enabled": False, "expire_hours": 24}
    cache.update(s.get("cache") or {})
    conf["cache"] = cache
    return merge_extra(conf, s.get("extra"))
