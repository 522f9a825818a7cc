# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ceph storage, as pure rules: the settings of an existing Ceph cluster the cloud consumes
(monitors, pool, user, key), what the preflight's answers from that cluster mean, which
StorageClasses would clash, and the ceph-csi objects (RBD and CephFS drivers) to apply.

The role ``xinchuang.cloud.storage_ceph`` asks through filters (plugins/filter/storage_ceph.py)
and the module ``xinchuang.cloud.ceph_info`` through :func:`cli_monitors` and
:func:`connect_error`; nothing here talks to Ceph or Kubernetes. A message never holds a key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import ipaddress
import json
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.storage import classes as storage_class
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

RBD_DRIVER = "rbd.csi.ceph.com"
CEPHFS_DRIVER = "cephfs.csi.ceph.com"
DEFAULT_MON_PORT = 6789
MSGR2_PORT = 3300
IMAGE_ROLES = ("cephcsi", "provisioner", "attacher", "resizer", "registrar")
LABEL = "xinchuang.cloud/storage"

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$")
_CEPH_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_CLUSTER_ID = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$")


class CephSettingsError(XinchuangError, ValueError):
    """Bad storage_ceph input; the message names the variable and the fix (never a key)."""


def parse_monitor(entry):
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> (host, port); CephSettingsError
    naming the entry otherwise. A ``v1:``/``v2:`` prefix is refused: ceph-csi takes plain
    addresses and picks the protocol by port, as the ``ceph`` CLI does with the prefix the
    module adds (:func:`cli_monitors`)."""
    fix = ("storage_ceph_monitors entry %r is not a monitor address: write host:port (an IPv4 "
           "address, [IPv6 address] or DNS name, and the monitor's v1 port, usually 6789) as "
           "`ceph mon dump` shows it, without the v1:/v2: prefix" % (entry,))
    if not isinstance(entry, str) or not entry.strip() or entry != entry.strip():
        raise CephSettingsError(fix)
    match = re.match(r"^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$", entry)
    if match:
        host, port = match.group(1), match.group(2)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise CephSettingsError(fix)
    else:
        host, sep, port = entry.rpartition(":")
        if not sep:
            host, port = entry, None
        if ":" in host or not host:
            raise CephSettingsError(fix)
        if re.match(r"^[0-9.]+$", host):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise CephSettingsError(fix)
        elif not _HOSTNAME.match(host):
            raise CephSettingsError(fix)
    if port is None:
        port = DEFAULT_MON_PORT
    elif not port.isdigit() or not 0 < int(port) < 65536:
        raise CephSettingsError(fix)
    return host, int(port)


def monitor_address(host, port):
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def monitors_of(monitors):
    """The monitors as ceph-csi's config.json takes them: host:port, the default port added."""
    return [monitor_address(*parse_monitor(m)) for m in monitors]


def cli_monitors(monitors):
    """The ``-m`` argument of the ``ceph``/``rbd`` CLI: each monitor with its protocol (v2 on
    port 3300, v1 on any other), since the CLI otherwise speaks msgr2 to a v1 port and a
    refused key then looks like a monitor that does not answer."""
    out = []
    for host, port in (parse_monitor(m) for m in monitors):
        out.append("%s:%s" % ("v2" if port == MSGR2_PORT else "v1", monitor_address(host, port)))
    return ",".join(out)


def key_problem(key, user, variable="storage_ceph_key"):
    """Why ``key`` is not a cephx key, naming ``variable`` but never the value; None when it is."""
    fix = "give client.%s's key (ceph auth get-key client.%s); the value is never logged" % (user, user)
    if key is None or (isinstance(key, str) and not key.strip()):
        return "%s is missing: %s" % (variable, fix)
    if not isinstance(key, str):
        return "%s must be a string: %s" % (variable, fix)
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    # A cephx secret: type (2 bytes), created (8), length (2) and a 16-byte AES key.
    if len(raw) != 28:
        return "%s is not a cephx key (the base64 text of 28 bytes that `ceph auth get-key` prints): %s" % (variable, fix)
    return None


def _user_problem(user, variable):
    if not isinstance(user, str) or not user:
        return "%s is missing: name the Ceph user without its client. prefix (kube for client.kube)" % variable
    if user.startswith("client."):
        return ("%s %r has the client. prefix: give %r (ceph-csi adds the prefix itself)"
                % (variable, user, user[len("client."):]))
    if not _CEPH_NAME.match(user):
        return "%s %r is not a Ceph user name (letters, digits, '_', '.', '-')" % (variable, user)
    return None


def settings_problems(settings):
    """Everything wrong with the role's settings (a dict of the storage_ceph_* values without
    the prefix), each naming the variable and the fix; the key's value is never shown."""
    s = settings or {}
    problems = []
    monitors = s.get("monitors")
    if not isinstance(monitors, list) or not monitors:
        problems.append("storage_ceph_monitors is empty: list the cluster's monitors as host:port "
                        "(`ceph mon dump` on the cluster shows them), e.g. ['192.0.2.11:6789']")
    else:
        seen = set()
        for entry in monitors:
            try:
                address = monitor_address(*parse_monitor(entry))
            except CephSettingsError as exc:
                problems.append(str(exc))
                continue
            if address in seen:
                problems.append("storage_ceph_monitors lists %s twice: give each monitor once" % address)
            seen.add(address)
    cluster_id = s.get("cluster_id") or ""
    if cluster_id and not _CLUSTER_ID.match(str(cluster_id)):
        problems.append("storage_ceph_cluster_id %r must be 1-63 letters, digits, '-', '_', '.' "
                        "(leave it empty for the cluster's fsid)" % (cluster_id,))
    pool = s.get("pool")
    if not isinstance(pool, str) or not _CEPH_NAME.match(pool or ""):
        problems.append("storage_ceph_pool %r is not a pool name: name the RBD pool (ceph osd pool ls)" % (pool,))
    for user_var, key_var, enabled in (("user", "key", True),
                                       ("cephfs_user", "cephfs_key", bool(s.get("cephfs_enabled")))):
        if not enabled:
            continue
        problem = _user_problem(s.get(user_var), "storage_ceph_" + user_var)
        if problem:
            problems.append(problem)
        problem = key_problem(s.get(key_var), s.get(user_var) or "<user>", "storage_ceph_" + key_var)
        if problem:
            problems.append(problem)
    if s.get("cephfs_enabled") and not _CEPH_NAME.match(s.get("cephfs_fs_name") or ""):
        problems.append("storage_ceph_cephfs_fs_name %r is not a file system name (ceph fs ls), or set "
                        "storage_ceph_cephfs_enabled: false" % (s.get("cephfs_fs_name"),))
    namespace = s.get("namespace")
    if not k8s_names.is_rfc1123_label(namespace):
        problems.append("storage_ceph_namespace %r must be a DNS label (lower case letters, digits, '-')"
                        % (namespace,))
    classes = [("rbd_storage_class", True), ("cephfs_storage_class", bool(s.get("cephfs_enabled")))]
    for var, enabled in classes:
        name = s.get(var)
        if enabled and not k8s_names.is_rfc1123_subdomain(name):
            problems.append("storage_ceph_%s %r must be a DNS name (lower case letters, digits, '-', '.')"
                            % (var, name))
    if s.get("cephfs_enabled") and s.get("rbd_storage_class") == s.get("cephfs_storage_class"):
        problems.append("storage_ceph_rbd_storage_class and storage_ceph_cephfs_storage_class are both %r: "
                        "give the two drivers' classes different names" % (s.get("rbd_storage_class"),))
    if s.get("reclaim_policy") not in ("Delete", "Retain"):
        problems.append("storage_ceph_reclaim_policy %r must be Delete or Retain" % (s.get("reclaim_policy"),))
    if s.get("default_class", "") not in ("", "rbd", "cephfs"):
        problems.append("storage_ceph_default_class %r must be '', rbd or cephfs" % (s.get("default_class"),))
    images = s.get("images")
    if not isinstance(images, dict):
        problems.append("storage_ceph_images must be a dict of %s" % ", ".join(IMAGE_ROLES))
    else:
        for role in IMAGE_ROLES:
            if not isinstance(images.get(role), str) or not images.get(role):
                problems.append("storage_ceph_images.%s is missing: give the image reference in the "
                                "private registry (repository:tag)" % role)
        unknown = sorted(set(images) - set(IMAGE_ROLES))
        if unknown:
            problems.append("storage_ceph_images has unknown key(s) %s; known: %s"
                            % (", ".join(unknown), ", ".join(IMAGE_ROLES)))
    replicas = s.get("provisioner_replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        problems.append("storage_ceph_provisioner_replicas %r must be a whole number of at least 1" % (replicas,))
    return problems


def connect_error(rc, stderr, user, monitors, timeout):
    """What a failed ``ceph``/``rbd`` call of the preflight means, for the user: the key refused,
    the monitors silent, or the CLI's own words. Never holds the key."""
    text = (stderr or "").strip()
    mons = ", ".join(monitors)
    if "errno 13" in text or ("permission denied" in text.lower() and "error connecting" in text):
        return ("the monitors %s refused client.%s's key (RADOS permission denied): check the user "
                "and its key (ceph auth get-key client.%s) in the key option (the role's "
                "storage_ceph_user/storage_ceph_key)" % (mons, user, user))
    if "errno 110" in text or "timed out" in text:
        return ("no monitor of %s answered within %ss: check the addresses (ceph mon dump) in the "
                "monitors option (the role's storage_ceph_monitors) and that this host reaches "
                "their port" % (mons, timeout))
    if "Error EACCES" in text or "Operation not permitted" in text:
        return ("client.%s may not run this command (%s): give it the caps ceph-csi needs "
                "(docs/roles/storage_ceph.md)" % (user, _last_line(text)))
    return "ceph failed (exit %s): %s" % (rc, _last_line(text))


def _last_line(text):
    lines = [line for line in text.splitlines() if line.strip() and "_handle_peer_banner" not in line]
    return lines[-1] if lines else "(no output)"


def cluster_problems(info, settings, cephfs_info=None):
    """The preflight's verdict on what ``ceph_info`` read with the role's credentials: the pool
    (and the CephFS file system) must exist and the user must reach the pool's objects."""
    s = settings or {}
    problems = []
    pool = s.get("pool")
    if pool not in (info or {}).get("pools", []):
        problems.append("storage_ceph_pool %r is not a pool of the Ceph cluster %s (its pools: %s): "
                        "create it (ceph osd pool create %s; rbd pool init %s) or name an existing one"
                        % (pool, (info or {}).get("fsid"), ", ".join((info or {}).get("pools", [])) or "none",
                           pool, pool))
    else:
        access = (info or {}).get("pool_access", {}).get(pool)
        if access is not True:
            problems.append("client.%s cannot read pool %r (%s): give it osd 'profile rbd pool=%s' "
                            "(ceph auth caps)" % (s.get("user"), pool, access, pool))
    if s.get("cephfs_enabled") and cephfs_info is not None:
        names = cephfs_info.get("filesystems")
        if names is not None and s.get("cephfs_fs_name") not in names:
            problems.append("storage_ceph_cephfs_fs_name %r is not a CephFS file system of the cluster "
                            "(ceph fs ls: %s): name an existing one or set storage_ceph_cephfs_enabled: false"
                            % (s.get("cephfs_fs_name"), ", ".join(names) or "none"))
        if cephfs_info.get("fsid") and (info or {}).get("fsid") and cephfs_info["fsid"] != info["fsid"]:
            problems.append("client.%s and client.%s reached different clusters (%s, %s): the CephFS "
                            "user must be of the same cluster"
                            % (s.get("user"), s.get("cephfs_user"), info["fsid"], cephfs_info["fsid"]))
    return problems


def storage_classes(settings):
    """The StorageClasses this role applies, by name."""
    s = settings
    ns = s["namespace"]
    out = []

    def klass(name, provisioner, params, secret, default):
        for kind in ("provisioner", "controller-expand", "node-stage"):
            params["csi.storage.k8s.io/%s-secret-name" % kind] = secret
            params["csi.storage.k8s.io/%s-secret-namespace" % kind] = ns
        meta = {"name": name, "labels": {LABEL: "ceph"}}
        if default:
            meta["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
        return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta,
                "provisioner": provisioner, "parameters": params,
                "reclaimPolicy": s["reclaim_policy"], "allowVolumeExpansion": True,
                "volumeBindingMode": "Immediate"}

    rbd = klass(s["rbd_storage_class"], RBD_DRIVER,
                {"clusterID": s["cluster_id"], "pool": s["pool"], "imageFeatures": "layering",
                 "csi.storage.k8s.io/fstype": "ext4"},
                "csi-rbd-secret", s.get("default_class") == "rbd")
    rbd["mountOptions"] = ["discard"]
    out.append(rbd)
    if s.get("cephfs_enabled"):
        out.append(klass(s["cephfs_storage_class"], CEPHFS_DRIVER,
                         {"clusterID": s["cluster_id"], "fsName": s["cephfs_fs_name"]},
                         "csi-cephfs-secret", s.get("default_class") == "cephfs"))
    return out


def class_clashes(existing, settings):
    """StorageClasses of the cluster (k8s_info's resources) that carry the name of one of ours
    but are another class (storage_class.clashes), naming the variable that renames ours."""
    def rename(ours):
        var = ("storage_ceph_rbd_storage_class" if ours["provisioner"] == RBD_DRIVER
               else "storage_ceph_cephfs_storage_class")
        return "name ours differently with " + var
    return storage_class.clashes(storage_classes(settings), existing, rename)


def _meta(name, ns=None, labels=None):
    meta = {"name": name, "labels": dict({LABEL: "ceph"}, **(labels or {}))}
    if ns:
        meta["namespace"] = ns
    return meta


def _rbac(prefix, ns, cluster_rules, ns_rules):
    """ServiceAccount, ClusterRole and binding, and a namespaced Role and binding."""
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(prefix, ns)}
    subject = [{"kind": "ServiceAccount", "name": prefix, "namespace": ns}]
    out = [sa,
           {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": _meta(prefix), "rules": cluster_rules},
           {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": _meta(prefix), "subjects": subject,
            "roleRef": {"kind": "ClusterRole", "name": prefix, "apiGroup": "rbac.authorization.k8s.io"}}]
    if ns_rules:
        out += [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                 "metadata": _meta(prefix, ns), "rules": ns_rules},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                 "metadata": _meta(prefix, ns), "subjects": subject,
                 "roleRef": {"kind": "Role", "name": prefix, "apiGroup": "rbac.authorization.k8s.io"}}]
    return out


def _rule(groups, resources, verbs):
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


_PROVISIONER_RULES = [
    _rule([""], ["nodes"], ["get", "list", "watch"]),
    _rule([""], ["secrets"], ["get", "list", "watch"]),
    _rule([""], ["events"], ["list", "watch", "create", "update", "patch"]),
    _rule([""], ["persistentvolumes"], ["get", "list", "watch", "create", "update", "delete", "patch"]),
    _rule([""], ["persistentvolumeclaims"], ["get", "list", "watch", "update"]),
    _rule([""], ["persistentvolumeclaims/status"], ["update", "patch"]),
    _rule([""], ["configmaps"], ["get"]),
    _rule(["storage.k8s.io"], ["storageclasses"], ["get", "list", "watch"]),
    _rule(["storage.k8s.io"], ["volumeattachments"], ["get", "list", "watch", "update", "patch"]),
    _rule(["storage.k8s.io"], ["volumeattachments/status"], ["patch"]),
    _rule(["storage.k8s.io"], ["csinodes"], ["get", "list", "watch"]),
    _rule([""], ["serviceaccounts"], ["get"]),
    _rule([""], ["serviceaccounts/token"], ["create"]),
]
_LEADER_RULES = [
    _rule([""], ["configmaps"], ["get", "list", "watch", "create", "update", "delete"]),
    _rule(["coordination.k8s.io"], ["leases"], ["get", "watch", "list", "delete", "update", "create"]),
]
_NODEPLUGIN_RULES = [
    _rule([""], ["nodes"], ["get"]),
    _rule([""], ["secrets"], ["get"]),
    _rule([""], ["configmaps"], ["get"]),
    _rule([""], ["serviceaccounts"], ["get"]),
    _rule([""], ["persistentvolumes"], ["get"]),
    _rule(["storage.k8s.io"], ["volumeattachments"], ["list", "get"]),
    _rule([""], ["serviceaccounts/token"], ["create"]),
]


def _container(name, image, args, mounts, privileged=False, env=None):
    c = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "args": args,
         "volumeMounts": mounts}
    if env:
        c["env"] = env
    if privileged:
        c["securityContext"] = {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]},
                                "allowPrivilegeEscalation": True}
    return c


_ENV = [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE_ID", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]


def _host_path(name, path, kind=None):
    hp = {"path": path}
    if kind:
        hp["type"] = kind
    return {"name": name, "hostPath": hp}


def _driver_objects(s, kind):
    """The CSIDriver, RBAC, provisioner Deployment and nodeplugin DaemonSet of one driver
    (``rbd`` or ``cephfs``), after ceph-csi's own deploy/ manifests (v3.9)."""
    ns, images, kubelet = s["namespace"], s["images"], s["kubelet_dir"]
    driver = RBD_DRIVER if kind == "rbd" else CEPHFS_DRIVER
    plugin = "csi-%splugin" % kind
    prov_name, node_name = "%s-csi-provisioner" % kind, "%s-csi-nodeplugin" % kind
    out = [{"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": _meta(driver),
            "spec": {"attachRequired": kind == "rbd", "podInfoOnMount": False,
                     "fsGroupPolicy": "File", "seLinuxMount": True}}]
    out += _rbac(prov_name, ns, _PROVISIONER_RULES, _LEADER_RULES)
    out += _rbac(node_name, ns, _NODEPLUGIN_RULES, None)
    socket_dir = {"name": "socket-dir", "mountPath": "/csi"}
    config = [{"name": "ceph-csi-config", "mountPath": "/etc/ceph-csi-config/"},
              {"name": "ceph-config", "mountPath": "/etc/ceph/"},
              {"name": "keys-tmp-dir", "mountPath": "/tmp/csi/keys"}]
    config_volumes = [{"name": "ceph-csi-config", "configMap": {"name": "ceph-csi-config"}},
                      {"name": "ceph-config", "configMap": {"name": "ceph-config"}},
                      {"name": "keys-tmp-dir", "emptyDir": {"medium": "Memory"}}]
    if kind == "rbd":
        config.append({"name": "ceph-csi-encryption-kms-config", "mountPath": "/etc/ceph-csi-encryption-kms-config/"})
        config_volumes.append({"name": "ceph-csi-encryption-kms-config",
                               "configMap": {"name": "ceph-csi-encryption-kms-config"}})
    sidecar = ["--csi-address=$(ADDRESS)", "--v=1", "--timeout=150s", "--leader-election=true"]
    address = [{"name": "ADDRESS", "value": "unix:///csi/csi-provisioner.sock"}]
    prov_containers = [
        _container("csi-provisioner", images["provisioner"],
                   sidecar + ["--retry-interval-start=500ms", "--default-fstype=ext4",
                              "--extra-create-metadata=true"], [socket_dir], env=address),
        _container("csi-resizer", images["resizer"], sidecar + ["--handle-volume-inuse-error=false"],
                   [socket_dir], env=address),
    ]
    if kind == "rbd":
        prov_containers.append(_container("csi-attacher", images["attacher"], sidecar, [socket_dir], env=address))
    prov_containers.append(_container(
        plugin, images["cephcsi"],
        ["--nodeid=$(NODE_ID)", "--type=%s" % kind, "--controllerserver=true",
         "--endpoint=$(CSI_ENDPOINT)", "--v=5", "--drivername=%s" % driver, "--pidlimit=-1"],
        [socket_dir] + config,
        env=_ENV + [{"name": "CSI_ENDPOINT", "value": "unix:///csi/csi-provisioner.sock"}]))
    selector = {"app": "csi-%splugin-provisioner" % kind}
    pod_spec = {"serviceAccountName": prov_name, "priorityClassName": "system-cluster-critical",
                "containers": prov_containers,
                "volumes": [{"name": "socket-dir", "emptyDir": {"medium": "Memory"}}] + config_volumes}
    if s.get("node_selector"):
        pod_spec["nodeSelector"] = dict(s["node_selector"])
    out.append({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": _meta("csi-%splugin-provisioner" % kind, ns),
                "spec": {"replicas": s["provisioner_replicas"], "selector": {"matchLabels": selector},
                         "template": {"metadata": {"labels": dict(selector)}, "spec": pod_spec}}})

    plugin_dir = "%s/plugins/%s" % (kubelet, driver)
    node_mounts = [{"name": "socket-dir", "mountPath": "/csi"},
                   {"name": "mountpoint-dir", "mountPath": "%s/pods" % kubelet, "mountPropagation": "Bidirectional"},
                   {"name": "plugin-dir", "mountPath": "%s/plugins" % kubelet, "mountPropagation": "Bidirectional"},
                   {"name": "host-sys", "mountPath": "/sys"},
                   {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": True},
                   {"name": "host-dev", "mountPath": "/dev"},
                   {"name": "host-mount", "mountPath": "/run/mount"}] + config
    registrar = _container("driver-registrar", images["registrar"],
                           ["--v=1", "--csi-address=/csi/csi.sock",
                            "--kubelet-registration-path=%s/csi.sock" % plugin_dir],
                           [{"name": "socket-dir", "mountPath": "/csi"},
                            {"name": "registration-dir", "mountPath": "/registration"}], privileged=True)
    nodeplugin = _container(plugin, images["cephcsi"],
                            ["--nodeid=$(NODE_ID)", "--type=%s" % kind, "--nodeserver=true",
                             "--endpoint=$(CSI_ENDPOINT)", "--v=5", "--drivername=%s" % driver,
                             "--pidlimit=-1"],
                            node_mounts,
                            privileged=True,
                            env=_ENV + [{"name": "CSI_ENDPOINT", "value": "unix:///csi/csi.sock"}])
    node_selector = {"app": plugin}
    node_spec = {"serviceAccountName": node_name, "priorityClassName": "system-node-critical",
                 "hostNetwork": True, "hostPID": True, "dnsPolicy": "ClusterFirstWithHostNet",
                 "containers": [registrar, nodeplugin],
                 "volumes": [_host_path("socket-dir", plugin_dir, "DirectoryOrCreate"),
                             _host_path("plugin-dir", "%s/plugins" % kubelet, "Directory"),
                             _host_path("mountpoint-dir", "%s/pods" % kubelet, "DirectoryOrCreate"),
                             _host_path("registration-dir", "%s/plugins_registry/" % kubelet, "Directory"),
                             _host_path("host-sys", "/sys"), _host_path("lib-modules", "/lib/modules"),
                             _host_path("host-dev", "/dev"), _host_path("host-mount", "/run/mount")]
                 + config_volumes}
    if s.get("node_selector"):
        node_spec["nodeSelector"] = dict(s["node_selector"])
    out.append({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta(plugin, ns),
                "spec": {"selector": {"matchLabels": node_selector},
                         "updateStrategy": {"type": "RollingUpdate"},
                         "template": {"metadata": {"labels": dict(node_selector)}, "spec": node_spec}}})
    return out


def secrets(settings):
    """The Secrets holding the users' keys (applied by a task of their own, with no_log)."""
    s = settings
    ns = s["namespace"]
    out = [{"apiVersion": "v1", "kind": "Secret", "metadata": _meta("csi-rbd-secret", ns),
            "type": "Opaque", "stringData": {"userID": s["user"], "userKey": s["key"]}}]
    if s.get("cephfs_enabled"):
        out.append({"apiVersion": "v1", "kind": "Secret", "metadata": _meta("csi-cephfs-secret", ns),
                    "type": "Opaque",
                    "stringData": {"userID": s["cephfs_user"], "userKey": s["cephfs_key"],
                                   "adminID": s["cephfs_user"], "adminKey": s["cephfs_key"]}})
    return out


def cluster_objects(settings):
    """Every object of the ceph-csi drivers but the Secrets, in apply order: the namespace,
    the ConfigMaps (clusterID and monitors, ceph.conf), each driver's CSIDriver, RBAC,
    provisioner and nodeplugin, then the StorageClasses. Raises CephSettingsError with every
    problem of the settings, or when the cluster id is still unknown."""
    s = dict(settings or {})
    problems = settings_problems(s)
    if not s.get("cluster_id"):
        problems.append("the cluster id is unknown: set storage_ceph_cluster_id or run the preflight, "
                        "which reads the cluster's fsid")
    if problems:
        raise CephSettingsError("; ".join(problems) + "; nothing was changed")
    ns = s["namespace"]
    entry = {"clusterID": s["cluster_id"], "monitors": monitors_of(s["monitors"])}
    if s.get("cephfs_enabled"):
        entry["cephFS"] = {"subvolumeGroup": s.get("cephfs_subvolume_group") or "csi"}
    ceph_conf = ("[global]\nauth_cluster_required = cephx\nauth_service_required = cephx\n"
                 "auth_client_required = cephx\n")
    out = [{"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns)},
           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("ceph-csi-config", ns),
            "data": {"config.json": json.dumps([entry], sort_keys=True)}},
           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("ceph-config", ns),
            "data": {"ceph.conf": ceph_conf, "keyring": ""}},
           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("ceph-csi-encryption-kms-config", ns),
            "data": {"config.json": "{}"}}]
    out += _driver_objects(s, "rbd")
    if s.get("cephfs_enabled"):
        out += _driver_objects(s, "cephfs")
    out += storage_classes(s)
    return out


def images_of(settings):
    """The distinct image references the drivers run (what the platform check reads)."""
    images = (settings or {}).get("images") or {}
    return sorted({images[r] for r in IMAGE_ROLES if images.get(r)})
