# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local storage, as pure rules: which volumes a node declares, whether a device may be
formatted (the wipe guard), and the PersistentVolumes and StorageClass that publish them.

The role ``xinchuang.cloud.storage_local`` asks through filters; nothing here touches a disk.
A database keeps its data on these volumes, so every PersistentVolume is ``Retain`` and a
device that holds anything is formatted only when ``storage_local_wipe`` names it exactly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.storage import classes as classes_rule
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.quantity import memory_bytes

BY_ID = "/dev/disk/by-id/"
FILESYSTEMS = ("ext4", "xfs")
DEFAULT_CLASS = "local-storage"


class StorageError(XinchuangError, ValueError):
    """Bad storage input, or a device the guard will not format; the message says the fix."""


# The programs the disk steps run, and the package of each (the same names on Debian and EL).
TOOL_PACKAGES = {"wipefs": "util-linux", "blkid": "util-linux", "mkfs.ext4": "e2fsprogs",
                 "mkfs.xfs": "xfsprogs"}


def tools_needed(volumes):
    """The programs this node's disks need: wipefs and blkid, and mkfs of each fstype."""
    fstypes = sorted({v.get("fstype", "ext4") for v in volumes or [] if v.get("device")})
    return ["wipefs", "blkid"] + ["mkfs." + f for f in fstypes] if fstypes else []


def parse_probe(stdout):
    """The probe's report (templates/probe.sh.j2 of the role): ``missing TOOL`` lines, and
    ``disk DEVICE JSON`` lines with what ``wipefs --json --no-act`` printed (nothing for a
    blank disk). Returns {"missing": [...], "packages": [...], "signatures": {device: [...]}}."""
    missing, signatures = [], {}
    for line in (stdout or "").splitlines():
        if line.startswith("missing "):
            missing.append(line.split(" ", 1)[1].strip())
        elif line.startswith("disk "):
            parts = line.split(" ", 2)
            text = parts[2].strip() if len(parts) > 2 else ""
            try:
                signatures[parts[1]] = json.loads(text).get("signatures", []) if text else []
            except ValueError:
                raise StorageError("cannot read what wipefs reported for %s: %r" % (parts[1], text))
        elif line.startswith("absent "):
            raise StorageError("%s does not exist on this node: check the disk's id (ls -l %s); "
                               "nothing was changed" % (line.split(" ", 1)[1].strip(), BY_ID))
    packages = sorted({TOOL_PACKAGES.get(t, t) for t in missing})
    return {"missing": missing, "packages": packages, "signatures": signatures}


def disk_plan(probe, volumes, wipe=None):
    """[{volume, action}] for this node's disks (format_decision of each), all decided before
    any disk is touched: one refusal stops them all."""
    plan, problems = [], []
    for vol in volumes or []:
        if not vol.get("device"):
            continue
        try:
            action = format_decision(vol["device"], probe["signatures"].get(vol["device"], []),
                                     vol.get("fstype", "ext4"), wipe)
        except StorageError as exc:
            problems.append(str(exc))
            continue
        plan.append({"volume": vol, "action": action})
    if problems:
        raise StorageError("; ".join(problems))
    return plan


def pv_name(node, volume):
    """The PersistentVolume of ``volume`` on ``node``: local-<node>-<volume>."""
    return "local-%s-%s" % (node.lower().replace(".", "-").replace("_", "-"), volume)


def wipe_problems(wipe):
    """Entries of storage_local_wipe that are not a /dev/disk/by-id/ path."""
    problems = []
    for entry in wipe or []:
        if not isinstance(entry, str) or not entry.startswith(BY_ID) or entry == BY_ID or "/.." in entry:
            problems.append("storage_local_wipe entry %r is not a %s<id> path: name the disk by its "
                            "stable id (ls -l %s), never by /dev/sdX, which can change at boot"
                            % (entry, BY_ID, BY_ID))
    return problems


def volume_problems(volumes, node, wipe=None):
    """Everything wrong with a node's storage_local_volumes, each naming the value and the fix."""
    problems = list(wipe_problems(wipe))
    if not isinstance(volumes, list):
        return problems + ["storage_local_volumes of %s must be a list, got %r" % (node, volumes)]
    seen_names, seen_paths = set(), set()
    for index, vol in enumerate(volumes):
        where = "storage_local_volumes[%d] of %s" % (index, node)
        if not isinstance(vol, dict):
            problems.append("%s must be a dict (name, path, capacity), got %r" % (where, vol))
            continue
        unknown = sorted(set(vol) - {"name", "path", "capacity", "device", "fstype", "mount_options",
                                     "storage_class", "owner", "mode"})
        if unknown:
            problems.append("%s: unknown key(s) %s; known: name, path, capacity, device, fstype, "
                            "mount_options, storage_class, owner, mode" % (where, ", ".join(unknown)))
        name = vol.get("name")
        if not k8s_names.is_rfc1123_label(name) or len(pv_name(node, name)) > k8s_names.SUBDOMAIN_MAX:
            problems.append("%s: name %r must be a DNS label (lower case letters, digits, '-')"
                            % (where, name))
        elif name in seen_names:
            problems.append("%s: name %r is used twice on %s" % (where, name, node))
        seen_names.add(name)
        path = vol.get("path")
        if not isinstance(path, str) or not path.startswith("/") or path.rstrip("/") in ("", "/"):
            problems.append("%s: path %r must be an absolute directory other than /" % (where, path))
        elif path in seen_paths:
            problems.append("%s: path %s is used twice on %s" % (where, path, node))
        seen_paths.add(path)
        try:
            if memory_bytes(str(vol.get("capacity", ""))) <= 0:
                raise ValueError
        except (ValueError, XinchuangError):
            problems.append("%s: capacity %r must be a positive quantity such as 10Gi"
                            % (where, vol.get("capacity")))
        device = vol.get("device")
        if device is not None:
            if not isinstance(device, str) or not device.startswith(BY_ID) or device == BY_ID:
                problems.append("%s: device %r must be a %s<id> path (ls -l %s): a /dev/sdX name "
                                "can point at another disk after a reboot" % (where, device, BY_ID, BY_ID))
            fstype = vol.get("fstype", "ext4")
            if fstype not in FILESYSTEMS:
                problems.append("%s: fstype %r is not one of %s" % (where, fstype, ", ".join(FILESYSTEMS)))
        elif "fstype" in vol or "mount_options" in vol:
            problems.append("%s: fstype and mount_options need a device; a volume without one is a "
                            "directory" % where)
        klass = vol.get("storage_class", DEFAULT_CLASS)
        if not k8s_names.is_rfc1123_subdomain(klass):
            problems.append("%s: storage_class %r is not a valid name" % (where, klass))
    return problems


def format_decision(device, signatures, fstype, wipe=None):
    """What to do with ``device`` before mounting it as ``fstype``.

    ``signatures`` are what ``wipefs --json --no-act`` found on it (a list of dicts with ``type``),
    empty for a blank device. Returns ``format`` (blank), ``keep`` (it already holds exactly one
    filesystem of ``fstype``: ours from an earlier run, or the admin's) or ``wipe`` (it holds
    something else, and storage_local_wipe names it). Anything else raises: the device is never
    touched.
    """
    types = [s.get("type") for s in signatures or [] if s.get("type")]
    if not types:
        return "format"
    if types == [fstype]:
        return "keep"
    if device in (wipe or []):
        return "wipe"
    raise StorageError(
        "%s holds %s: it is not formatted as %s. If its data may go, name it exactly in "
        "storage_local_wipe (a list of %s paths); nothing was changed"
        % (device, ", ".join(sorted(set(types))), fstype, BY_ID))


def persistent_volume(node, vol, class_name=DEFAULT_CLASS, volume_mode="Filesystem"):
    """The local PersistentVolume of a volume on ``node`` (node affinity, Retain), of the
    volume's own StorageClass or ``class_name``."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": pv_name(node, vol["name"]),
            "labels": {"xinchuang.cloud/storage": "local", "xinchuang.cloud/volume": vol["name"]},
        },
        "spec": {
            "capacity": {"storage": str(vol["capacity"])},
            "volumeMode": volume_mode,
            "accessModes": ["ReadWriteOnce"],
            # Databases live here: a released volume keeps its data until an admin says otherwise.
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": vol.get("storage_class") or class_name,
            "local": {"path": vol["path"]},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{
                "key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
        },
    }


def storage_class(name=DEFAULT_CLASS, default=False):
    """A StorageClass for local PVs: no provisioner, bound when the Pod is scheduled."""
    sc = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Retain",
    }
    if default:
        sc["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    return sc


def cluster_objects(volumes_by_node, class_name=DEFAULT_CLASS, default=False):
    """The StorageClasses and PersistentVolumes of every node's volumes, checked together:
    two nodes giving one PV name stop here."""
    problems, names, objects, classes = [], {}, [], []
    for node in sorted(volumes_by_node):
        for vol in volumes_by_node[node] or []:
            pv = persistent_volume(node, vol, class_name)
            name = pv["metadata"]["name"]
            if name in names:
                problems.append("the PersistentVolume %s is given by %s and %s: rename a volume"
                                % (name, names[name], node))
            names[name] = node
            objects.append(pv)
            klass = vol.get("storage_class") or class_name
            if klass not in classes:
                classes.append(klass)
    if problems:
        raise StorageError("; ".join(problems))
    if class_name not in classes:
        classes.insert(0, class_name)
    return [storage_class(c, default and c == class_name) for c in classes] + objects


def _local_volume_of(pv):
    """(local path, [node]) of a PersistentVolume, or None when it is not a local volume."""
    spec = pv.get("spec") or {}
    if not spec.get("local"):
        return None
    nodes = []
    for term in ((spec.get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []:
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") == "kubernetes.io/hostname":
                nodes.extend(expr.get("values") or [])
    return spec["local"].get("path"), sorted(nodes)


def clash_problems(objects, existing_classes, existing_volumes):
    """Messages for what the role would apply (``objects``: cluster_objects) that the cluster
    already holds as something else: a StorageClass of the same name with other settings (the
    one rule of storage_class.clashes), a PersistentVolume of the same name that is not this
    local volume (another path or node, or not a local volume). Applied anyway, the role would
    take those fields from their manager; refused instead, and nothing is applied."""
    wanted_classes = [o for o in objects or [] if o.get("kind") == "StorageClass"]
    problems = classes_rule.clashes(
        wanted_classes, existing_classes,
        lambda ours: "set storage_local_storage_class (or the volume's storage_class) to another name")
    wanted = dict((o["metadata"]["name"], o) for o in objects or [] if o.get("kind") == "PersistentVolume")
    for pv in existing_volumes or []:
        name = (pv.get("metadata") or {}).get("name")
        if name not in wanted:
            continue
        mine, theirs = _local_volume_of(wanted[name]), _local_volume_of(pv)
        if theirs != mine:
            what = ("the local volume %s on %s" % (theirs[0], ", ".join(theirs[1]) or "no node")
                    if theirs else "a volume of another kind")
            problems.append("PersistentVolume %s already exists as %s (ours: %s on %s): rename the volume in "
                            "storage_local_volumes, or delete that PersistentVolume when no claim uses it"
                            % (name, what, mine[0], ", ".join(mine[1])))
    return problems
