# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iSCSI storage, as pure rules: the targets and LUNs a site declares, iSCSI names and CHAP
credentials, the target configuration of each backend (tgt's targets.conf, LIO's
saveconfig.json), what a running tgtd lacks, the initiator's settings, and the static
PersistentVolumes and CHAP Secrets that publish the LUNs.

The role ``xinchuang.cloud.storage_iscsi`` asks through filters (plugins/filter/storage_iscsi.py);
nothing here touches a host or the API server.

The rules and where they come from:

- iSCSI names (RFC 3720 3.2.6): ``iqn.YYYY-MM.<reversed domain>[:<unique part>]`` or
  ``eui.<16 hex digits>``, at most 223 bytes; after stringprep (RFC 3722) an ASCII name holds
  only lower-case letters, digits, ``-``, ``.`` and ``:``, so an upper-case IQN is refused
  rather than silently folded (the target and the initiators would not agree on it).
- CHAP secrets: 12 to 16 characters. RFC 3720 8.2.1 asks for secrets of at least 96 bits
  (12 octets) unless IPsec protects the link, and requires support of 128-bit (16-octet)
  secrets; the Microsoft initiator and several storage arrays accept only 12 to 16, and
  open-iscsi and tgt accept those, so 12..16 works with every initiator a site may point at
  the target. The characters are restricted to letters, digits and ``-_.@:+=%^~!,`` so the
  secret survives tgt's whitespace-separated ``incominguser`` line and iscsid.conf's
  ``key = value`` lines unquoted.
- LUN numbers 1..255: tgt keeps LUN 0 for its controller, so a LUN 0 would mean different
  things on the two backends.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.quantity import memory_bytes

BACKENDS = ("tgt", "lio")
BACKINGS = ("file", "block")
FILESYSTEMS = ("ext4", "xfs")
CHAP_MIN, CHAP_MAX = 12, 16
LUN_MIN, LUN_MAX = 1, 255
IQN_MAX = 223
DEFAULT_PORT = 3260
LABEL = "xinchuang.cloud/storage"
SECRET_TYPE = "kubernetes.io/iscsi-chap"
_IQN = re.compile(r"^iqn\.(\d{4})-(\d{2})\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
                  r"(:[a-z0-9.:-]+)?$")
_EUI = re.compile(r"^eui\.[0-9A-F]{16}$")
_CHAP_USER = re.compile(r"^[A-Za-z0-9._@:-]{1,64}$")
_CHAP_SECRET = re.compile(r"^[A-Za-z0-9_.@:+=%^~!,-]+$")
_TARGET_KEYS = {"iqn", "chap_user", "chap_secret", "initiators", "luns"}
_LUN_KEYS = {"lun", "backing", "path", "size", "capacity", "pv_name", "fs_type", "read_only"}

# Packages per backend and per package family of the OS model (os_model.py).
TARGET_PACKAGES = {("tgt", "deb"): ["tgt"], ("tgt", "rpm"): ["scsi-target-utils"],
                   ("lio", "deb"): ["targetcli-fb"], ("lio", "rpm"): ["targetcli"]}
TARGET_SERVICES = {("tgt", "deb"): "tgt", ("tgt", "rpm"): "tgtd",
                   ("lio", "deb"): "rtslib-fb-targetctl", ("lio", "rpm"): "target"}
LIO_CONFIG = {"deb": "/etc/rtslib-fb-target/saveconfig.json", "rpm": "/etc/target/saveconfig.json"}
INITIATOR_PACKAGES = {"deb": ["open-iscsi"], "rpm": ["iscsi-initiator-utils"]}
MULTIPATH_PACKAGES = {"deb": ["multipath-tools"], "rpm": ["device-mapper-multipath"]}


class IscsiError(XinchuangError, ValueError):
    """Bad iSCSI input; the message names the value and the fix."""


def iqn_problem(name, what):
    """None for a valid iSCSI name, else the problem naming ``what`` and the fix."""
    if not isinstance(name, str) or not name:
        return "%s %r is not an iSCSI name: give iqn.YYYY-MM.<reversed domain>[:<name>]" % (what, name)
    if len(name.encode("utf-8")) > IQN_MAX:
        return "%s %r is longer than %d bytes (RFC 3720 3.2.6.1): shorten it" % (what, name, IQN_MAX)
    if _EUI.match(name):
        return None
    match = _IQN.match(name)
    if not match:
        lower = " (iSCSI names are lower case: %r)" % name.lower() if name.lower() != name else ""
        return ("%s %r is not an iSCSI name%s: give iqn.YYYY-MM.<reversed domain>[:<name>] with only "
                "lower-case letters, digits, '-', '.' and ':' (RFC 3720 3.2.6), e.g. "
                "iqn.2026-11.cloud.example:data" % (what, name, lower))
    if not 1 <= int(match.group(2)) <= 12:
        return "%s %r has month %s: the date is YYYY-MM of the naming authority's domain" % (
            what, name, match.group(2))
    return None


def chap_problems(user, secret, where):
    """Problems of one CHAP pair; the secret itself is never part of a message."""
    problems = []
    if not isinstance(user, str) or not _CHAP_USER.match(user):
        problems.append("%s: chap_user %r must be 1 to 64 letters, digits or '._@:-'" % (where, user))
    if not isinstance(secret, str) or not secret:
        problems.append("%s: chap_secret is missing: give %d to %d characters" % (where, CHAP_MIN, CHAP_MAX))
    elif not CHAP_MIN <= len(secret) <= CHAP_MAX:
        problems.append("%s: chap_secret has %d characters; iSCSI CHAP needs %d to %d (RFC 3720 8.2.1: at least "
                        "96 bits without IPsec; many initiators accept at most 16): give a secret of that length"
                        % (where, len(secret), CHAP_MIN, CHAP_MAX))
    elif not _CHAP_SECRET.match(secret):
        problems.append("%s: chap_secret holds a character outside letters, digits and '-_.@:+=%%^~!,' "
                        "(a blank, quote, '#' or backslash breaks targets.conf or iscsid.conf): choose another"
                        % where)
    return problems


def _lun_problems(lun, where, backend):
    problems = []
    if not isinstance(lun, dict):
        return ["%s must be a dict with lun, backing and path, got %r" % (where, lun)]
    unknown = sorted(set(lun) - _LUN_KEYS)
    if unknown:
        problems.append("%s has unknown key(s) %s: the keys are %s" % (where, ", ".join(unknown),
                                                                       ", ".join(sorted(_LUN_KEYS))))
    number = lun.get("lun")
    if isinstance(number, bool) or not isinstance(number, int) or not LUN_MIN <= number <= LUN_MAX:
        problems.append("%s: lun %r must be a number from %d to %d (tgt keeps LUN 0 for its controller)"
                        % (where, number, LUN_MIN, LUN_MAX))
    backing = lun.get("backing")
    if backing not in BACKINGS:
        problems.append("%s: backing %r is unknown: use 'file' (a file the role makes, with size) or "
                        "'block' (an existing block device, with capacity)" % (where, backing))
    path = lun.get("path")
    if not isinstance(path, str) or not path.startswith("/") or path.rstrip("/") in ("", "/dev") or " " in path:
        problems.append("%s: path %r must be an absolute path without blanks" % (where, path))
    elif backing == "block" and not path.startswith("/dev/"):
        problems.append("%s: path %r of a block LUN must be a device under /dev (by-id names survive a reboot)"
                        % (where, path))
    elif backing == "file" and path.startswith("/dev/"):
        problems.append("%s: path %r of a file LUN is under /dev: use backing 'block' for a device" % (where, path))
    for key in ("size", "capacity"):
        if key in lun and not _quantity_ok(lun[key]):
            problems.append("%s: %s %r is not a size such as 10Gi" % (where, key, lun[key]))
    if backing == "file" and "size" not in lun:
        problems.append("%s: a file LUN needs size (the file the role makes, e.g. 10Gi)" % where)
    if backing == "block" and "capacity" not in lun:
        problems.append("%s: a block LUN needs capacity (the PersistentVolume's size, e.g. 100Gi)" % where)
    if backing == "block" and "size" in lun:
        problems.append("%s: size is for file LUNs; a block LUN has the device's size (give capacity)" % where)
    pv_name = lun.get("pv_name")
    if pv_name is not None and not k8s_names.is_rfc1123_subdomain(pv_name):
        problems.append("%s: pv_name %r must be a DNS name (lower case, digits, '-', '.')" % (where, pv_name))
    if lun.get("fs_type", "ext4") not in FILESYSTEMS:
        problems.append("%s: fs_type %r must be one of %s" % (where, lun.get("fs_type"), ", ".join(FILESYSTEMS)))
    if backend == "lio" and backing == "file" and isinstance(path, str) and path.startswith("/dev/"):
        problems.append("%s: LIO fileio needs a file, not %r" % (where, path))
    return problems


def _quantity_ok(value):
    try:
        return memory_bytes(value) > 0
    except (XinchuangError, ValueError, TypeError):
        return False


def target_problems(targets, backend="tgt"):
    """Every problem of ``storage_iscsi_targets``: names, CHAP, LUNs, duplicates (IQN, LUN number
    in a target, backing path, PV name). An empty list means good."""
    if backend not in BACKENDS:
        return ["storage_iscsi_backend %r is unknown: use one of %s, or auto" % (backend, ", ".join(BACKENDS))]
    if not isinstance(targets, list):
        return ["storage_iscsi_targets must be a list of targets, got %r" % (type(targets).__name__,)]
    problems, iqns, paths, pv_names = [], {}, {}, {}
    for t_index, target in enumerate(targets):
        where = "storage_iscsi_targets[%d]" % t_index
        if not isinstance(target, dict):
            problems.append("%s must be a dict with iqn, chap_user, chap_secret and luns" % where)
            continue
        iqn = target.get("iqn")
        where = "target %r" % (iqn,) if isinstance(iqn, str) and iqn else where
        unknown = sorted(set(target) - _TARGET_KEYS)
        if unknown:
            problems.append("%s has unknown key(s) %s: the keys are %s" % (where, ", ".join(unknown),
                                                                           ", ".join(sorted(_TARGET_KEYS))))
        problem = iqn_problem(iqn, "%s: iqn" % where if not isinstance(iqn, str) or not iqn else "iqn")
        if problem:
            problems.append(problem)
        elif iqn in iqns:
            problems.append("iqn %r is given twice (targets %d and %d): give each target its own name"
                            % (iqn, iqns[iqn], t_index))
        iqns.setdefault(iqn, t_index)
        problems += chap_problems(target.get("chap_user"), target.get("chap_secret"), where)
        for name in target.get("initiators") or []:
            problem = iqn_problem(name, "%s: initiator" % where)
            if problem:
                problems.append(problem)
        luns = target.get("luns")
        if not isinstance(luns, list) or not luns:
            problems.append("%s has no luns: give at least one {lun, backing, path}" % where)
            continue
        numbers = {}
        for l_index, lun in enumerate(luns):
            lun_where = "%s luns[%d]" % (where, l_index)
            problems += _lun_problems(lun, lun_where, backend)
            if not isinstance(lun, dict):
                continue
            number = lun.get("lun")
            if number in numbers:
                problems.append("%s: lun %r is used twice in this target (luns[%d] and luns[%d]): number each "
                                "LUN of a target once" % (where, number, numbers[number], l_index))
            numbers.setdefault(number, l_index)
            path = lun.get("path")
            if path in paths:
                problems.append("%s: path %r is already exported by %s: one LUN per file or device"
                                % (lun_where, path, paths[path]))
            paths.setdefault(path, lun_where)
            pv_name = lun.get("pv_name")
            if pv_name and pv_name in pv_names:
                problems.append("%s: pv_name %r is already the PersistentVolume of %s: give each LUN its own "
                                "pv_name" % (lun_where, pv_name, pv_names[pv_name]))
            if pv_name:
                pv_names.setdefault(pv_name, lun_where)
    return problems


def check_targets(targets, backend="tgt"):
    """The targets unchanged when good; else IscsiError with every problem."""
    problems = target_problems(targets, backend)
    if problems:
        raise IscsiError("; ".join(problems) + "; nothing was changed")
    return targets


def choose_backend(requested, probe):
    """``storage_iscsi_backend`` (tgt, lio or auto) and the host probe -> tgt or lio.

    auto picks LIO when the kernel has its target core (``/sys/kernel/config/target`` exists, or
    ``modinfo target_core_mod`` finds the module of the running kernel: the probe prints
    ``lio yes``), tgt otherwise (a container, or a kernel built without it). An explicit lio on a
    host whose probe says no is refused."""
    has_lio = "lio yes" in (probe or "")
    if requested == "auto":
        return "lio" if has_lio else "tgt"
    if requested not in BACKENDS:
        raise IscsiError("storage_iscsi_backend %r is unknown: use tgt, lio or auto" % (requested,))
    if requested == "lio" and not has_lio:
        raise IscsiError("storage_iscsi_backend is lio but this host's kernel has no LIO target core "
                         "(no /sys/kernel/config/target, no target_core_mod module): use tgt or auto; "
                         "nothing was changed")
    return requested


def target_plan(backend, package_family):
    """Packages, service and LIO configuration path of a backend on a package family."""
    if package_family not in ("deb", "rpm"):
        raise IscsiError("package family %r has no iSCSI target packages: the OS model gives deb or rpm"
                         % (package_family,))
    return {"backend": backend, "packages": TARGET_PACKAGES[(backend, package_family)],
            "service": TARGET_SERVICES[(backend, package_family)], "lio_config": LIO_CONFIG[package_family]}


def initiator_packages(package_family, multipath=False):
    """open-iscsi on the deb family (Debian, Kylin desktop, UOS desktop), iscsi-initiator-utils on
    the rpm family (openEuler, Kylin Server, UOS Server, RHEL); multipath's tools when asked."""
    if package_family not in INITIATOR_PACKAGES:
        raise IscsiError("package family %r has no iSCSI initiator packages: the OS model gives deb or rpm"
                         % (package_family,))
    return INITIATOR_PACKAGES[package_family] + (MULTIPATH_PACKAGES[package_family] if multipath else [])


def tgt_config(targets):
    """tgt's targets.conf text for the targets (checked first): one block per target, each LUN at
    its own number, the CHAP account, the initiators allowed (all when none are listed)."""
    check_targets(targets, "tgt")
    lines = ["# Written by xinchuang.cloud.storage_iscsi; changes here are overwritten."]
    for target in targets:
        lines.append("<target %s>" % target["iqn"])
        for lun in sorted(target["luns"], key=lambda item: item["lun"]):
            kind = "backing-store"
            lines += ["    <%s %s>" % (kind, lun["path"]), "        lun %d" % lun["lun"]]
            if lun.get("read_only"):
                lines.append("        readonly 1")
            lines.append("    </%s>" % kind)
        lines.append("    incominguser %s %s" % (target["chap_user"], target["chap_secret"]))
        for name in target.get("initiators") or []:
            lines.append("    initiator-name %s" % name)
        lines.append("</target>")
    return "\n".join(lines) + "\n"


def _storage_object_name(target, lun):
    suffix = target["iqn"].split(":", 1)[-1] if ":" in target["iqn"] else target["iqn"]
    return re.sub(r"[^A-Za-z0-9_-]", "_", "%s_%d" % (suffix, lun["lun"]))


def lio_config(targets, portal="0.0.0.0", port=DEFAULT_PORT):
    """LIO's saveconfig.json (rtslib-fb, restored by ``targetctl restore``): a fileio or block
    storage object per LUN, one target per IQN with TPG 1 asking CHAP; node ACLs per listed
    initiator, else ACLs generated for any initiator that passes CHAP."""
    check_targets(targets, "lio")
    objects, out = [], []
    for target in targets:
        luns, acls = [], []
        for lun in sorted(target["luns"], key=lambda item: item["lun"]):
            name = _storage_object_name(target, lun)
            if lun["backing"] == "file":
                objects.append({"name": name, "plugin": "fileio", "dev": lun["path"],
                                "size": memory_bytes(lun["size"]), "write_back": False})
                luns.append({"index": lun["lun"], "storage_object": "/backstores/fileio/" + name})
            else:
                objects.append({"name": name, "plugin": "block", "dev": lun["path"], "readonly": bool(lun.get("read_only"))})
                luns.append({"index": lun["lun"], "storage_object": "/backstores/block/" + name})
        initiators = target.get("initiators") or []
        for name in initiators:
            acls.append({"node_wwn": name, "chap_userid": target["chap_user"],
                         "chap_password": target["chap_secret"],
                         "mapped_luns": [{"index": l["index"], "tpg_lun": l["index"], "write_protect": False}
                                         for l in luns]})
        tpg = {"tag": 1, "enable": True,
               "attributes": {"authentication": 1, "generate_node_acls": 0 if initiators else 1,
                              "demo_mode_write_protect": 0, "cache_dynamic_acls": 0 if initiators else 1},
               "parameters": {"AuthMethod": "CHAP"},
               "luns": luns, "node_acls": acls,
               "portals": [{"ip_address": portal, "port": int(port)}]}
        if not initiators:
            tpg["chap_userid"], tpg["chap_password"] = target["chap_user"], target["chap_secret"]
        out.append({"wwn": target["iqn"], "fabric": "iscsi", "tpgs": [tpg]})
    return {"fabric_modules": [], "storage_objects": objects, "targets": out}


def parse_tgt_show(stdout):
    """``tgtadm --lld iscsi --mode target --op show`` -> {iqn: {"luns": {n: path}, "accounts": [...]}}
    (LUN 0, tgt's controller, left out)."""
    live, current, section, lun = {}, None, None, None
    for raw in (stdout or "").splitlines():
        line = raw.strip()
        match = re.match(r"^Target \d+: (\S+)$", raw)
        if match:
            current = live.setdefault(match.group(1), {"luns": {}, "accounts": []})
            section, lun = None, None
            continue
        if current is None or not line:
            continue
        if line.endswith("information:"):
            section = line[:-len(" information:")]
            continue
        if section == "LUN":
            match = re.match(r"^LUN: (\d+)$", line)
            if match:
                lun = int(match.group(1))
            elif line.startswith("Backing store path:") and lun:
                current["luns"][lun] = line.split(":", 1)[1].strip()
        elif section == "Account" and raw.startswith("        ") and ":" not in line:
            current["accounts"].append(line)
    return live


def tgt_drift(stdout, targets):
    """The IQNs of the targets whose live state in tgtd (the show output) differs from the
    inventory: missing, other LUNs or backing paths, another CHAP account. Those are updated
    from the configuration file; a secret change is seen as a change of that file."""
    live = parse_tgt_show(stdout)
    drifted = []
    for target in targets or []:
        want = {"luns": {lun["lun"]: lun["path"] for lun in target["luns"]}, "accounts": [target["chap_user"]]}
        have = live.get(target["iqn"])
        if have is None or have["luns"] != want["luns"] or sorted(have["accounts"]) != want["accounts"]:
            drifted.append(target["iqn"])
    return drifted


def backing_files(targets):
    """[{path, bytes}] of the file LUNs: the files the role makes (sparse) when missing."""
    return [{"path": lun["path"], "bytes": memory_bytes(lun["size"])}
            for target in targets or [] for lun in target["luns"] if lun.get("backing") == "file"]


def initiator_name(explicit, prefix, node):
    """This node's InitiatorName: ``explicit`` when given, else ``<prefix>:<node>`` (stable, so a
    rerun writes the same name and a target's ACL can name it). Checked as an iSCSI name."""
    name = explicit or "%s:%s" % (prefix, re.sub(r"[^a-z0-9.-]", "-", str(node).lower()))
    problem = iqn_problem(name, "storage_iscsi_initiator_name" if explicit else
                          "the initiator name %s:<node> from storage_iscsi_initiator_prefix" % prefix)
    if problem:
        raise IscsiError(problem + "; nothing was changed")
    return name


def initiator_name_clashes(names_by_host):
    """Problems when two hosts would get one InitiatorName ({host: name})."""
    seen, problems = {}, []
    for host in sorted(names_by_host):
        name = names_by_host[host]
        if name in seen:
            problems.append("hosts %s and %s would both be InitiatorName %s: set storage_iscsi_initiator_name "
                            "per host" % (seen[name], host, name))
        seen.setdefault(name, host)
    return problems


def iscsid_settings(chap_user="", chap_secret="", startup="manual"):
    """[{key, value}] for iscsid.conf: session CHAP when a user is given (its secret checked as a
    target's is), and the node start-up mode."""
    settings = [{"key": "node.startup", "value": startup}]
    if chap_user:
        problems = chap_problems(chap_user, chap_secret, "storage_iscsi_initiator_chap")
        if problems:
            raise IscsiError("; ".join(problems) + "; nothing was changed")
        settings += [{"key": "node.session.auth.authmethod", "value": "CHAP"},
                     {"key": "node.session.auth.username", "value": chap_user},
                     {"key": "node.session.auth.password", "value": chap_secret}]
    return settings


def _target_portal(portal, port):
    """host:port, [IPv6]:port; a portal that already names its port is kept."""
    if portal.startswith("["):
        return portal if re.search(r"\]:\d+$", portal) else "%s:%d" % (portal, int(port))
    if portal.count(":") == 1:
        return portal if re.search(r":\d+$", portal) else "%s%d" % (portal, int(port))
    if portal.count(":") > 1:
        return "[%s]:%d" % (portal, int(port))
    return "%s:%d" % (portal, int(port))


def secret_name(target):
    """The CHAP Secret of a target: ``iscsi-chap-<IQN without iqn.YYYY-MM.>-<8 hex of its hash>``;
    the hash keeps two targets whose names differ only where the name is cut (or in characters a
    Secret's name cannot hold) apart."""
    iqn = target["iqn"]
    readable = re.sub(r"^iqn\.\d{4}-\d{2}\.", "", iqn)
    readable = re.sub(r"[^a-z0-9-]+", "-", readable.lower()).strip("-")[:40].strip("-")
    return "iscsi-chap-%s-%s" % (readable or "target", hashlib.sha1(iqn.encode("utf-8")).hexdigest()[:8])


def cluster_objects(targets, portal, namespace="kube-system", storage_class="", port=DEFAULT_PORT):
    """The CHAP Secrets (type kubernetes.io/iscsi-chap, one per target with a published LUN) and
    the static PersistentVolumes (in-tree ``iscsi`` source, ``Retain``) of every LUN with a
    pv_name, Secrets first."""
    check_targets(targets)
    if not isinstance(portal, str) or not portal or " " in portal:
        raise IscsiError("storage_iscsi_portal %r must be the target's address or host name as the nodes "
                         "reach it" % (portal,))
    if not k8s_names.is_rfc1123_label(namespace):
        raise IscsiError("storage_iscsi_secret_namespace %r is not a namespace name" % (namespace,))
    target_portal = _target_portal(portal, port)
    secrets, pvs = [], []
    for target in targets:
        published = [lun for lun in target["luns"] if lun.get("pv_name")]
        if not published:
            continue
        name = secret_name(target)
        secrets.append({
            "apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": name, "namespace": namespace, "labels": {LABEL: "iscsi"}},
            "stringData": {"node.session.auth.username": target["chap_user"],
                           "node.session.auth.password": target["chap_secret"]}})
        for lun in sorted(published, key=lambda item: item["lun"]):
            capacity = lun.get("capacity") or lun.get("size")
            spec = {
                "capacity": {"storage": str(capacity)},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "volumeMode": "Filesystem",
                "iscsi": {"targetPortal": target_portal, "iqn": target["iqn"], "lun": lun["lun"],
                          "fsType": lun.get("fs_type", "ext4"), "readOnly": bool(lun.get("read_only")),
                          "chapAuthSession": True, "chapAuthDiscovery": False,
                          "secretRef": {"name": name, "namespace": namespace}},
            }
            if storage_class:
                spec["storageClassName"] = storage_class
            pvs.append({"apiVersion": "v1", "kind": "PersistentVolume",
                        "metadata": {"name": lun["pv_name"], "labels": {LABEL: "iscsi"}},
                        "spec": spec})
    return secrets + pvs


def pv_clashes(existing, objects):
    """Problems when a PersistentVolume the role would write already exists and is not this
    role's PV of the same LUN (another driver's volume, or another target or LUN): a name
    clash is refused rather than overwritten."""
    problems = []
    wanted = {o["metadata"]["name"]: o for o in objects or [] if o.get("kind") == "PersistentVolume"}
    for pv in existing or []:
        name = pv.get("metadata", {}).get("name")
        if name not in wanted:
            continue
        mine = wanted[name]["spec"]["iscsi"]
        theirs = pv.get("spec", {}).get("iscsi") or {}
        labels = pv.get("metadata", {}).get("labels") or {}
        if labels.get(LABEL) != "iscsi" or (theirs.get("iqn"), theirs.get("lun")) != (mine["iqn"], mine["lun"]):
            what = ("iSCSI %s LUN %s" % (theirs.get("iqn"), theirs.get("lun")) if theirs
                    else "a volume of another kind")
            problems.append("PersistentVolume %r already exists as %s: choose another pv_name for %s LUN %d, or "
                            "delete that PersistentVolume" % (name, what, mine["iqn"], mine["lun"]))
    return problems
