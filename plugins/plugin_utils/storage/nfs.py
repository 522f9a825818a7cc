# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NAS over NFS, as pure rules: which exports a server may serve, the server's export table
(the kernel server's exports(5) file or NFS-Ganesha's EXPORT blocks), and the cluster side:
one StorageClass ``nfs-<export>`` per export, served either by the upstream NFS CSI driver
(csi-driver-nfs: a directory per claim, made on demand) or, where its images cannot be had, by
static PersistentVolumes (a directory per volume, made by the server role, mounted by the
kubelet's own nfs volume plugin).

The role ``xinchuang.cloud.storage_nfs`` asks through filters; nothing here touches a host or
the API server. Exports are safe by default: ``root_squash`` and ``sync``, and never open to
the world (``*``): the client networks are named.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import quantity
from ansible_collections.xinchuang.cloud.plugins.module_utils.storage import classes as storage_class
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

DRIVER = "nfs.csi.k8s.io"
CLASS_PREFIX = "nfs-"
DEFAULT_OPTIONS = ("rw", "sync", "root_squash", "no_subtree_check")
DEFAULT_MOUNT_OPTIONS = ("nfsvers=4.1", "hard")
RECLAIM_POLICIES = ("Delete", "Retain")
# csi: csi-driver-nfs provisions a directory per claim. static: the role makes the volumes
# (no provisioner; the kubelet mounts them with its in-tree nfs plugin): Retain only, since
# nothing would delete a released volume's directory.
PROVISIONERS = ("csi", "static")
STATIC_PROVISIONER = "kubernetes.io/no-provisioner"
EXPORT_LABEL = "xinchuang.cloud/nfs-export"
MAX_STATIC_VOLUMES = 99
BACKENDS = ("kernel", "ganesha")

# What each backend installs and runs, per package family (os_family's package_family).
BACKEND_PACKAGES = {
    ("kernel", "deb"): ["nfs-kernel-server"],
    ("kernel", "rpm"): ["nfs-utils"],
    ("ganesha", "deb"): ["nfs-ganesha", "nfs-ganesha-vfs"],
    ("ganesha", "rpm"): ["nfs-ganesha", "nfs-ganesha-vfs"],
}
# The client a node needs to mount static volumes (the kubelet's nfs plugin calls mount.nfs).
CLIENT_PACKAGES = {"deb": ["nfs-common"], "rpm": ["nfs-utils"]}

# exports(5) options this role knows; anything else is a typo until proven otherwise.
_FLAG_OPTIONS = {
    "rw", "ro", "sync", "async", "root_squash", "no_root_squash", "all_squash", "no_all_squash",
    "subtree_check", "no_subtree_check", "secure", "insecure", "wdelay", "no_wdelay",
    "hide", "nohide", "crossmnt", "no_acl", "secure_locks", "insecure_locks",
}
_VALUE_OPTIONS = ("anonuid", "anongid", "fsid", "sec")
_PAIRS = (("rw", "ro"), ("sync", "async"), ("root_squash", "no_root_squash"),
          ("subtree_check", "no_subtree_check"))
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$")
_SQUASH = {"root_squash": "Root_Squash", "no_root_squash": "No_Root_Squash", "all_squash": "All_Squash"}


class NfsError(XinchuangError, ValueError):
    """Bad NFS input; the message names the value and the fix."""


def class_name(export):
    return CLASS_PREFIX + export["name"]


def has_class(export):
    """Whether an export is a StorageClass of the cluster (its ``storage_class``, true unless
    given): an export with ``storage_class: false`` is only mounted by hosts (host_mounts)."""
    return export.get("storage_class", True) is not False


def class_exports(exports):
    """The exports that are StorageClasses (and, static, hold volumes)."""
    return [e for e in exports or [] if has_class(e)]


def export_options(export, default_options=DEFAULT_OPTIONS):
    """The export's options: its own list, else the defaults."""
    opts = export.get("options")
    return list(opts) if opts else list(default_options)


def _client_problem(name, client):
    if client in ("*", "0.0.0.0/0", "::/0"):
        return ("export %r: client %r opens the export to every host: name the client networks "
                "(e.g. 10.0.0.0/16)" % (name, client))
    try:
        ipaddress.ip_network(client, strict=False)
        return None
    except ValueError:
        pass
    if _HOSTNAME.match(client):
        return None
    return ("export %r: client %r is neither a network (10.0.0.0/16), an address nor a host "
            "name: fix storage_nfs_exports" % (name, client))


def _option_problems(name, options):
    problems = []
    flags = set()
    for opt in options:
        key = opt.split("=", 1)[0]
        if "=" in opt and key in _VALUE_OPTIONS:
            continue
        if opt not in _FLAG_OPTIONS:
            problems.append("export %r: unknown option %r: use options of exports(5) such as %s"
                            % (name, opt, ", ".join(DEFAULT_OPTIONS)))
        flags.add(opt)
    for a, b in _PAIRS:
        if a in flags and b in flags:
            problems.append("export %r: options %r and %r contradict each other: keep one" % (name, a, b))
    return problems


def reclaim_policy_of(export, reclaim_policy=None, provisioner="csi"):
    """An export's reclaim policy: its own, else ``reclaim_policy``, else the provisioner's
    default (Delete with the CSI driver, Retain for static volumes)."""
    return export.get("reclaim_policy") or reclaim_policy or ("Retain" if provisioner == "static" else "Delete")


def _static_problems(export, name, provisioner, default_volumes, default_capacity):
    if provisioner != "static" or not has_class(export):
        return []
    problems = []
    count = export.get("volumes", default_volumes)
    if isinstance(count, bool) or not str(count).isdigit() or not 1 <= int(count) <= MAX_STATIC_VOLUMES:
        problems.append("export %r: volumes %r must be a whole number from 1 to %d (static volumes per export)"
                        % (name, count, MAX_STATIC_VOLUMES))
    capacity = export.get("capacity", default_capacity)
    try:
        if quantity.memory_bytes(capacity) <= 0:
            raise ValueError(capacity)
    except (TypeError, ValueError):
        problems.append("export %r: capacity %r is not a size such as 10Gi" % (name, capacity))
    return problems


def _directory(path):
    """PATH without its trailing slashes when it is an absolute directory other than /, else
    None (an export's path and a host's mount point are checked alike)."""
    if isinstance(path, str) and path.startswith("/") and path.rstrip("/"):
        return path.rstrip("/")
    return None


def export_problems(exports, backend="kernel", default_options=DEFAULT_OPTIONS, reclaim_policy="Delete",
                    default_class=None, grace_time=None, provisioner="csi", default_volumes=1,
                    default_capacity="10Gi"):
    """Messages for every bad export (names, paths, clients, options, reclaim policy, static
    volumes) and a default class naming no export, all at once; empty when the server may be
    configured."""
    problems = []
    if backend not in BACKENDS:
        problems.append("storage_nfs_backend %r is not one of %s" % (backend, ", ".join(BACKENDS)))
    if provisioner not in PROVISIONERS:
        problems.append("storage_nfs_provisioner %r is not one of %s" % (provisioner, ", ".join(PROVISIONERS)))
    if grace_time is not None and (not str(grace_time).isdigit() or (backend == "kernel" and int(grace_time) < 10)):
        problems.append("storage_nfs_grace_time %r: give whole seconds, at least 10 for the kernel server "
                        "(0 turns the grace period off with Ganesha only)" % (grace_time,))
    if reclaim_policy and reclaim_policy not in RECLAIM_POLICIES:
        problems.append("storage_nfs_reclaim_policy %r is not one of %s" % (reclaim_policy, ", ".join(RECLAIM_POLICIES)))
    seen_names, seen_paths = {}, {}
    for i, export in enumerate(exports or []):
        name = export.get("name")
        if not k8s_names.is_rfc1123_label(name, max_length=k8s_names.LABEL_MAX - len(CLASS_PREFIX)):
            problems.append("export #%d: name %r must be a DNS label of at most %d characters (its "
                            "StorageClass is %s<name>)" % (i + 1, name, k8s_names.LABEL_MAX - len(CLASS_PREFIX), CLASS_PREFIX))
            continue
        if name in seen_names:
            problems.append("export %r is given twice: export names must be unique" % name)
        seen_names[name] = True
        path, directory = export.get("path"), _directory(export.get("path"))
        if directory is None:
            problems.append("export %r: path %r must be an absolute directory other than /" % (name, path))
        elif directory in seen_paths:
            problems.append("exports %r and %r share the path %s: one directory, one export"
                            % (seen_paths[directory], name, path))
        else:
            seen_paths[directory] = name
        clients = export.get("clients") or []
        if not clients:
            problems.append("export %r has no clients: name the networks of the nodes that mount it" % name)
        for client in clients:
            problem = _client_problem(name, str(client))
            if problem:
                problems.append(problem)
        problems.extend(_option_problems(name, export_options(export, default_options)))
        policy = reclaim_policy_of(export, reclaim_policy, provisioner)
        if export.get("reclaim_policy") and policy not in RECLAIM_POLICIES:
            problems.append("export %r: reclaim_policy %r is not one of %s" % (name, policy, ", ".join(RECLAIM_POLICIES)))
        elif provisioner == "static" and policy != "Retain" and has_class(export):
            problems.append("export %r: reclaim_policy %s with storage_nfs_provisioner static: nothing deletes a "
                            "static volume's directory, so set it (or storage_nfs_reclaim_policy) to Retain, or "
                            "use the CSI driver (storage_nfs_provisioner: csi)" % (name, policy))
        if export.get("storage_class", True) not in (True, False):
            problems.append("export %r: storage_class %r must be true (a StorageClass of the cluster) or false "
                            "(only mounted by hosts, storage_nfs_host_mounts)" % (name, export.get("storage_class")))
        problems.extend(_static_problems(export, name, provisioner, default_volumes, default_capacity))
    if default_class and default_class not in seen_names:
        problems.append("storage_nfs_default_class names export %r, which storage_nfs_exports does not define "
                        "(known: %s)" % (default_class, ", ".join(seen_names) or "none"))
    elif default_class and not has_class(next(e for e in exports if e.get("name") == default_class)):
        problems.append("storage_nfs_default_class names export %r, which has storage_class: false: name an "
                        "export that is a StorageClass" % default_class)
    return problems


def exports_file(exports, default_options=DEFAULT_OPTIONS):
    """The kernel server's /etc/exports.d file: one line per export, clients in order."""
    lines = ["# Managed by xinchuang.cloud.storage_nfs: edits are overwritten."]
    for export in exports or []:
        opts = ",".join(export_options(export, default_options))
        lines.append("%s %s" % (export["path"], " ".join("%s(%s)" % (c, opts) for c in export["clients"])))
    return "\n".join(lines) + "\n"


def ganesha_config(exports, default_options=DEFAULT_OPTIONS, grace_time=None):
    """NFS-Ganesha's configuration: NFSv4 over TCP on 2049, one EXPORT block per export with
    the VFS backend, the pseudo path equal to the path (so a share is mounted by the same path
    from either backend). Ganesha has no per-export ``sync``: its VFS backend writes through.
    ``grace_time``: NFSv4's grace period after a start in seconds (None: Ganesha's own)."""
    grace = []
    if grace_time is not None:
        grace = ["    Graceless = %s;" % ("true" if int(grace_time) == 0 else "false")]
        if int(grace_time) > 0:
            grace.append("    Grace_Period = %d;" % int(grace_time))
    out = ["# Managed by xinchuang.cloud.storage_nfs: edits are overwritten.",
           "NFS_CORE_PARAM {", "    Protocols = 4;", "    Enable_NLM = false;",
           "    Enable_RQUOTA = false;", "}",
           "NFSV4 {"] + grace + ["}"]
    for i, export in enumerate(exports or []):
        opts = export_options(export, default_options)
        access = "RO" if "ro" in opts else "RW"
        squash = next((_SQUASH[o] for o in opts if o in _SQUASH), "Root_Squash")
        # The kernel server squashes to 65534 (nobody); Ganesha's own default is -2.
        anon = dict(o.split("=", 1) for o in opts if o.startswith(("anonuid=", "anongid=")))
        out += ["EXPORT {",
                "    Export_Id = %d;" % (i + 1),
                "    Path = %s;" % export["path"],
                "    Pseudo = %s;" % export["path"],
                "    Access_Type = None;",
                "    Squash = %s;" % squash,
                "    Anonymous_Uid = %s;" % anon.get("anonuid", "65534"),
                "    Anonymous_Gid = %s;" % anon.get("anongid", "65534"),
                "    Protocols = 4;",
                "    Transports = TCP;",
                "    SecType = sys;",
                "    FSAL { Name = VFS; }",
                "    CLIENT {",
                "        Clients = %s;" % ", ".join(export["clients"]),
                "        Access_Type = %s;" % access,
                "    }",
                "}"]
    return "\n".join(out) + "\n"


def nfs_conf(grace_time=None):
    """The kernel server's /etc/nfs.conf.d file: its NFSv4 grace and lease times (nfsd takes
    at least 10 s), or nothing when the server's defaults (90 s) stand."""
    lines = ["# Managed by xinchuang.cloud.storage_nfs: edits are overwritten.", "[nfsd]"]
    if grace_time is not None:
        lines += ["grace-time=%d" % int(grace_time), "lease-time=%d" % int(grace_time)]
    return "\n".join(lines) + "\n"


def _require_server(server):
    if not server:
        raise NfsError("no NFS server address: set storage_nfs_server (the address the nodes mount)")


def storage_classes(exports, server, mount_options=DEFAULT_MOUNT_OPTIONS, reclaim_policy="Delete",
                    default_class=None, provisioner="csi"):
    """One StorageClass ``nfs-<export>`` per export: with the CSI driver, it makes a directory
    per volume under the export; static, the class only groups the export's volumes
    (static_volumes). ``default_class`` names the export whose class is the default."""
    _require_server(server)
    out = []
    for export in class_exports(exports):
        meta = {"name": class_name(export), "labels": {"app.kubernetes.io/managed-by": "xinchuang.cloud"}}
        if default_class and export["name"] == default_class:
            meta["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
        sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta,
              "reclaimPolicy": reclaim_policy_of(export, reclaim_policy, provisioner),
              "volumeBindingMode": "Immediate",
              "mountOptions": list(export.get("mount_options") or mount_options)}
        if provisioner == "static":
            sc["provisioner"] = STATIC_PROVISIONER
        else:
            sc.update(provisioner=DRIVER, parameters={"server": server, "share": export["path"]},
                      allowVolumeExpansion=True)
        out.append(sc)
    return out


def static_volume_names(export, default_volumes=1):
    """The PersistentVolume names of an export's static volumes: nfs-<export>-01, -02, ..."""
    return ["%s-%02d" % (class_name(export), i + 1) for i in range(int(export.get("volumes", default_volumes)))]


def static_directories(exports, default_volumes=1):
    """[{export, name, path}]: each static volume's PersistentVolume name and directory, under
    its export (the server role makes them, owned like the export, so a squashed root can
    write)."""
    return [{"export": e, "name": pv, "path": "%s/%s" % (e["path"].rstrip("/"), pv)}
            for e in class_exports(exports) for pv in static_volume_names(e, default_volumes)]


def static_volumes(exports, server, mount_options=DEFAULT_MOUNT_OPTIONS, default_volumes=1,
                   default_capacity="10Gi"):
    """The static PersistentVolumes of every export: ReadWriteMany, Retain, of the export's
    class, each mounting its own directory (static_directories) with the class's options."""
    _require_server(server)
    out = []
    for item in static_directories(exports, default_volumes):
        export = item["export"]
        out.append({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": item["name"],
                         "labels": {"app.kubernetes.io/managed-by": "xinchuang.cloud", EXPORT_LABEL: export["name"]}},
            "spec": {"capacity": {"storage": str(export.get("capacity", default_capacity))},
                     "accessModes": ["ReadWriteMany"],
                     "persistentVolumeReclaimPolicy": "Retain",
                     "storageClassName": class_name(export),
                     "mountOptions": list(export.get("mount_options") or mount_options),
                     "nfs": {"server": server, "path": item["path"]}}})
    return out


def static_volume_clashes(existing, objects):
    """Messages for static volumes the role would write whose name a PersistentVolume of
    another source holds (another driver's, or another server or directory): refused, never
    overwritten."""
    wanted = dict((o["metadata"]["name"], o) for o in objects or [] if o.get("kind") == "PersistentVolume")
    problems = []
    for pv in existing or []:
        name = (pv.get("metadata") or {}).get("name")
        if name not in wanted:
            continue
        theirs = (pv.get("spec") or {}).get("nfs") or {}
        mine = wanted[name]["spec"]["nfs"]
        if (theirs.get("server"), theirs.get("path")) != (mine["server"], mine["path"]):
            what = ("NFS %s:%s" % (theirs.get("server"), theirs.get("path")) if theirs else "a volume of another kind")
            problems.append("PersistentVolume %s already exists as %s (ours: %s:%s): rename the export, or delete "
                            "that PersistentVolume when no claim uses it" % (name, what, mine["server"], mine["path"]))
    return problems


def class_clash_problems(wanted, existing):
    """Messages for StorageClasses the role would make whose name an existing class of other
    settings holds (storage_class.clashes)."""
    return storage_class.clashes(wanted, existing,
                                 lambda ours: "rename the export (its class is %s<name>)" % CLASS_PREFIX)


def _container(name, image, args, **extra):
    out = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "args": args}
    out.update(extra)
    return out


def _socket_env(path):
    return [{"name": "ADDRESS", "value": path}]


def _liveness(port):
    args = ["--csi-address=/csi/csi.sock", "--probe-timeout=3s", "--http-endpoint=localhost:%d" % port, "--v=2"]
    return _container("liveness-probe", None, args,
                      volumeMounts=[{"name": "socket-dir", "mountPath": "/csi"}],
                      resources={"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"memory": "100Mi"}})


def _plugin(image, port, extra_args):
    """The nfsplugin container: mounts NFS for the node (privileged, bidirectional propagation
    of /var/lib/kubelet/pods so the kubelet sees the mounts)."""
    return _container(
        "nfs", image,
        ["--v=2", "--nodeid=$(NODE_ID)", "--endpoint=$(CSI_ENDPOINT)", "--drivername=" + DRIVER,
         "--mount-permissions=0"] + extra_args,
        env=[{"name": "NODE_ID", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
             {"name": "CSI_ENDPOINT", "value": "unix:///csi/csi.sock"}],
        securityContext={"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]},
                         "allowPrivilegeEscalation": True},
        ports=[{"containerPort": port, "name": "healthz", "protocol": "TCP"}],
        livenessProbe={"httpGet": {"path": "/healthz", "port": "healthz", "host": "localhost"},
                       "failureThreshold": 5, "initialDelaySeconds": 30, "timeoutSeconds": 10, "periodSeconds": 30},
        resources={"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"memory": "300Mi"}},
    )


def _with_image(container, image):
    container = dict(container)
    container["image"] = image
    return container


def csi_objects(images, namespace="kube-system", node_arches=None, controller_replicas=1,
                controller_node_selector=None, pull_secret=None, kubelet_dir="/var/lib/kubelet"):
    """The NFS CSI driver, as upstream deploys it (deploy/ of csi-driver-nfs): CSIDriver, the
    controller (csi-provisioner beside nfsplugin, which makes and removes a directory per
    volume on the export) and the node DaemonSet (registrar and nfsplugin, which mounts).
    ``images``: {nfsplugin, csi_provisioner, node_driver_registrar, livenessprobe}.
    ``node_arches``: the architectures (any names) the Pods may run on: the node affinity
    says so, so a node of a platform the images lack is never given one. ``kubelet_dir``: the
    kubelet's root directory (kubernetes_kubelet_dir)."""
    missing = [k for k in ("nfsplugin", "csi_provisioner", "node_driver_registrar", "livenessprobe")
               if not (images or {}).get(k)]
    if missing:
        raise NfsError("storage_nfs_images lacks %s: give each image as registry/repository:tag" % ", ".join(missing))
    labels = {"app.kubernetes.io/part-of": "csi-driver-nfs", "app.kubernetes.io/managed-by": "xinchuang.cloud"}
    goarches = sorted(set(arch.goarch(a) for a in (node_arches or [])))
    affinity = None
    if goarches:
        affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": goarches},
                                  {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}}
    pod_common = {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet",
                  "priorityClassName": "system-cluster-critical",
                  "tolerations": [{"operator": "Exists"}]}
    if affinity:
        pod_common["affinity"] = affinity
    if pull_secret:
        pod_common["imagePullSecrets"] = [{"name": pull_secret}]

    def meta(name, extra_labels=None):
        out = {"name": name, "namespace": namespace, "labels": dict(labels, **(extra_labels or {}))}
        return out

    controller_sa, node_sa = "csi-nfs-controller-sa", "csi-nfs-node-sa"
    objects = [
        {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver",
         "metadata": {"name": DRIVER, "labels": labels},
         "spec": {"attachRequired": False, "volumeLifecycleModes": ["Persistent", "Ephemeral"],
                  "fsGroupPolicy": "File"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(controller_sa)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(node_sa)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "nfs-external-provisioner-role", "labels": labels},
         "rules": [
             {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "watch", "create", "delete"]},
             {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get", "list", "watch", "update"]},
             {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get", "list", "watch"]},
             {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch", "create", "update", "patch"]},
             {"apiGroups": ["storage.k8s.io"], "resources": ["csinodes"], "verbs": ["get", "list", "watch"]},
             {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
             {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "list", "watch", "create", "update", "patch"]},
             {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
         ]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "nfs-csi-provisioner-binding", "labels": labels},
         "subjects": [{"kind": "ServiceAccount", "name": controller_sa, "namespace": namespace}],
         "roleRef": {"kind": "ClusterRole", "name": "nfs-external-provisioner-role", "apiGroup": "rbac.authorization.k8s.io"}},
    ]
    socket = {"name": "socket-dir", "mountPath": "/csi"}
    pods = kubelet_dir.rstrip("/") + "/pods"
    pods_mount = {"name": "pods-mount-dir", "mountPath": pods, "mountPropagation": "Bidirectional"}
    controller_pod = dict(pod_common, serviceAccountName=controller_sa, containers=[
        _container("csi-provisioner", images["csi_provisioner"],
                   ["-v=2", "--csi-address=$(ADDRESS)", "--leader-election", "--leader-election-namespace=" + namespace,
                    "--extra-create-metadata=true", "--timeout=1200s"],
                   env=_socket_env("/csi/csi.sock"), volumeMounts=[socket],
                   resources={"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"memory": "400Mi"}}),
        _with_image(_liveness(29652), images["livenessprobe"]),
        dict(_plugin(images["nfsplugin"], 29652, ["--working-mount-dir=/tmp"]),
             volumeMounts=[pods_mount, socket, {"name": "tmp-dir", "mountPath": "/tmp"}]),
    ], volumes=[
        {"name": "pods-mount-dir", "hostPath": {"path": pods, "type": "Directory"}},
        {"name": "socket-dir", "emptyDir": {}},
        {"name": "tmp-dir", "emptyDir": {}},
    ])
    if controller_node_selector:
        controller_pod["nodeSelector"] = dict(controller_node_selector)
    objects.append({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("csi-nfs-controller"),
        "spec": {"replicas": int(controller_replicas),
                 "selector": {"matchLabels": {"app": "csi-nfs-controller"}},
                 "template": {"metadata": {"labels": dict(labels, app="csi-nfs-controller")},
                              "spec": controller_pod}}})
    plugin_dir = kubelet_dir.rstrip("/") + "/plugins/csi-nfsplugin"
    node_pod = dict(pod_common, serviceAccountName=node_sa, containers=[
        _with_image(_liveness(29653), images["livenessprobe"]),
        _container("node-driver-registrar", images["node_driver_registrar"],
                   ["--v=2", "--csi-address=/csi/csi.sock", "--kubelet-registration-path=$(DRIVER_REG_SOCK_PATH)"],
                   env=[{"name": "DRIVER_REG_SOCK_PATH", "value": plugin_dir + "/csi.sock"},
                        {"name": "KUBE_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                   volumeMounts=[socket, {"name": "registration-dir", "mountPath": "/registration"}],
                   resources={"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"memory": "100Mi"}}),
        dict(_plugin(images["nfsplugin"], 29653, []), volumeMounts=[socket, pods_mount]),
    ], volumes=[
        {"name": "socket-dir", "hostPath": {"path": plugin_dir, "type": "DirectoryOrCreate"}},
        {"name": "pods-mount-dir", "hostPath": {"path": pods, "type": "Directory"}},
        {"name": "registration-dir", "hostPath": {"path": kubelet_dir.rstrip("/") + "/plugins_registry", "type": "Directory"}},
    ])
    objects.append({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta("csi-nfs-node"),
        "spec": {"selector": {"matchLabels": {"app": "csi-nfs-node"}},
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                 "template": {"metadata": {"labels": dict(labels, app="csi-nfs-node")}, "spec": node_pod}}})
    return objects


def server_packages(backend, package_family):
    """The packages of the server backend on a host of this package family (deb or rpm)."""
    try:
        return list(BACKEND_PACKAGES[(backend, package_family)])
    except KeyError:
        raise NfsError("no NFS server packages known for backend %r on a %r host: use one of %s"
                       % (backend, package_family, ", ".join(BACKENDS)))


def client_packages(package_family):
    """The NFS client packages of a node of this package family (deb or rpm)."""
    try:
        return list(CLIENT_PACKAGES[package_family])
    except KeyError:
        raise NfsError("no NFS client packages known for a %r host: package families are %s"
                       % (package_family, ", ".join(sorted(CLIENT_PACKAGES))))


def host_mounts(mounts, exports, server, default_mount_options=DEFAULT_MOUNT_OPTIONS):
    """The NFS mounts of a host itself (storage_nfs_host_mounts: ``[{export, path, options}]``),
    such as a database host's NAS directory: ``[{src, path, fstype, opts}]`` for its fstab.
    Each names an export of ``exports`` by name and is mounted from ``server`` with its own
    ``options``, else the export's ``mount_options``, else ``default_mount_options``. Every bad
    entry is named at once (NfsError) before anything is mounted."""
    by_name = dict((e.get("name"), e) for e in exports or [] if isinstance(e, dict))
    problems, seen, out = [], {}, []
    if not isinstance(mounts, list):
        raise NfsError("storage_nfs_host_mounts %r must be a list of {export, path}" % (mounts,))
    for i, mount in enumerate(mounts):
        if not isinstance(mount, dict):
            problems.append("storage_nfs_host_mounts #%d %r must be a mapping {export, path}" % (i + 1, mount))
            continue
        name, path = mount.get("export"), mount.get("path")
        unknown = sorted(set(mount) - {"export", "path", "options"})
        if unknown:
            problems.append("storage_nfs_host_mounts #%d: unknown keys %s (known: export, path, options)"
                            % (i + 1, ", ".join(map(str, unknown))))
        if name not in by_name:
            problems.append("storage_nfs_host_mounts #%d: export %r is not in storage_nfs_exports (known: %s): "
                            "name one of them, or add the export" % (i + 1, name, ", ".join(sorted(map(str, by_name))) or "none"))
        directory = _directory(path)
        if directory is None:
            problems.append("storage_nfs_host_mounts #%d: path %r must be an absolute directory other than /"
                            % (i + 1, path))
        elif directory in seen:
            problems.append("storage_nfs_host_mounts #%d: path %s is already the mount point of #%d: one "
                            "directory, one mount" % (i + 1, path, seen[directory]))
        else:
            seen[directory] = i + 1
        options = mount.get("options")
        if options is not None and (not isinstance(options, list) or not all(isinstance(o, str) and o for o in options)):
            problems.append("storage_nfs_host_mounts #%d: options %r must be a list of mount options such as "
                            "[nfsvers=4.1, hard]" % (i + 1, options))
        if problems:
            continue
        export = by_name[name]
        opts = options or export.get("mount_options") or list(default_mount_options)
        out.append({"export": name, "src": "%s:%s" % (server, export["path"]), "path": directory,
                    "fstype": "nfs", "opts": ",".join(opts)})
    if problems:
        raise NfsError("; ".join(problems) + "; nothing was mounted")
    if out:
        _require_server(server)
    return out
