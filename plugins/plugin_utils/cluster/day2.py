# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Day-2 operations of a running cluster, as pure rules: etcd snapshots (names, checksums,
which to keep, their status), an etcd restore (the checks before anything changes, whether a
snapshot was restored already, the new data directory, member and cluster token) and the
renewal of the certificates the kubernetes role issued (which expire within a threshold, the
pki role's items that issue them again as they were, which services read which file).

No I/O, no clock: the playbooks (``etcd_backup.yml``, ``etcd_restore.yml``,
``certs_renew.yml``) read and write; they ask these rules through the filters in
``plugins/filter/day2.py``. Errors are ``Day2Error`` with a message naming the value and the fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import json
import posixpath
import re
import shlex

from ansible_collections.xinchuang.cloud.plugins.module_utils.pki import certificates as registry_config
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

try:
    from cryptography import x509
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - the controller has it (the pki role needs it)
    x509 = None


class Day2Error(XinchuangError, ValueError):
    """A day-2 input that cannot be acted on; the message names it and the fix."""


# --- etcd: the unit the kubernetes role wrote ------------------------------------------------

def etcd_unit_flags(unit_text):
    """{"binary": path, "flags": {name: value}} of the last ExecStart of a unit's text (the
    output of ``systemctl cat etcd.service``: the unit and its drop-ins). A bare flag has the
    value True. The restore and the backup read what etcd really runs with (data directory,
    member name, peer URLs, certificates) from here, not from a second copy of the role's rules."""
    joined = re.sub(r"\\\n", " ", unit_text or "")
    commands = [line.split("=", 1)[1].strip() for line in joined.splitlines()
                if line.strip().startswith("ExecStart=")]
    commands = [c for c in commands if c]
    if not commands:
        raise Day2Error("the etcd unit has no ExecStart (is etcd installed by the kubernetes role on this "
                        "host? run site.yml first, or name the unit with etcd_backup_unit / etcd_restore_unit)")
    words = shlex.split(commands[-1])
    flags = {}
    for word in words[1:]:
        if not word.startswith("--"):
            continue
        name, sep, value = word[2:].partition("=")
        flags[name] = value if sep else True
    if not flags.get("data-dir"):
        raise Day2Error("the etcd unit's command line has no --data-dir: %s" % commands[-1])
    return {"binary": words[0], "flags": flags}


def etcd_client(unit):
    """How etcdctl reaches the local member with the member's own certificate (it has client
    usage, as the kubernetes role's health check uses it): endpoint, cacert, cert, key."""
    flags = unit["flags"]
    urls = [u for u in str(flags.get("listen-client-urls", "")).split(",") if u]
    local = [u for u in urls if "://127.0.0.1:" in u or "://localhost:" in u]
    missing = [f for f in ("trusted-ca-file", "cert-file", "key-file") if not flags.get(f)]
    if missing or not urls:
        raise Day2Error("the etcd unit lacks %s: etcd without client TLS is not the kubernetes role's"
                        % ", ".join(missing or ["--listen-client-urls"]))
    return {"endpoint": (local or urls)[0], "cacert": flags["trusted-ca-file"],
            "cert": flags["cert-file"], "key": flags["key-file"]}


# --- etcd snapshots ----------------------------------------------------------------------------

_STAMP = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def snapshot_name(prefix, stamp):
    """``<prefix>-<stamp>.db``: names sort by time, so the newest is the last."""
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", prefix or ""):
        raise Day2Error("snapshot prefix %r: letters, digits, '.', '_' and '-' only" % (prefix,))
    if not _STAMP.match(stamp or ""):
        raise Day2Error("snapshot time %r is not YYYYmmddTHHMMSSZ" % (stamp,))
    return "%s-%s.db" % (prefix, stamp)


def snapshots_to_prune(names, prefix, keep):
    """The snapshot files (and their .sha256 files) beyond the newest ``keep`` of ``prefix``;
    other files in the directory are never named."""
    try:
        keep = int(keep)
    except (TypeError, ValueError):
        keep = 0
    if keep < 1:
        raise Day2Error("etcd_backup_keep must be a whole number of at least 1 (got %r)" % (keep,))
    pattern = re.compile(r"^%s-[0-9]{8}T[0-9]{6}Z\.db$" % re.escape(prefix))
    snaps = sorted({posixpath.basename(n) for n in names if pattern.match(posixpath.basename(n))})
    old = snaps[:-keep] if len(snaps) > keep else []
    present = {posixpath.basename(n) for n in names}
    return [f for name in old for f in (name, name + ".sha256") if f in present]


def checksum_line(sha256, name):
    """A ``sha256sum`` line: ``sha256sum -c`` in the snapshot's directory checks it."""
    if not _SHA256.match(sha256 or ""):
        raise Day2Error("%r is not a SHA-256 (64 lowercase hex digits)" % (sha256,))
    return "%s  %s\n" % (sha256, name)


def checksum_of(text, name):
    """The SHA-256 a ``sha256sum`` file gives for ``name`` (or its only line)."""
    entries = []
    for line in (text or "").splitlines():
        match = re.match(r"^([0-9a-fA-F]{64}) [ *]?(.+)$", line.strip())
        if match:
            entries.append((match.group(1).lower(), posixpath.basename(match.group(2).strip())))
    named = [sha for sha, file_name in entries if file_name == posixpath.basename(name)]
    if named:
        return named[0]
    if len(entries) == 1:
        return entries[0][0]
    raise Day2Error("no SHA-256 of %s in its checksum file (a line '<sha256>  %s', as etcd_backup.yml "
                    "writes it)" % (name, posixpath.basename(name)))


def snapshot_status(text):
    """revision, keys, size and hash of ``etcdutl snapshot status -w json``."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        raise Day2Error("etcdutl snapshot status printed no JSON: %r" % ((text or "")[:200],))
    return {"revision": data.get("revision"), "keys": data.get("totalKey"),
            "size": data.get("totalSize"), "hash": data.get("hash"), "version": data.get("version", "")}


# --- etcd restore ------------------------------------------------------------------------------

def restore_problems(snapshot, exists, sha256, expected, etcd_hosts, play_hosts):
    """Why a restore must not start (empty: it may). ``exists``: the snapshot is a file on the
    controller; ``sha256``: its checksum; ``expected``: the checksum it must have (from its
    .sha256 file or etcd_restore_sha256, '' when neither exists); ``etcd_hosts``: the etcd
    group; ``play_hosts``: the hosts this run reaches."""
    if not snapshot:
        return ["etcd_restore_snapshot is not set: name a snapshot on the controller that etcd_backup.yml made "
                "(-e etcd_restore_snapshot=/path/to/<prefix>-<time>.db, its .sha256 beside it)"]
    if not exists:
        return ["etcd_restore_snapshot %s is not a file on the controller: give the path of a snapshot "
                "etcd_backup.yml fetched (etcd_backup_dir) or copy it here from the host's "
                "etcd_backup_host_dir" % snapshot]
    problems = []
    if not expected:
        problems.append("no checksum for %s: etcd_backup.yml writes %s.sha256 beside each snapshot; copy it "
                        "along, or give the SHA-256 with etcd_restore_sha256" % (snapshot, posixpath.basename(snapshot)))
    elif expected.lower() != (sha256 or "").lower():
        problems.append("etcd_restore_snapshot %s has SHA-256 %s, its checksum says %s: the copy is damaged "
                        "or not that snapshot; take another copy (etcd_backup_host_dir on the etcd host keeps "
                        "the last etcd_backup_keep)" % (snapshot, sha256, expected))
    missing = [h for h in etcd_hosts if h not in play_hosts]
    if missing:
        problems.append("the etcd members %s are not in this run: a restore makes every member again from the "
                        "snapshot with one new cluster token, so all of them (the etcd group: %s) must be in "
                        "the play; run without --limit, or with every etcd host in it"
                        % (", ".join(missing), ", ".join(etcd_hosts)))
    if not etcd_hosts:
        problems.append("the inventory has no etcd group: nothing to restore")
    return problems


def restore_decision(marker_text, sha256, force=False):
    """{"restore": bool, "reason": str}: a snapshot whose checksum the marker beside the data
    directory records was restored already and is not restored again unless forced (the
    cluster has moved on since; restoring it again throws that away)."""
    marker = {}
    if marker_text:
        try:
            marker = json.loads(marker_text)
        except ValueError:
            marker = {}
    if force:
        return {"restore": True, "reason": "etcd_restore_force is set"}
    if marker.get("sha256") == sha256:
        return {"restore": False,
                "reason": "snapshot %s (SHA-256 %s) was restored already at %s (its old data kept in %s); "
                          "set etcd_restore_force=true to restore it again"
                          % (marker.get("snapshot", "?"), sha256, marker.get("restored_at", "?"),
                             marker.get("previous_data_dir", "?"))}
    if marker:
        return {"restore": True, "reason": "the last restore was of another snapshot (%s)" % marker.get("snapshot", "?")}
    return {"restore": True, "reason": "no restore recorded on this member"}


def restore_marker_path(data_dir):
    """Beside the data directory (inside it etcd would find a stranger)."""
    return data_dir.rstrip("/") + ".restored.json"


def restore_plan(unit, snapshot, sha256, stamp, bump_revision=1000000000):
    """What a restore does on one member (``snapshot``: its name or controller path): where its
    copy goes on the member, the new data directory etcdutl makes (beside the one
    the unit names, then moved into its place: the unit and the role's kubernetes_etcd_data_dir
    keep naming it), where the current one is kept, the new cluster token, the etcdutl argv and
    the marker to write. The token is new for every restore (etcd requires a restored cluster
    to be a new one: new member and cluster IDs); every member gets the same one."""
    if not _STAMP.match(stamp or ""):
        raise Day2Error("restore time %r is not YYYYmmddTHHMMSSZ" % (stamp,))
    flags = unit["flags"]
    missing = [f for f in ("name", "initial-cluster", "initial-advertise-peer-urls") if not flags.get(f)]
    if missing:
        raise Day2Error("the etcd unit lacks --%s: a member cannot be restored without it" % ", --".join(missing))
    data_dir = str(flags["data-dir"]).rstrip("/")
    if data_dir in ("", "/"):
        raise Day2Error("etcd's --data-dir %r cannot be replaced" % flags["data-dir"])
    token = "%s-restore-%s" % (flags.get("initial-cluster-token") or "etcd", stamp.lower())
    new_dir = "%s.restore-%s" % (data_dir, stamp)
    copy = new_dir + ".db"
    argv = [posixpath.join(posixpath.dirname(unit["binary"]), "etcdutl"), "snapshot", "restore", copy,
            "--data-dir", new_dir, "--name", flags["name"], "--initial-cluster", flags["initial-cluster"],
            "--initial-cluster-token", token, "--initial-advertise-peer-urls", flags["initial-advertise-peer-urls"]]
    if bump_revision:
        # Watchers (kubelets, controllers) hold revisions past the snapshot's: a higher
        # revision, marked compacted, makes them list again instead of missing changes.
        argv += ["--bump-revision", str(int(bump_revision)), "--mark-compacted"]
    aside = "%s.pre-restore-%s" % (data_dir, stamp)
    return {"data_dir": data_dir, "new_dir": new_dir, "aside_dir": aside, "token": token, "argv": argv,
            "snapshot_copy": copy, "marker_path": restore_marker_path(data_dir),
            "marker": {"snapshot": posixpath.basename(snapshot), "sha256": sha256, "restored_at": stamp,
                       "previous_data_dir": aside, "cluster_token": token, "member": flags["name"]}}


# --- certificates the kubernetes role issued ---------------------------------------------------

_EKU_NAMES = {"1.3.6.1.5.5.7.3.1": "serverAuth", "1.3.6.1.5.5.7.3.2": "clientAuth"}


def _need_cryptography():
    if x509 is None:
        raise Day2Error("the Python library cryptography is missing on the controller: install it (pip install "
                        "cryptography, or python3-cryptography)")


def _not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def _not_before(cert):
    value = getattr(cert, "not_valid_before_utc", None)
    return value if value is not None else cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def _names(name, oid):
    return [a.value for a in name.get_attributes_for_oid(oid)]


def issued_certificates(listing, ca_dir, now=None):
    """The certificates in ``<ca_dir>/issued/<node>/<name>.crt`` as the kubernetes role keeps
    them on its first control plane host, read from ``listing``: one ``<path> <base64 PEM>``
    line per file (the CAs' ``<ca_dir>/<ca>.crt`` too, which name each certificate's CA).
    Each: node, name, path, serial, not_after (ISO), days_left, lifetime_days, subject fields,
    SANs, extended key usage and the CA's name."""
    _need_cryptography()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ca_dir = ca_dir.rstrip("/")
    cas, issued = {}, []
    for line in (listing or "").splitlines():
        path, _sep, data = line.strip().partition(" ")
        if not path or not data:
            continue
        try:
            pem = base64.b64decode(data)
            cert = x509.load_pem_x509_certificate(pem)
        except (ValueError, TypeError):
            raise Day2Error("%s is not a PEM certificate: the CA directory %s holds a damaged file" % (path, ca_dir))
        rel = path[len(ca_dir) + 1:] if path.startswith(ca_dir + "/") else None
        if rel is None or not rel.endswith(".crt"):
            continue
        parts = rel[:-len(".crt")].split("/")
        if len(parts) == 1:
            cas[cert.subject.rfc4514_string()] = parts[0]
        elif len(parts) == 3 and parts[0] == "issued":
            issued.append((parts[1], parts[2], path, pem, cert))
    out = []
    for node, name, path, pem, cert in sorted(issued, key=lambda i: (i[0], i[1])):
        try:
            eku = [_EKU_NAMES.get(o.dotted_string, o.dotted_string)
                   for o in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value]
        except x509.ExtensionNotFound:
            eku = []
        not_after = _not_after(cert)
        out.append({
            "node": node, "name": name, "path": path, "serial": "%x" % cert.serial_number,
            "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days_left": int((not_after - now).total_seconds() // 86400),
            "lifetime_days": int(round((not_after - _not_before(cert)).total_seconds() / 86400.0)),
            "common_name": (_names(cert.subject, NameOID.COMMON_NAME) or [""])[0],
            "organization": (_names(cert.subject, NameOID.ORGANIZATION_NAME) or [""])[0],
            "subject_alt_names": registry_config.subject_alt_names(cert),
            "extended_key_usage": eku,
            "ca": cas.get(cert.issuer.rfc4514_string(), ""),
            "pem": pem.decode("ascii"),
        })
    return out


def host_certificate_files(pems, node, pki_dir):
    """``xinchuang.cloud.host_files`` entries that put the node's issued certificates
    (``pems``: {"<node>/<name>": PEM}) into its PKI directory, as the kubernetes role copies
    them (``<pki_dir>/<name>.crt``, mode 0644). Keys are not among them: a renewal keeps them."""
    prefix = "%s/" % node
    return [{"content": pem, "dest": posixpath.join(pki_dir, key[len(prefix):] + ".crt"), "mode": "0644"}
            for key, pem in sorted(pems.items()) if key.startswith(prefix)]


def _days(days, what="certs_renew_days"):
    try:
        value = int(days)
    except (TypeError, ValueError):
        value = -1
    if value < 0:
        raise Day2Error("%s must be a whole number of days, 0 or more (got %r)" % (what, days))
    return value


def certificates_expiring(certs, days):
    """The certificates with fewer than ``days`` whole days left (the pki role's renewal rule:
    ``cert_days_left < pki_renew_days``), soonest first; 0 names only expired ones."""
    days = _days(days)
    return sorted((c for c in certs if c["days_left"] < days), key=lambda c: (c["days_left"], c["node"], c["name"]))


def pki_items(certs, ca_dir):
    """The pki role's ``pki_certificates`` items that issue ``certs`` again as they are (same
    key, subject, names and usage, signed by the same CA): what the kubernetes role asked for
    when it issued them, so its next run keeps the new ones."""
    ca_dir = ca_dir.rstrip("/")
    items = []
    for c in certs:
        if not c.get("ca"):
            raise Day2Error("%s was not issued by a CA in %s: the certificates renewed here are the kubernetes "
                            "role's; issue this one with the role that made it" % (c["path"], ca_dir))
        base = posixpath.join(ca_dir, "issued", c["node"], c["name"])
        items.append({"name": c["node"] + "/" + c["name"], "key_path": base + ".key", "cert_path": base + ".crt",
                      "common_name": c["common_name"], "organization": c["organization"],
                      "subject_alt_names": c["subject_alt_names"], "extended_key_usage": c["extended_key_usage"],
                      "ca_cert": posixpath.join(ca_dir, c["ca"] + ".crt"),
                      "ca_key": posixpath.join(ca_dir, c["ca"] + ".key")})
    return items


def renewal_valid_days(certs, valid_days=0):
    """The lifetime a renewed certificate gets: ``valid_days`` when given, else the longest
    lifetime the certificates had (the kubernetes role issues them all with
    kubernetes_cert_valid_days)."""
    given = _days(valid_days, "certs_renew_valid_days")
    if given:
        return given
    return max([c["lifetime_days"] for c in certs] or [365])


def expiry_report(certs, days):
    """One line per certificate expiring within ``days``: node, name, end, days left."""
    return ["%s/%s ends %s (%d days left)" % (c["node"], c["name"], c["not_after"], c["days_left"])
            for c in certificates_expiring(certs, days)]


# Which of a host's services read which file of its PKI directory (the kubernetes role's
# _kubernetes_service_inputs, its certificates and keys; tests/unit/plugins/plugin_utils/cluster/test_day2.py holds the two
# equal). The kubeconfigs on the hosts name these files; only the controller's admin copy
# embeds its certificate.
SERVICE_FILES = {
    "etcd": ("etcd-server.crt", "etcd-server.key", "etcd-peer.crt", "etcd-peer.key", "etcd-ca.crt"),
    "apiserver": ("apiserver.crt", "apiserver.key", "apiserver-kubelet-client.crt", "apiserver-kubelet-client.key",
                  "apiserver-etcd-client.crt", "apiserver-etcd-client.key", "front-proxy-client.crt",
                  "front-proxy-client.key", "ca.crt", "etcd-ca.crt", "front-proxy-ca.crt", "sa.pub", "sa.key"),
    "controller_manager": ("controller-manager.crt", "controller-manager.key", "ca.crt", "ca.key", "sa.key",
                           "front-proxy-ca.crt"),
    "scheduler": ("scheduler.crt", "scheduler.key", "ca.crt"),
    "kubelet": ("kubelet.crt", "kubelet.key", "kubelet-server.crt", "kubelet-server.key", "ca.crt"),
    "proxy": ("kube-proxy.crt", "kube-proxy.key", "ca.crt"),
}
# The order they restart in (each waits for the one before it to be healthy).
SERVICE_ORDER = ("etcd", "apiserver", "controller_manager", "scheduler", "kubelet", "proxy")
SERVICE_UNITS = {"etcd": "etcd.service", "apiserver": "kube-apiserver.service",
                 "controller_manager": "kube-controller-manager.service", "scheduler": "kube-scheduler.service",
                 "kubelet": "kubelet.service", "proxy": "kube-proxy.service"}


def host_services(is_etcd, is_control_plane, is_node):
    """The services of a host by its groups, in their order."""
    return ([s for s in ("etcd",) if is_etcd]
            + [s for s in ("apiserver", "controller_manager", "scheduler") if is_control_plane]
            + [s for s in ("kubelet", "proxy") if is_node])


def services_to_restart(changed_files, services):
    """The services of ``services`` that read one of ``changed_files`` (paths or names), in
    the order they restart; a file no service reads restarts nothing."""
    unknown = [s for s in services if s not in SERVICE_FILES]
    if unknown:
        raise Day2Error("unknown services %s: one of %s" % (", ".join(unknown), ", ".join(SERVICE_ORDER)))
    changed = {posixpath.basename(f) for f in changed_files or []}
    return [s for s in SERVICE_ORDER if s in services and changed & set(SERVICE_FILES[s])]
