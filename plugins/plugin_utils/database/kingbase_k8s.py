# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kubernetes form of the role xinchuang.cloud.kingbase, as pure rules. No I/O.

- what the inputs must be before anything is read or written (``input_problems``): families of
  the architecture model, one replica, a password, a size, the configuration keys (the host
  form's ``db_engine.conf_lines``) and, for the engine kingbase, a license for each family;
- what the cluster must offer (``cluster_problems`` over what ``k8s_info`` read): nodes of the
  families, the StorageClass, a volume the claim can bind (a ``local`` PV of a node of the
  families with room enough) and no reclaim policy ``Delete`` unless the inventory allows it;
  and the image's index serving every family (``image_problems``, manifest_index's rule);
- the objects (``objects``, ``secrets``): a Namespace, a ConfigMap holding the main
  configuration, the authentication and the ident files, a headless and a client Service and
  a StatefulSet of one Pod on the families' ``kubernetes.io/arch``, its volume claimed from the
  StorageClass; the superuser's password and the licenses as Secrets;
- restart or reload (``conf_change``, ``restart_digest``): the same table as the host form
  (``db_engine.conf_action``). A key read at start only changes the digest annotated on the Pod
  template, so applying the StatefulSet rolls its Pod; any other change only changes the
  ConfigMap, and the role reloads the server with ``select pg_reload_conf()`` once the Pod sees
  the new files (``files_digest_query``).

The server runs the first-start script of the engine's ``kubernetes.command`` (engine
postgresql: the app store's image ``appstore/postgresql`` of Debian's packages, recipe
``postgresql`` of ``app_images.py``; the script runs initdb when the data directory is empty,
then postgres) with ``-c config_file=`` the ConfigMap's file. Its local socket admits the container's own user as
the superuser (``peer`` with an ident map), so the readiness probe (``select 1`` through the
engine's client) and the role's SQL (``kingbase_objects`` through the Pod) need no password.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import hashlib
import shlex

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.database import engine as db_engine
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import quantity
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

FIELD_MANAGER = "xinchuang.cloud.kingbase"
ARCH_LABEL = arch.NODE_ARCH_LABEL
CONTAINER = "database"
# Where the Pod reads what the role gives it.
CONF_DIR = "/etc/xinchuang-db"
AUTH_DIR = "/etc/xinchuang-db-auth"
LICENSE_DIR = "/etc/xinchuang-db-license"
# The ident map that lets the container's own user in as the superuser on the local socket.
IDENT_MAP = "xinchuang"
RESTART_ANNOTATION = "xinchuang.cloud/conf-restart"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
# The engines the kubernetes form renders (the others have no image described).
ENGINES = ("postgresql", "kingbase")
# Keys the kubernetes form sets itself (the image's entry or the role), refused in kingbase_conf.
ROLE_KEYS = ("config_file", "data_directory", "hba_file", "ident_file", "port", "listen_addresses",
             "unix_socket_directories")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
# kingbase_name: room left in a label for the suffixes of the Services, the claim and the Pod.
NAME_MAX = 42


class KingbaseK8sError(XinchuangError, ValueError):
    """An input of the kingbase role's kubernetes form that cannot be used."""


# --- names ----------------------------------------------------------------------------------

def names(name):
    """The objects' names for a database called ``name``."""
    return {
        "statefulset": name,
        "service": name,
        "headless": name + "-headless",
        "configmap": name + "-conf",
        "auth": name + "-auth",
        "license": name + "-license",
        "pod": name + "-0",
        "claim": "data-%s-0" % name,
        "container": CONTAINER,
    }


def labels(spec):
    return {
        "app.kubernetes.io/name": spec["engine"]["name"],
        "app.kubernetes.io/instance": spec["name"],
        "app.kubernetes.io/component": "database",
        "app.kubernetes.io/managed-by": FIELD_MANAGER,
    }


def _selector(spec):
    return {"app.kubernetes.io/name": spec["engine"]["name"], "app.kubernetes.io/instance": spec["name"]}


def _k8s(engine):
    block = engine.get("kubernetes") or {}
    if not block:
        raise KingbaseK8sError("kingbase_engine %s has no kubernetes values (vars/engine_%s.yml): "
                               "use one of %s" % (engine.get("name"), engine.get("name"), ", ".join(ENGINES)))
    return block


# --- inputs ---------------------------------------------------------------------------------

def input_problems(spec, password="", license_files=None, missing_paths=None):
    """Every problem of the kubernetes form's inputs, at once (empty list: none).

    ``spec``: the role's ``_kingbase_k8s`` (name, namespace, engine, families, replicas, image,
    storage_class, storage_size, resources, service_type, service_port, conf, hba).
    ``license_files``: GOARCH -> path on the controller (engine kingbase); ``missing_paths``: the
    given paths that do not exist there."""
    problems = []
    engine = spec.get("engine") or {}
    if engine.get("name") not in ENGINES:
        problems.append("kingbase_engine %s has no kubernetes form here (only %s): use one of them or "
                        "kingbase_deploy: host" % (engine.get("name"), ", ".join(ENGINES)))
        return problems
    name, namespace = spec.get("name") or "", spec.get("namespace") or ""
    if not k8s_names.is_rfc1035_label(name, NAME_MAX):
        problems.append("kingbase_name %r is not a name for the StatefulSet and its Services (lower-case "
                        "letters, digits and -, starting with a letter, at most 42): rename it" % (name,))
    if not k8s_names.is_rfc1123_label(namespace):
        problems.append("kingbase_namespace %r is not a namespace name (lower-case letters, digits and -, at "
                        "most 63)" % (namespace,))
    families = spec.get("families") or []
    if not families:
        problems.append("kingbase_families is empty: name the CPU families whose nodes may run the database "
                        "(%s)" % ", ".join(arch.families()))
    for family in families:
        if family not in arch.families():
            problems.append("kingbase_families entry %r is not a family of the architecture model: use one of %s"
                            % (family, ", ".join(arch.families())))
    replicas = spec.get("replicas")
    if str(replicas) != "1":
        problems.append("kingbase_replicas %s: the role runs one server per database (no replication); "
                        "set kingbase_replicas: 1" % (replicas,))
    if not password:
        problems.append("kingbase_system_password is empty: the superuser's password is set from it when the "
                        "cluster is made (keep it in a vault)")
    try:
        size = quantity.memory_bytes(spec.get("storage_size"))
        if size <= 0:
            raise quantity.QuantityError("not positive")
    except XinchuangError:
        problems.append("kingbase_storage_size %r is not a size: write a Kubernetes quantity such as 8Gi"
                        % (spec.get("storage_size"),))
    if not spec.get("storage_class"):
        problems.append("kingbase_storage_class is empty: name the StorageClass of the data volume "
                        "(local-storage, from xinchuang.cloud.storage_local)")
    if spec.get("service_type", "ClusterIP") not in SERVICE_TYPES:
        problems.append("kingbase_service_type %r is not one of %s"
                        % (spec.get("service_type"), ", ".join(SERVICE_TYPES)))
    for check in (image_reference, index_registry):
        try:
            check(spec)
        except XinchuangError as exc:
            problems.append(str(exc))
    conf = spec.get("conf") or {}
    taken = sorted(set(conf) & set(ROLE_KEYS))
    if taken:
        problems.append("kingbase_conf sets %s, which the kubernetes form sets itself (the image's entry, the "
                        "ConfigMap, the Service): remove %s" % (", ".join(taken), "them" if len(taken) > 1 else "it"))
    for check, value, empty in ((db_engine.conf_lines, conf, {}), (db_engine.hba_block, spec.get("hba"), [])):
        try:
            check(value or empty)
        except XinchuangError as exc:
            problems.append(str(exc))
    problems.extend(_memory_problems(spec))
    if engine.get("name") == "kingbase":
        missing = set(missing_paths or [])
        for family in families:
            if family not in arch.families():
                continue
            goarch = arch.goarch(family)
            path = (license_files or {}).get(goarch)
            if not path:
                problems.append("kingbase_license_files has no entry for %s (family %s), where the database may "
                                "run: set kingbase_license_files.%s to the license.dat the vendor issued for %s, "
                                "or leave %s out of kingbase_families" % (goarch, family, goarch, goarch, family))
            elif path in missing:
                problems.append("kingbase_license_files.%s %s does not exist on the controller: put the file "
                                "there or correct the path" % (goarch, path))
    return problems


def _memory_problems(spec):
    """shared_buffers beyond the share of the container's memory limit the role allows."""
    limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
    conf = spec.get("conf") or {}
    if not limit:
        return []
    try:
        limit_bytes = quantity.memory_bytes(limit)
    except XinchuangError:
        return ["kingbase_resources.limits.memory %r is not a quantity: write one such as 1Gi" % (limit,)]
    try:
        wanted = db_engine.size_bytes(conf.get("shared_buffers", "128MB"), "8kB", "kingbase_conf.shared_buffers")
    except XinchuangError as exc:
        return [str(exc)]
    fraction = float(spec.get("max_memory_fraction", 0.75))
    if wanted > limit_bytes * fraction:
        return ["kingbase_conf.shared_buffers %s (%s) is more than %d %% of the container's memory limit "
                "kingbase_resources.limits.memory %s: lower shared_buffers or raise the limit"
                % (conf.get("shared_buffers", "128MB"), db_engine.human_size(wanted), round(fraction * 100), limit)]
    return []


def image_reference(spec):
    """The image as (the registry's host[:port], the reference in it): ``registry``
    (kingbase_registry, checked by manifest_index.registry_host, the one check of a registry's
    address) and ``image`` (kingbase_image, or the engine's when empty, read by
    manifest_index.parse_reference: repository and a tag or digest; a leading host must be the
    registry's). Raises KingbaseK8sError naming the variable and the fix."""
    registry = manifest_index.registry_host(spec.get("registry"), "kingbase_registry", KingbaseK8sError,
                                            example="registry.local:5000 (or set xinchuang_registry)")
    given = str(spec.get("image") or "").strip()
    text = given or str(((spec.get("engine") or {}).get("kubernetes") or {}).get("image") or "")
    try:
        ref = manifest_index.parse_reference(text, registry=registry)
    except XinchuangError as exc:
        raise KingbaseK8sError("%s: %s; write kingbase_image as repository:tag (e.g. appstore/postgresql:15.18), "
                               "the registry in kingbase_registry" % ("kingbase_image" if given else "the engine's image",
                                                                      exc))
    return registry, ref.canonical()


def index_registry(spec):
    """Where the preflight reads the image's index: ``registry_endpoint``
    (kingbase_registry_endpoint: the same registry as the controller reaches it, when its name in
    kingbase_registry resolves only on the nodes; its certificate must name it), else the
    registry the Pods pull from. Raises KingbaseK8sError naming the variable and the fix."""
    if not str(spec.get("registry_endpoint") or "").strip():
        return image_reference(spec)[0]
    return manifest_index.registry_host(spec.get("registry_endpoint"), "kingbase_registry_endpoint", KingbaseK8sError,
                                        example="172.29.0.5:5000 (or leave it empty: kingbase_registry)")


# --- the cluster ----------------------------------------------------------------------------

def _meta(obj):
    return obj.get("metadata") or {}


def _expression_matches(expr, labels_):
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    have = labels_.get(key)
    if op == "In":
        return have is not None and have in values
    if op == "NotIn":
        return have is None or have not in values
    if op == "Exists":
        return key in labels_
    if op == "DoesNotExist":
        return key not in labels_
    if op in ("Gt", "Lt") and have is not None and values:
        try:
            return int(have) > int(values[0]) if op == "Gt" else int(have) < int(values[0])
        except ValueError:
            return False
    return False


def node_matches(node, terms):
    """Whether ``node`` satisfies a nodeSelector's terms (any term; every expression of it)."""
    node_labels = _meta(node).get("labels") or {}
    fields = {"metadata.name": _meta(node).get("name")}
    if not terms:
        return True
    for term in terms:
        exprs = term.get("matchExpressions") or []
        field_exprs = term.get("matchFields") or []
        if not exprs and not field_exprs:
            continue
        if all(_expression_matches(e, node_labels) for e in exprs) and \
                all(_expression_matches(e, fields) for e in field_exprs):
            return True
    return False


def family_nodes(nodes, families):
    """The names of the nodes whose ``kubernetes.io/arch`` is one of ``families``', with it."""
    wanted = arch.node_arches(families)
    out = {}
    for node in nodes or []:
        label = (_meta(node).get("labels") or {}).get(ARCH_LABEL)
        if label in wanted:
            out[_meta(node).get("name")] = label
    return out


def _pv_terms(pv):
    return (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []


def _capacity(obj):
    try:
        return quantity.memory_bytes(((obj.get("spec") or {}).get("capacity") or {}).get("storage") or 0)
    except XinchuangError:
        return 0


def cluster_problems(spec, nodes, storage_classes, volumes, claims, allow_delete=False):
    """Every problem of the cluster for the database (empty list: none), from what ``k8s_info``
    read: ``nodes``, ``storage_classes`` (the one named, or none), ``volumes`` (every PV) and
    ``claims`` (the database's claim when it exists)."""
    problems = []
    families = spec["families"]
    ours = family_nodes(nodes, families)
    arches = arch.node_arches(families)
    if not ours:
        have = sorted(set((_meta(n).get("labels") or {}).get(ARCH_LABEL, "?") for n in nodes or []))
        problems.append("no node has %s in %s (families %s); the nodes have %s: join such a node or change "
                        "kingbase_families" % (ARCH_LABEL, ", ".join(arches), ", ".join(families),
                                               ", ".join(have) or "none"))
    for family, label in zip(families, [arch.lookup(f).oci_arch for f in families]):
        if ours and label not in ours.values():
            problems.append("family %s has no node (%s=%s): the database can only run on %s; join such a node or "
                            "leave %s out of kingbase_families"
                            % (family, ARCH_LABEL, label, ", ".join(sorted(ours)), family))
    klass_name = spec["storage_class"]
    klass = next((c for c in storage_classes or [] if _meta(c).get("name") == klass_name), None)
    if klass is None:
        problems.append("StorageClass %s does not exist: make it (xinchuang.cloud.storage_local makes "
                        "local-storage and its PVs) or name another in kingbase_storage_class" % klass_name)
        return problems
    allow = "; or set kingbase_storage_allow_delete: true to accept it"
    claim_name = names(spec["name"])["claim"]
    claim = next((c for c in claims or [] if _meta(c).get("name") == claim_name
                  and _meta(c).get("namespace", spec["namespace"]) == spec["namespace"]), None)
    bound = None
    if claim is not None and (claim.get("status") or {}).get("phase") == "Bound":
        volume_name = (claim.get("spec") or {}).get("volumeName")
        bound = next((v for v in volumes or [] if _meta(v).get("name") == volume_name), None)
    if bound is not None:
        policy = (bound.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Delete")
        if policy == "Delete" and not allow_delete:
            problems.append("PersistentVolume %s, which holds the database (claim %s/%s), has reclaim policy "
                            "Delete: deleting the claim would delete the data; set it to Retain (kubectl patch pv "
                            "%s -p '{\"spec\":{\"persistentVolumeReclaimPolicy\":\"Retain\"}}')%s"
                            % (_meta(bound).get("name"), spec["namespace"], claim_name, _meta(bound).get("name"),
                               allow))
        return problems
    if klass.get("provisioner") != NO_PROVISIONER:
        if klass.get("reclaimPolicy", "Delete") == "Delete" and not allow_delete:
            problems.append("StorageClass %s deletes a volume with its claim (reclaimPolicy Delete): a database "
                            "needs Retain; name a class with reclaimPolicy Retain in kingbase_storage_class%s"
                            % (klass_name, allow))
        return problems
    family_node_objects = [n for n in nodes or [] if _meta(n).get("name") in ours]
    problems.extend(_static_volume_problems(spec, volumes, family_node_objects, claim_name, allow_delete, allow))
    return problems


def _static_volume_problems(spec, volumes, family_node_objects, claim_name, allow_delete, allow):
    """A class without a provisioner: an Available PV of it must fit the claim on a node of the
    families (or be reserved for the claim)."""
    klass_name = spec["storage_class"]
    size = quantity.memory_bytes(spec["storage_size"])
    fitting, seen = [], []
    for pv in volumes or []:
        pv_spec = pv.get("spec") or {}
        if pv_spec.get("storageClassName") != klass_name:
            continue
        pv_name = _meta(pv).get("name")
        ref = pv_spec.get("claimRef") or {}
        reserved = ref.get("name") == claim_name and ref.get("namespace") == spec["namespace"]
        phase = (pv.get("status") or {}).get("phase")
        if phase != "Available" and not reserved:
            seen.append("%s %s" % (pv_name, phase or "without a phase"))
            continue
        if "ReadWriteOnce" not in (pv_spec.get("accessModes") or []) and \
                "ReadWriteOncePod" not in (pv_spec.get("accessModes") or []):
            seen.append("%s without ReadWriteOnce" % pv_name)
            continue
        if pv_spec.get("volumeMode", "Filesystem") != "Filesystem":
            seen.append("%s of volumeMode %s" % (pv_name, pv_spec.get("volumeMode")))
            continue
        if _capacity(pv) < size:
            seen.append("%s of %s" % (pv_name, (pv_spec.get("capacity") or {}).get("storage")))
            continue
        if not any(node_matches(node, _pv_terms(pv)) for node in family_node_objects):
            seen.append("%s on a node outside the families" % pv_name)
            continue
        if pv_spec.get("persistentVolumeReclaimPolicy", "Delete") == "Delete" and not allow_delete:
            seen.append("%s with reclaim policy Delete" % pv_name)
            continue
        fitting.append(pv_name)
    if fitting:
        return []
    return ["no PersistentVolume of StorageClass %s can hold the database's claim (%s, ReadWriteOnce, on a node of "
            "families %s with reclaim policy Retain): %s; make one (xinchuang.cloud.storage_local: "
            "storage_local_volumes on such a node) or lower kingbase_storage_size%s"
            % (klass_name, spec["storage_size"], ", ".join(spec["families"]),
               ("found " + ", ".join(seen)) if seen else "the class has none",
               allow if any("Delete" in s for s in seen) else "")]


def image_problems(images, nodes, families):
    """image_manifest_info's ``images`` against the nodes of ``families``: the image must serve
    each one's platform (manifest_index.node_image_problems says how to fix it)."""
    ours = family_nodes(nodes, families)
    if not ours:
        ours = dict(("(family %s)" % f, arch.lookup(f).oci_arch) for f in families)
    return manifest_index.node_image_problems(images, ours)


def required_platforms(families):
    """The OCI platforms of ``families``: image_manifest_info's required_platforms."""
    return sorted(set(arch.oci_platform(f) for f in families or []))


# --- configuration --------------------------------------------------------------------------

def _role_conf(engine):
    return {"hba_file": "%s/%s" % (CONF_DIR, engine["hba_file"]),
            "ident_file": "%s/%s" % (CONF_DIR, _k8s(engine)["ident_file"])}


def conf_files(engine, conf=None, hba=None):
    """The ConfigMap's data: the main configuration file (kingbase_conf by key, written by the
    host form's ``conf_lines``, and the role's own keys), the authentication file (kingbase_hba
    first, then the container's user on the local socket and passwords over TCP) and the ident
    map, each under the engine's file name."""
    k8s = _k8s(engine)
    # The image's own needs (engine postgresql: jit off, no LLVM in it), then the inventory's keys.
    merged = dict(k8s.get("conf") or {})
    merged.update(conf or {})
    merged.update(_role_conf(engine))
    header = "# Written by xinchuang.cloud.kingbase (kingbase_conf); edits here are replaced.\n"
    main = header + "".join(line["line"] + "\n" for line in db_engine.conf_lines(merged))
    own = db_engine.hba_block([
        {"type": "local", "method": "peer", "options": "map=" + IDENT_MAP},
        {"type": "host", "address": "all", "method": "scram-sha-256"},
    ])
    given = db_engine.hba_block(hba or [])
    hba_text = header.replace("kingbase_conf", "kingbase_hba, then the role's entries") + \
        (given + "\n" if given else "") + own + "\n"
    ident = "# The container's own user is the superuser on the local socket (the probe, the role's SQL).\n" \
        "%s /^.*$ %s\n" % (IDENT_MAP, engine["superuser"])
    return {engine["conf_file"]: main, engine["hba_file"]: hba_text, k8s["ident_file"]: ident}


def _parse_conf(text):
    values = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _sep, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def restart_digest(engine, conf=None, hba=None):
    """A digest of what only a restart applies: the keys read at start (or, for an engine whose
    rule is ``always``, every file). Annotated on the Pod template, it rolls the StatefulSet."""
    files = conf_files(engine, conf, hba)
    if engine.get("restart_rule", "postmaster") == "always":
        text = "".join("%s\n%s" % (k, files[k]) for k in sorted(files))
    else:
        values = _parse_conf(files[engine["conf_file"]])
        text = "".join("%s=%s\n" % (k, values[k]) for k in sorted(values) if k in db_engine.POSTMASTER_KEYS)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def conf_change(old_data, new_data, engine):
    """What the server needs after the ConfigMap went from ``old_data`` to ``new_data`` (its
    ``data``; ``None`` when it did not exist): ``restart`` (the StatefulSet rolls by itself),
    ``reload`` or ``none`` - db_engine.conf_action over the keys whose values changed."""
    if not old_data:
        return "none"
    k8s = _k8s(engine)
    before = _parse_conf(old_data.get(engine["conf_file"]))
    after = _parse_conf(new_data.get(engine["conf_file"]))
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    other = any(old_data.get(f) != new_data.get(f) for f in (engine["hba_file"], k8s["ident_file"]))
    return db_engine.conf_action(changed, other, engine.get("restart_rule", "postmaster"))


def files_digest(data, engine):
    """The digest ``files_digest_query`` answers once the Pod sees ``data`` (md5 of the main and
    authentication files, joined by a space)."""
    return " ".join(hashlib.md5(data[f].encode("utf-8")).hexdigest()  # nosec - a change marker, not a secret
                    for f in (engine["conf_file"], engine["hba_file"], _k8s(engine)["ident_file"]))


def files_digest_query(engine):
    """SQL that answers ``files_digest`` of the files the server would read now."""
    paths = ["%s/%s" % (CONF_DIR, f) for f in (engine["conf_file"], engine["hba_file"], _k8s(engine)["ident_file"])]
    return "select " + " || ' ' || ".join("md5(pg_read_file(%s))" % db_engine.quote_literal(p) for p in paths)


def client_argv(engine, sql=None):
    """The engine's client in the Pod, on the local socket as the superuser (no password: the
    ident map), running ``sql`` or, without it, reading statements from its input."""
    k8s = _k8s(engine)
    argv = [k8s["client"], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", k8s["socket_dir"],
            "-p", str(k8s["port"]), "-U", engine["superuser"], "-d", engine["maintenance_db"]]
    return argv + (["-c", sql] if sql is not None else ["-f", "-"])


# --- objects --------------------------------------------------------------------------------

def _object(kind, name, spec, api_version="v1", namespaced=True):
    meta = {"name": name, "labels": labels(spec)}
    if namespaced:
        meta["namespace"] = spec["namespace"]
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def _format(value, values):
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, list):
        return [_format(v, values) for v in value]
    if isinstance(value, dict):
        return dict((k, _format(v, values)) for k, v in value.items())
    return value


def statefulset(spec):
    """The StatefulSet: one Pod of the engine's image on the families' nodes, the image's entry
    given the ConfigMap's main file, the probe ``select 1`` through the client, the data on a
    claim of the StorageClass (kept when the StatefulSet is deleted or scaled)."""
    engine = spec["engine"]
    k8s = _k8s(engine)
    n = names(spec["name"])
    values = {"conf_dir": CONF_DIR, "auth_dir": AUTH_DIR, "license_dir": LICENSE_DIR, "conf_file": engine["conf_file"],
              "superuser": engine["superuser"], "data_dir": k8s["data_dir"], "port": k8s["port"],
              "bin_dir": k8s.get("bin_dir") or "%s/%s" % (engine["install_dir"], engine["bin_subdir"]),
              "license_file": "%s/%s" % (engine["install_dir"], engine.get("license_path") or "")}
    uid = int(k8s["run_as"])
    container = {
        "name": CONTAINER,
        "image": "%s/%s" % image_reference(spec),
        "imagePullPolicy": "IfNotPresent",
        "args": _format(list(k8s.get("args") or []), values) + ["-c", "config_file=%s/%s" % (CONF_DIR, engine["conf_file"])],
        "env": [{"name": k, "value": str(v)} for k, v in sorted(_format(k8s.get("env") or {}, values).items())],
        "ports": [{"name": "sql", "containerPort": int(k8s["port"]), "protocol": "TCP"}],
        "readinessProbe": {
            "exec": {"command": client_argv(engine, "select 1")},
            "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3,
        },
        "resources": copy.deepcopy(spec.get("resources") or {}),
        "securityContext": {"allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": bool(k8s.get("read_only_root", True)),
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [
            {"name": "data", "mountPath": k8s["data_mount"]},
            {"name": "conf", "mountPath": CONF_DIR, "readOnly": True},
            {"name": "auth", "mountPath": AUTH_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    if k8s.get("command"):
        container["command"] = _format(list(k8s["command"]), values)
    volumes = [
        {"name": "conf", "configMap": {"name": n["configmap"]}},
        {"name": "auth", "secret": {"secretName": n["auth"], "defaultMode": 0o440}},
        {"name": "tmp", "emptyDir": {}},
    ]
    if engine.get("license_path"):
        container["volumeMounts"].append({"name": "license", "mountPath": LICENSE_DIR, "readOnly": True})
        volumes.append({"name": "license", "secret": {"secretName": n["license"], "defaultMode": 0o440}})
    pod_spec = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 60,
        "securityContext": {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
                            # The data directory must stay 0700: group rights only on the mount's root, once.
                            "fsGroupChangePolicy": "OnRootMismatch",
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "affinity": arch.node_affinity(spec["families"]),
        "containers": [container],
        "volumes": volumes,
    }
    if spec.get("image_pull_secrets"):
        pod_spec["imagePullSecrets"] = [{"name": s} for s in spec["image_pull_secrets"]]
    sts = _object("StatefulSet", n["statefulset"], spec, "apps/v1")
    sts["spec"] = {
        "replicas": 1,
        "serviceName": n["headless"],
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate"},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "selector": {"matchLabels": _selector(spec)},
        "template": {
            "metadata": {"labels": labels(spec),
                         "annotations": {RESTART_ANNOTATION: restart_digest(engine, spec.get("conf"), spec.get("hba"))}},
            "spec": pod_spec,
        },
        "volumeClaimTemplates": [{
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "labels": _selector(spec)},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": spec["storage_class"],
                     "volumeMode": "Filesystem",
                     "resources": {"requests": {"storage": str(spec["storage_size"])}}},
        }],
    }
    return sts


def services(spec):
    """The headless Service of the StatefulSet (its Pod's DNS name, ready or not) and the
    client Service."""
    engine = spec["engine"]
    n = names(spec["name"])
    port = int(_k8s(engine)["port"])
    headless = _object("Service", n["headless"], spec)
    headless["spec"] = {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": _selector(spec),
                        "ports": [{"name": "sql", "port": port, "targetPort": "sql", "protocol": "TCP"}]}
    client = _object("Service", n["service"], spec)
    client["spec"] = {"type": spec.get("service_type") or "ClusterIP", "selector": _selector(spec),
                      "ports": [{"name": "sql", "port": int(spec.get("service_port") or port),
                                 "targetPort": "sql", "protocol": "TCP"}]}
    return [headless, client]


def configmap(spec):
    cm = _object("ConfigMap", names(spec["name"])["configmap"], spec)
    cm["data"] = conf_files(spec["engine"], spec.get("conf"), spec.get("hba"))
    return cm


def namespace(spec):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spec["namespace"]}}


def objects(spec):
    """Every object but the Secrets, in the order they are applied."""
    return [namespace(spec), configmap(spec)] + services(spec) + [statefulset(spec)]


def secrets(spec, password, licenses=None):
    """The Secrets: the superuser's password (the image's entry reads it to make the cluster)
    and, for an engine with a license, one file per architecture the database may run on
    (``licenses``: GOARCH -> the file's content in base64), named by ``uname -m``, which is all
    the Pod knows of its node. Their data is base64, so the objects are compared as stored."""
    n = names(spec["name"])
    auth = _object("Secret", n["auth"], spec)
    auth["type"] = "Opaque"
    auth["data"] = {"password": base64.b64encode(str(password).encode("utf-8")).decode("ascii")}
    out = [auth]
    if spec["engine"].get("license_path"):
        lic = _object("Secret", n["license"], spec)
        lic["type"] = "Opaque"
        lic["data"] = dict(("license-%s" % arch.lookup(goarch).uname, content)
                           for goarch, content in sorted((licenses or {}).items()))
        out.append(lic)
    return out


def _command_line(argv):
    """``argv`` as one line that ``shlex.split`` gives back (kubernetes.core.k8s_exec's command)."""
    return " ".join(shlex.quote(a) for a in argv)


def plan(spec):
    """What the role needs besides the objects: the names, the ConfigMap's data and the digest
    the Pod answers once it sees it, the commands of that check and of the reload (for
    kubernetes.core.k8s_exec), the client's place for kingbase_objects, and the platforms the
    image must serve."""
    engine = spec["engine"]
    k8s = _k8s(engine)
    data = conf_files(engine, spec.get("conf"), spec.get("hba"))
    return {
        "names": names(spec["name"]),
        "conf_data": data,
        "files_digest": files_digest(data, engine),
        "files_digest_command": _command_line(client_argv(engine, files_digest_query(engine))),
        "reload_command": _command_line(client_argv(engine, "select pg_reload_conf()")),
        "ready_command": _command_line(client_argv(engine, "select 1")),
        "client": k8s["client"],
        "socket_dir": k8s["socket_dir"],
        "port": int(k8s["port"]),
        "platforms": required_platforms(spec["families"]),
        # image_manifest_info's registry and reference (the Pod pulls kingbase_registry/reference).
        "registry": index_registry(spec),
        "image_ref": image_reference(spec)[1],
        "arches": arch.node_arches(spec["families"]),
        # The licenses the Pod may need (engine kingbase): one per GOARCH of the families.
        "license_goarches": sorted(set(arch.goarch(f) for f in spec["families"])) if engine.get("license_path") else [],
    }
