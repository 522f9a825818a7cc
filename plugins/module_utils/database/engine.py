# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database engines of the role xinchuang.cloud.kingbase, as pure rules. No I/O.

- which forms and engines exist, which the main entry point installs (``choice_problems``), and
  what each one's inputs must be (``input_problems``);
- what a host must offer before anything changes (``host_problems`` over one probe's text: the
  data directory empty or a cluster of the same major version, the port free unless our own
  server holds it, memory for ``shared_buffers``);
- the main configuration file managed by key (``conf_lines``) and whether the keys that
  changed need a restart or only a reload (``conf_action``: PostgreSQL's postmaster-context
  parameters, which Kingbase KES keeps, need a restart);
- the authentication file's entries (``hba_block``);
- users and databases (``objects_plan``): identifiers and literals quoted, passwords compared
  with the stored SCRAM-SHA-256 or MD5 verifier so that a rerun changes nothing, and new
  passwords sent as SCRAM verifiers (the clear text never reaches the server).

Sizes are PostgreSQL's memory units (``8kB``, ``128MB``, ``1GB``; 1 kB = 1024 B), read by
``size_bytes`` only. Kubernetes quantities (``64Mi``) are ``quantity.py``'s.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import hmac
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class DbEngineError(XinchuangError, ValueError):
    """An input of the kingbase role that cannot be used; the message names it and the fix."""


DEPLOYS = ("host", "kubernetes")
ENGINES = ("kingbase", "postgresql", "dameng", "gbase")
# The engines the main entry point installs (the others: the render entry point only).
RUNNABLE = ("kingbase", "postgresql")
# What the collection proved of each engine (docs/roles/kingbase.md says the same).
ENGINE_PROOF = {
    # Of the host form; the kubernetes form's proof (the lab cluster, a kubelet of the test
    # machine) is in docs/roles/kingbase.md.
    "postgresql": "tested on a systemd host",
    "kingbase": "rendered only (no installer, image or license can be had here)",
    "dameng": "rendered only",
    "gbase": "rendered only",
}

# PostgreSQL 15's parameters of context "postmaster" (pg_settings): read at server start only.
# Kingbase KES is derived from PostgreSQL and keeps these names and contexts.
POSTMASTER_KEYS = frozenset("""
archive_mode autovacuum_freeze_max_age autovacuum_max_workers autovacuum_multixact_freeze_max_age
bonjour bonjour_name cluster_name config_file data_directory data_sync_retry
dynamic_shared_memory_type event_source external_pid_file hba_file hot_standby huge_page_size
huge_pages ident_file ignore_invalid_pages jit_provider listen_addresses logging_collector
max_connections max_files_per_process max_locks_per_transaction max_logical_replication_workers
max_pred_locks_per_transaction max_prepared_transactions max_replication_slots max_wal_senders
max_worker_processes min_dynamic_shared_memory old_snapshot_threshold port recovery_target
recovery_target_action recovery_target_inclusive recovery_target_lsn recovery_target_name
recovery_target_time recovery_target_timeline recovery_target_xid shared_buffers
shared_memory_type shared_preload_libraries superuser_reserved_connections
track_activity_query_size track_commit_timestamp unix_socket_directories unix_socket_group
unix_socket_permissions wal_buffers wal_decode_buffer_size wal_level wal_log_hints
""".split())
# Context "internal": fixed when the server was built or the cluster made; a file cannot set them.
INTERNAL_KEYS = frozenset("""
block_size data_checksums data_directory_mode debug_assertions in_hot_standby integer_datetimes
lc_collate lc_ctype max_function_args max_identifier_length max_index_keys segment_size
server_encoding server_version server_version_num shared_memory_size
shared_memory_size_in_huge_pages ssl_library wal_block_size wal_segment_size
""".split())
# Restart rules an engine's vars file may name: "postmaster" (the keys above restart, others
# reload) or "always" (an engine whose reloadable keys the collection does not know).
RESTART_RULES = ("postmaster", "always")

_UNITS = {"B": 1, "kB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|kB|MB|GB|TB)?\s*$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_PLAIN = re.compile(r"^-?\d+(\.\d+)?$")
HBA_TYPES = ("local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc")
HBA_METHODS = ("trust", "reject", "scram-sha-256", "md5", "password", "peer", "ident", "gss",
               "sspi", "pam", "ldap", "radius", "cert", "sm3", "scram-sm3", "sm4")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def size_bytes(value, default_unit="1B", name="size"):
    """A PostgreSQL memory size (``128MB``, ``8kB``, 16384) -> bytes. A number without a unit
    is in ``default_unit`` (``shared_buffers``: blocks of 8 kB, written ``8kB``)."""
    if isinstance(value, bool):
        raise DbEngineError("%s: %r is a boolean, not a size; write a number with a unit such as 128MB" % (name, value))
    match = _SIZE.match(str(value))
    if not match:
        raise DbEngineError(
            "%s: cannot read the size %r; write a whole number with one of the units B, kB, MB, "
            "GB, TB (1 kB = 1024 B), such as 128MB" % (name, value))
    number, unit = int(match.group(1)), match.group(2)
    if unit:
        return number * _UNITS[unit]
    default = _SIZE.match(str(default_unit))
    return number * int(default.group(1)) * _UNITS[default.group(2) or "B"]


def human_size(count):
    """Bytes -> a short text (``1.5 GiB``) for messages."""
    for unit, size in (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if count >= size:
            return "%.1f %s" % (count / float(size), unit)
    return "%d B" % count


# --- inputs ---------------------------------------------------------------------------------

def choice_problems(deploy, engine, entry="main"):
    """Problems of the form and engine alone (the role cannot load an engine's vars without a
    good one). The entry point ``main`` runs only the engines whose tasks exist
    (``RUNNABLE``, in either form); ``render`` takes every engine."""
    problems = []
    if deploy not in DEPLOYS:
        problems.append("kingbase_deploy %r is neither of %s: set kingbase_deploy: host" % (deploy, ", ".join(DEPLOYS)))
    if engine not in ENGINES:
        problems.append("kingbase_engine %r is not one of %s: set one of them" % (engine, ", ".join(ENGINES)))
    elif engine not in RUNNABLE and entry == "main":
        problems.append("kingbase_engine %s is rendered only (%s): its installer's response file and "
                        "units come from the entry point render (tasks_from: render, with "
                        "kingbase_render_dir); use kingbase or postgresql to install a server"
                        % (engine, ENGINE_PROOF[engine]))
    return problems


def input_problems(deploy, engine, goarch="", license_files=None, system_password="", installers=None,
                   missing_paths=None, conf=None, hba=None):
    """Every problem of the role's inputs, at once (empty list: none): the choices, for the
    engine ``kingbase`` a license and an installer for ``goarch`` (this host's architecture)
    that exist on the controller (``missing_paths``: the given paths that do not) and the
    superuser's password, the configuration keys and the authentication entries."""
    problems = choice_problems(deploy, engine)
    missing = set(missing_paths or [])
    if engine == "kingbase":
        for variable, given, what in (
                ("kingbase_license_files", license_files, "the license.dat of the edition, as the vendor issued it for"),
                ("kingbase_installers", installers, "the directory of the vendor's setup.sh in the offline bundle for")):
            path = (given or {}).get(goarch)
            if not path:
                problems.append("%s has no entry for this host's architecture %s: set %s.%s to %s %s "
                                "(a path on the controller)" % (variable, goarch, variable, goarch, what, goarch))
            elif path in missing:
                problems.append("%s.%s %s does not exist on the controller: put the file there or correct "
                                "the path" % (variable, goarch, path))
        if not system_password:
            problems.append("kingbase_system_password is empty: the installer sets the password of "
                            "the superuser 'system' from it (keep it in a vault)")
    for check, value in ((conf_lines, conf), (hba_block, hba)):
        try:
            check(value or ({} if check is conf_lines else []))
        except DbEngineError as exc:
            problems.append(str(exc))
    return problems


# --- the host -------------------------------------------------------------------------------

def parse_probe(text):
    """The role's probe output (``key=value`` lines; ``listen=`` lines repeat) -> dict."""
    probe = {"listen": []}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key = key.strip()
        if key == "listen":
            probe["listen"].append(value.strip())
        else:
            probe[key] = value.strip()
    return probe


def _listener_pids(lines):
    pids = set()
    for line in lines:
        pids.update(int(p) for p in re.findall(r"pid=(\d+)", line))
    return pids


def _our_listeners(probe, listeners, port):
    """Whether the sockets on the port are our server's: the running postmaster of the data
    directory (``our_pid``, printed only while that process lives). ``ss -p`` names the
    processes where it may read them; where it may not (a container without CAP_SYS_PTRACE),
    the postmaster.pid's port line (``our_port``) says which port that server holds."""
    ours = probe.get("our_pid", "")
    if not ours.isdigit():
        return False
    pids = _listener_pids(listeners)
    if pids:
        return pids == {int(ours)}
    return probe.get("our_port", "") == str(port)


def memory_bytes(probe):
    """The memory the server may use: MemTotal, or the cgroup's limit when lower."""
    total = int(probe.get("mem_total_kb") or 0) * 1024
    limit = probe.get("cgroup_memory_max", "max")
    if limit.isdigit() and 0 < int(limit) < total:
        return int(limit)
    return total


def host_problems(probe_text, major_version, data_dir, port, shared_buffers="128MB",
                  max_memory_fraction=0.75, version_file="PG_VERSION"):
    """Every problem of the host for the server asked for (empty list: none).

    ``probe_text``: what the role's probe printed (``data_dir_exists``, ``data_dir_entries``,
    ``data_dir_version``, ``our_pid`` and ``our_port`` (the postmaster.pid's first and fourth
    lines, while that process lives), ``listen`` lines of
    ``ss -Hltnp`` for the port, ``mem_total_kb``, ``cgroup_memory_max``)."""
    probe = parse_probe(probe_text)
    problems = []
    version = probe.get("data_dir_version", "")
    entries = int(probe.get("data_dir_entries") or 0)
    if version and version != str(major_version):
        problems.append(
            "kingbase_data_dir %s holds a cluster of major version %s (%s) and this engine is "
            "version %s: point kingbase_data_dir at an empty directory, or upgrade that cluster "
            "first" % (data_dir, version, version_file, major_version))
    elif not version and entries > 0:
        problems.append(
            "kingbase_data_dir %s is not empty and holds no cluster (no %s): empty it or point "
            "kingbase_data_dir at an empty directory" % (data_dir, version_file))
    listeners = [line for line in probe["listen"] if line]
    if listeners and not _our_listeners(probe, listeners, port):
        holders = ", ".join(sorted(set("%s (pid %s)" % h for h in re.findall(
            r'\("([^"]+)",pid=(\d+)', " ".join(listeners))))) or "another process"
        problems.append(
            "port %s is taken by %s, not by this role's server: stop it or set kingbase_port "
            "to a free port" % (port, holders))
    try:
        wanted = size_bytes(shared_buffers, "8kB", "kingbase_conf.shared_buffers")
    except DbEngineError as exc:
        problems.append(str(exc))
    else:
        memory = memory_bytes(probe)
        if memory and wanted > memory * float(max_memory_fraction):
            problems.append(
                "kingbase_conf.shared_buffers %s (%s) is more than %d %% of this host's memory (%s): "
                "lower kingbase_conf.shared_buffers (a quarter of the memory is usual) or raise "
                "kingbase_max_memory_fraction" % (shared_buffers, human_size(wanted),
                                                  round(float(max_memory_fraction) * 100), human_size(memory)))
    return problems


# --- configuration --------------------------------------------------------------------------

def conf_value(value):
    """A value as the main configuration file writes it: on/off, bare numbers, quoted text."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if _PLAIN.match(text):
        return text
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "''")


def conf_lines(conf):
    """``{key: value}`` -> ``[{key, line, regexp}]`` sorted by key: the line to write and the
    pattern of the key's line (commented or not) to replace in place."""
    problems, lines = [], []
    for key in sorted(conf or {}):
        if not _KEY.match(str(key)):
            problems.append("kingbase_conf key %r is not a parameter name (letters, digits, _; "
                            "an extension's as ext.name)" % (key,))
            continue
        if key in INTERNAL_KEYS:
            problems.append("kingbase_conf key %r is fixed when the cluster is made and cannot be set "
                            "in the configuration file: remove it" % (key,))
            continue
        if conf[key] is None:
            problems.append("kingbase_conf key %r has no value: give one or remove the key" % (key,))
            continue
        lines.append({"key": key, "line": "%s = %s" % (key, conf_value(conf[key])),
                      "regexp": r"^\s*#?\s*%s\s*=" % re.escape(key)})
    if problems:
        raise DbEngineError("; ".join(problems))
    return lines


def conf_action(changed_keys, other_reload=False, rule="postmaster"):
    """What the server needs after its files changed: ``restart`` when a changed key is read at
    start only (or the engine's ``rule`` is ``always``), ``reload`` for any other change
    (``other_reload``: the authentication file changed), ``none`` otherwise."""
    if rule not in RESTART_RULES:
        raise DbEngineError("the engine's restart rule %r is not one of %s (vars/engine_*.yml)"
                            % (rule, ", ".join(RESTART_RULES)))
    keys = set(changed_keys or [])
    if keys and (rule == "always" or keys & POSTMASTER_KEYS):
        return "restart"
    if keys or other_reload:
        return "reload"
    return "none"


def hba_block(entries):
    """The authentication file's lines of ``kingbase_hba`` entries (``{type, database, user,
    address, method, options}``), in order: the block the role keeps at the file's start, so
    its entries match before the defaults."""
    problems, lines = [], []
    for n, entry in enumerate(entries or []):
        where = "kingbase_hba[%d]" % n
        kind = entry.get("type", "host")
        method = entry.get("method", "")
        if kind not in HBA_TYPES:
            problems.append("%s type %r is not one of %s" % (where, kind, ", ".join(HBA_TYPES)))
            continue
        if method not in HBA_METHODS:
            problems.append("%s method %r is not one of %s" % (where, method, ", ".join(HBA_METHODS)))
            continue
        address = entry.get("address", "")
        if kind == "local" and address:
            problems.append("%s: a local entry has no address; remove address %r" % (where, address))
            continue
        if kind != "local" and not address:
            problems.append("%s: a %s entry needs an address (such as 10.0.0.0/8 or 127.0.0.1/32)" % (where, kind))
            continue
        fields = [kind, entry.get("database", "all"), entry.get("user", "all")]
        if address:
            fields.append(address)
        fields.append(method)
        if entry.get("options"):
            fields.append(str(entry["options"]))
        lines.append(" ".join("%-15s" % f for f in fields[:-1]) + " " + fields[-1])
    if problems:
        raise DbEngineError("; ".join(problems))
    return "\n".join(lines)


# --- users and databases --------------------------------------------------------------------

def quote_ident(name, what="name"):
    """An SQL identifier, double-quoted. Names are plain (letters, digits, _, $; at most 63)."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise DbEngineError("%s %r: use letters, digits, _ and $ (at most 63, not starting with a digit)"
                            % (what, name))
    return '"%s"' % name


def quote_literal(text):
    return "'%s'" % str(text).replace("'", "''")


def scram_verifier(password, salt, iterations=4096):
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` with ``salt`` (bytes)."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (
        iterations, base64.b64encode(salt).decode(), base64.b64encode(stored_key).decode(),
        base64.b64encode(server_key).decode())


def password_matches(stored, user, password):
    """Whether the stored verifier (``rolpassword``) is of ``password``: SCRAM-SHA-256 or MD5;
    any other form (none, an engine's own hash) counts as different."""
    if not stored:
        return False
    match = re.match(r"^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$", stored)
    if match:
        salt = base64.b64decode(match.group(2))
        return hmac.compare_digest(scram_verifier(password, salt, int(match.group(1))), stored)
    if stored.startswith("md5") and len(stored) == 35:
        digest = "md5" + hashlib.md5((password + user).encode("utf-8")).hexdigest()  # nosec - PostgreSQL's md5 form
        return hmac.compare_digest(digest, stored)
    return False


def objects_plan(current, users=None, databases=None, salt=None):
    """What to run so the server has ``users`` and ``databases``.

    ``current``: ``{"roles": {name: {"password": verifier or None, "superuser": bool,
    "login": bool}}, "databases": {name: {"owner": name}}}`` as read. ``users``: ``[{name,
    password, superuser, state}]``; ``databases``: ``[{name, owner, encoding, state}]``.
    ``salt``: 16 bytes for new SCRAM verifiers (the caller's random; tests pass a fixed one).

    Returns ``{"statements": [...], "changes": [text without secrets]}``; users are made before
    the databases they own, and dropped after."""
    roles = current.get("roles", {})
    dbs = current.get("databases", {})
    statements, changes, drops = [], [], []
    for user in users or []:
        name = user.get("name")
        ident = quote_ident(name, "kingbase_users name")
        state = user.get("state", "present")
        have = roles.get(name)
        if state == "absent":
            if have is not None:
                drops.append(("DROP ROLE %s" % ident, "drop user %s" % name))
            continue
        password = user.get("password")
        attrs = ["LOGIN", "SUPERUSER" if user.get("superuser") else "NOSUPERUSER"]
        pw_sql = ""
        if password and (have is None or not password_matches(have.get("password"), name, password)):
            if salt is None:
                raise DbEngineError("a salt is needed to set the password of %s" % name)
            pw_sql = " PASSWORD %s" % quote_literal(scram_verifier(password, salt))
        if have is None:
            statements.append("CREATE ROLE %s %s%s" % (ident, " ".join(attrs), pw_sql))
            changes.append("create user %s" % name)
            continue
        differs = bool(have.get("superuser")) != bool(user.get("superuser")) or not have.get("login")
        if differs or pw_sql:
            statements.append("ALTER ROLE %s %s%s" % (ident, " ".join(attrs), pw_sql))
            changes.append("change user %s%s" % (name, " (password)" if pw_sql else ""))
    for db in databases or []:
        name = db.get("name")
        ident = quote_ident(name, "kingbase_databases name")
        have = dbs.get(name)
        if db.get("state", "present") == "absent":
            if have is not None:
                drops.insert(0, ("DROP DATABASE %s" % ident, "drop database %s" % name))
            continue
        owner = db.get("owner")
        if have is None:
            sql = "CREATE DATABASE %s" % ident
            if owner:
                sql += " OWNER %s" % quote_ident(owner, "kingbase_databases owner")
            if db.get("encoding"):
                sql += " ENCODING %s TEMPLATE template0" % quote_literal(db["encoding"])
            statements.append(sql)
            changes.append("create database %s" % name)
        elif owner and have.get("owner") != owner:
            statements.append("ALTER DATABASE %s OWNER TO %s" % (ident, quote_ident(owner, "kingbase_databases owner")))
            changes.append("change the owner of database %s to %s" % (name, owner))
    for sql, text in drops:
        statements.append(sql)
        changes.append(text)
    return {"statements": statements, "changes": changes}


def objects_query(catalog_prefix="pg_"):
    """One query that reads what ``objects_plan`` compares, as one JSON text."""
    prefix = catalog_prefix if catalog_prefix in ("pg_", "sys_") else "pg_"
    return (
        "SELECT json_build_object("
        "'roles', (SELECT coalesce(json_object_agg(rolname, json_build_object("
        "'password', rolpassword, 'superuser', rolsuper, 'login', rolcanlogin)), '{}') "
        "FROM {p}authid), "
        "'databases', (SELECT coalesce(json_object_agg(d.datname, json_build_object("
        "'owner', r.rolname)), '{}') FROM {p}database d JOIN {p}authid r ON r.oid = d.datdba))"
    ).replace("{p}", prefix)
