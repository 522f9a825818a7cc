# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the registry role decides before it changes a host (controller side, no I/O).

The xinchuang.cloud.registry role asks these through the filters of plugins/filter/registry.py:
its htpasswd users, whether the host's port and storage are free for it, and the CNCF
distribution configuration it writes. Its certificate checks are the pki package's
(plugins/module_utils/pki/certificates.py). Every error names the value and the fix; no message
ever carries a password.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import posixpath
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.pki.certificates import ip_or_none


class RegistrySettingsError(XinchuangError, ValueError):
    """A registry role variable that cannot work as given."""


# htpasswd's user names: no ':' (the separator), no blanks; the role passes them as arguments.
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
# bcrypt reads the first 72 bytes of a password only: a longer one would be accepted by prefix.
BCRYPT_MAX_BYTES = 72


# --- users ---------------------------------------------------------------------------------------

def check_users(users):
    """registry_users -> their names, in order. Refuses, naming the user (never the password):
    a user without a name or password, a name htpasswd cannot hold, a name given twice, a
    password with a line break or longer than bcrypt reads."""
    if users is None:
        users = []
    if not isinstance(users, list):
        raise RegistrySettingsError(
            "registry_users must be a list of {name, password}, got %s" % type(users).__name__)
    names, problems = [], []
    for number, user in enumerate(users, 1):
        if not isinstance(user, dict):
            problems.append("entry %d is not a {name, password} mapping" % number)
            continue
        name = user.get("name")
        label = "user %r" % (name,) if name else "entry %d" % number
        if not name or not isinstance(name, str) or not _USER_NAME.match(name):
            problems.append("%s: name must be 1-128 of letters, digits and . _ @ + - "
                            "(starting with a letter or digit)" % label)
        elif name in names:
            problems.append("user %r is listed twice" % name)
        password = user.get("password")
        if password is None or password == "":
            problems.append("%s has no password: set its password (from a vault) or remove the "
                            "user from registry_users" % label)
        elif not isinstance(password, str):
            problems.append("%s: password must be a string" % label)
        else:
            if "\n" in password or "\r" in password:
                problems.append("%s: the password holds a line break" % label)
            if len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
                problems.append("%s: the password is longer than %d bytes, of which bcrypt reads "
                                "only the first %d" % (label, BCRYPT_MAX_BYTES, BCRYPT_MAX_BYTES))
        if name and isinstance(name, str):
            names.append(name)
    if problems:
        raise RegistrySettingsError("registry_users: " + "; ".join(problems))
    return names


def htpasswd_input(users):
    """The passwords of registry_users, one per line in list order: the standard input of the
    role's htpasswd step (which takes the names as arguments, never the passwords)."""
    check_users(users)
    return "".join(u["password"] + "\n" for u in users or [])


# --- the host -----------------------------------------------------------------------------------

def parse_probe(text):
    """The role's host probe output (``key<TAB>value`` lines) -> dict: ``listen`` (the lines of
    ``ss -Hltnpe`` for the port), ``main_pid`` (of the registry unit, 0 when not running),
    ``user_uid`` (of the registry's account, None before it exists),
    ``storage_real`` and ``storage_mount`` (the storage path resolved, and the mount point that
    holds it), ``foreign_mounts`` ({other service's existing directory: its mount point}),
    ``candidate`` (the OS repository's version of the package, '' when none),
    ``has_ss``, ``has_htpasswd``, ``systemd`` (PID 1), ``calendar_ok`` (systemd accepts the
    garbage collection schedule), ``unit_file`` (the role's unit file exists)."""
    out = {"listen": [], "main_pid": 0, "user_uid": None, "storage_real": "", "storage_mount": "", "candidate": "",
           "foreign_mounts": {}, "installed": [], "has_ss": False, "has_htpasswd": False, "systemd": False,
           "calendar_ok": False, "unit_file": False}
    for line in (text or "").splitlines():
        key, _tab, value = line.partition("\t")
        value = value.strip()
        if key == "listen":
            out["listen"].append(value)
        elif key == "main_pid":
            out["main_pid"] = int(value) if value.isdigit() else 0
        elif key == "user_uid":
            out["user_uid"] = int(value) if value.isdigit() else None
        elif key in ("storage_real", "storage_mount"):
            out[key] = value
        elif key == "installed":
            out["installed"].append(value)
        elif key == "foreign_mount":
            path, _tab, mount = value.partition("\t")
            if path and mount:
                out["foreign_mounts"][path] = mount.strip()
        elif key == "candidate":
            # apt-cache policy: "  Candidate: 2.8.2+ds1-1"; "(none)" when the repository lacks it.
            match = re.search(r"Candidate:\s*(\S+)", value)
            if match and match.group(1) != "(none)":
                out["candidate"] = match.group(1)
            elif value and not value.startswith(("Candidate", "(none)")) and ":" not in value:
                out["candidate"] = value
        elif key in ("has_ss", "has_htpasswd", "systemd", "calendar_ok", "unit_file"):
            out[key] = value == "yes"
    return out


_SS_USER = re.compile(r'\("([^"]*)",pid=(\d+)')
_SS_CGROUP = re.compile(r"\bcgroup:(\S+)")
_SS_UID = re.compile(r"\buid:(\d+)")


def port_conflicts(listen_lines, port, own_pids=(), own_unit="", own_uid=None):
    """Listeners of ``ss -Hltnpe`` on the port that are not the registry's own:
    ["python3 (pid 123) of xc-web.service on 0.0.0.0:5000", ...].

    A listener is the registry's own, by the best evidence ss gives:
    - every process holding it is one of ``own_pids`` (the unit's MainPID; ss names processes
      where root may trace them);
    - else its socket belongs to the cgroup of the registry's unit (``cgroup:.../<unit>``,
      cgroup v2; root in a container without CAP_SYS_PTRACE sees this but no process);
    - else, when ss can name neither (it read /proc/net/tcp: QEMU user emulation has no
      sock_diag), the socket's owner is ``own_uid`` (the registry's account, given only while
      its unit runs).
    """
    own = set(int(p) for p in own_pids if p)
    found = []
    for line in listen_lines or []:
        fields = line.split()
        local = next((f for f in fields if re.search(r":%d$" % int(port), f)), None)
        if local is None:
            continue
        users = _SS_USER.findall(line)
        cgroup = _SS_CGROUP.search(line)
        uid = _SS_UID.search(line)
        if users:
            if all(int(pid) in own for _name, pid in users):
                continue
        elif cgroup:
            if own_unit and cgroup.group(1).rstrip("/").endswith("/" + own_unit):
                continue
        elif uid and own_uid is not None and str(own_uid) != "" and int(uid.group(1)) == int(own_uid):
            continue
        who = ", ".join("%s (pid %s)" % u for u in users) or (
            "a process of uid %s" % uid.group(1) if uid else "a process ss cannot name")
        if cgroup:
            # The unit (or scope) that started it: what to stop.
            who += " of %s" % cgroup.group(1).rstrip("/").rsplit("/", 1)[-1]
        found.append("%s on %s" % (who, local))
    return found


# Where other services of a cluster node keep their data: a registry filling one of these
# filesystems stops that service.
DEFAULT_FOREIGN_PATHS = ["/var/lib/etcd", "/var/lib/containerd", "/var/lib/docker",
                         "/var/lib/kubelet", "/var/lib/postgresql", "/var/lib/mysql",
                         "/var/lib/ceph", "/var/lib/rook", "/var/lib/nfs", "/var/log"]


def _inside(path, parent):
    path, parent = posixpath.normpath(path), posixpath.normpath(parent)
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def storage_conflict(storage_path, real_path, mount_point, foreign_paths=None, foreign_mounts=None):
    """'' when the registry may keep its data at storage_path, else why not: the path (or what
    it resolves to, ``real_path``) lies in another service's directory or holds one, or the
    filesystem that holds it (mounted at ``mount_point``) also holds another service's data
    (``foreign_mounts``: {that service's path: its mount point}). The root filesystem is shared
    by everything on a small host and is accepted."""
    foreign = DEFAULT_FOREIGN_PATHS if foreign_paths is None else foreign_paths
    if not storage_path or not posixpath.isabs(storage_path):
        return "registry_storage_path %r is not an absolute path" % (storage_path,)
    for path in [storage_path] + ([real_path] if real_path and real_path != storage_path else []):
        for other in foreign:
            if _inside(path, other):
                return ("%s lies in %s, another service's data: choose a path of the registry's "
                        "own (registry_storage_path)" % (path, other))
            if _inside(other, path):
                return ("%s holds %s, another service's data: choose a directory of the "
                        "registry's own (registry_storage_path)" % (path, other))
    if mount_point and mount_point != "/":
        for other in sorted(foreign_mounts or {}):
            if other in foreign and (foreign_mounts or {})[other] == mount_point:
                return ("%s is on the filesystem mounted at %s, which also holds %s (another "
                        "service's data): a full registry would stop that service; give the "
                        "registry a filesystem of its own or another registry_storage_path"
                        % (storage_path, mount_point, other))
    return ""


# --- distribution's config.yml ------------------------------------------------------------------

def merge_extra(base, extra):
    """A role's ``*_config_extra`` merged into the configuration it builds, recursively; a null
    removes that key (the registry and harbor roles share it)."""
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_extra(base[key], value)
        elif value is None:
            base.pop(key, None)
        else:
            base[key] = copy.deepcopy(value)
    return base


def distribution_config(settings):
    """The role's settings -> the CNCF distribution configuration (config.yml) as a dict.

    settings: storage_path, delete_enabled, listen_address, port, cert_path, key_path,
    htpasswd_path ('' = no authentication), realm, http_secret ('' = the registry draws one at
    start), log_level, upload_purging_age, extra (merged last, recursively; a null removes a key).
    """
    port = int(settings["port"])
    if not 0 < port < 65536:
        raise RegistrySettingsError("registry_port %r is not a TCP port (1-65535)" % (port,))
    listen = settings.get("listen_address") or ""
    if listen and ip_or_none(listen) is None:
        raise RegistrySettingsError(
            "registry_listen_address %r is not an IP address: give one of the host's addresses, "
            "or '' for all of them" % (listen,))
    host = "[%s]" % listen if listen and ":" in listen else listen
    config = {
        "version": 0.1,
        "log": {"level": settings.get("log_level") or "info", "fields": {"service": "registry"}},
        "storage": {
            "filesystem": {"rootdirectory": settings["storage_path"]},
            "delete": {"enabled": bool(settings.get("delete_enabled"))},
            "cache": {"blobdescriptor": "inmemory"},
            "maintenance": {"uploadpurging": {
                "enabled": True, "age": settings.get("upload_purging_age") or "168h",
                "interval": "24h", "dryrun": False}},
        },
        "http": {
            "addr": "%s:%d" % (host, port),
            "tls": {"certificate": settings["cert_path"], "key": settings["key_path"]},
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }
    if settings.get("http_secret"):
        config["http"]["secret"] = settings["http_secret"]
    if settings.get("htpasswd_path"):
        config["auth"] = {"htpasswd": {"realm": settings.get("realm") or "registry",
                                       "path": settings["htpasswd_path"]}}
    return merge_extra(config, settings.get("extra"))


def host_problems(probe, port, storage_path, foreign_paths=None, unit=""):
    """The parsed host probe -> what stops the role on this host: the port held by another
    process than the registry's own unit, or a storage path of another service."""
    problems = []
    if not probe.get("has_ss"):
        problems.append("the host has no 'ss' (package iproute2), so the role cannot see who "
                        "holds port %d: install iproute2" % int(port))
    running = bool(probe.get("main_pid"))
    held = port_conflicts(probe.get("listen"), port, [probe.get("main_pid")], unit,
                          probe.get("user_uid") if running else None)
    if held:
        problems.append("port %d is held by %s: stop that service or set registry_port"
                        % (int(port), "; ".join(held)))
    conflict = storage_conflict(storage_path, probe.get("storage_real"), probe.get("storage_mount"),
                                foreign_paths, probe.get("foreign_mounts"))
    if conflict:
        problems.append(conflict)
    return problems
