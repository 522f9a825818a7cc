# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Projects as namespaces (role xinchuang.cloud.tenancy): pure rules, no I/O.

From the inventory's ``tenancy_projects`` this module decides, before any request:

- every problem of the projects (unknown family, bad role, ``baseline`` without a reason,
  ``privileged``, two projects on one namespace, ...), each naming the project, the field and
  the fix (``project_problems``);
- the objects of each project (``project_objects``): its Namespace (project and family labels,
  Pod Security Admission labels), one RoleBinding per role to the ClusterRoles
  admin / edit / view, a ResourceQuota and a LimitRange per family in the autoscaling role's
  shape (``family_resource_quota`` / ``family_limit_range``: names ``arch-<family>``, the
  family label), and NetworkPolicies (default deny both ways, within the project, DNS, the
  declared shared services);
- what a project marked ``state: absent`` leaves (``removed_objects``: never its namespace
  unless ``delete_namespace: true`` says so) and what a listed project no longer needs
  (``stale_objects``);
- the per-tenant kubeconfigs (``kubeconfig_requests``): which client certificate each needs
  (CN the user, O its groups), the CertificateSigningRequest (``csr_object``), whether the one
  on disk is still good (``kubeconfig_stale``) and the kubeconfig itself
  (``tenant_kubeconfig``, by the kubernetes role's ``kube_components.kubeconfig``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations.hpa_policy import FAMILY_LABEL
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster.components import kubeconfig


class TenancyError(XinchuangError, ValueError):
    """tenancy_projects is not something the role can apply; the message lists every problem."""


MANAGED_BY = "xinchuang.cloud.tenancy"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
PROJECT_LABEL = "xinchuang.cloud/project"
FAMILIES_LABEL = "xinchuang.cloud/families"
REASON_ANNOTATION = "xinchuang.cloud/pod-security-reason"
PSA_PREFIX = "pod-security.kubernetes.io/"
# The project roles and the ClusterRoles every Kubernetes cluster has for them.
CLUSTER_ROLES = {"admin": "admin", "developer": "edit", "viewer": "view"}
MEMBER_KINDS = ("User", "Group")
POD_SECURITY = ("restricted", "baseline")
# Namespaces Kubernetes itself uses: a project never takes one over.
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
DNS_DEFAULT = {"namespace": "kube-system", "selector": {"k8s-app": "kube-dns"}}
QUOTA_NAME_PREFIX = "arch"
QUOTA_KEYS = ("hard", "default", "default_request", "max", "min")
PROJECT_KEYS = ("name", "namespace", "members", "groups", "families", "quotas", "pod_security",
                "pod_security_reason", "shared_services", "kubeconfigs", "state",
                "delete_namespace")
CSR_SIGNER = "kubernetes.io/kube-apiserver-client"
# The API server refuses shorter client certificates (CertificateSigningRequest validation).
MIN_EXPIRATION_SECONDS = 600
# Kinds the role writes in a project's namespace, as (apiVersion, kind); the Namespace apart.
NAMESPACED_KINDS = (("rbac.authorization.k8s.io/v1", "RoleBinding"), ("v1", "ResourceQuota"),
                    ("v1", "LimitRange"), ("networking.k8s.io/v1", "NetworkPolicy"))

_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")


# --- The per-family quota shape, of projects and of the autoscaling role ------------------------
# Name "<prefix>-<family>", the family label, spec.hard; a Container LimitRange from default /
# default_request / max / min. roles/autoscaling asks for its objects through the filter
# family_quota_objects: the shape is written here only.

def family_resource_quota(family, namespace, hard, prefix=QUOTA_NAME_PREFIX, managed_by=MANAGED_BY,
                          labels=None):
    """The ResourceQuota ``<prefix>-<family>`` of ``namespace`` (any name of the family)."""
    fam = arch.family_of(family)
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "%s-%s" % (prefix, fam), "namespace": namespace,
                     "labels": dict({MANAGED_BY_LABEL: managed_by, FAMILY_LABEL: fam}, **(labels or {}))},
        "spec": {"hard": dict(hard)},
    }


def family_limit_range(family, namespace, limits, prefix=QUOTA_NAME_PREFIX, managed_by=MANAGED_BY,
                       labels=None):
    """The LimitRange ``<prefix>-<family>`` (type Container) from ``limits``' default,
    default_request, max and min; None when it gives none of them."""
    fam = arch.family_of(family)
    item = {"type": "Container"}
    for key, field in (("default", "default"), ("default_request", "defaultRequest"),
                       ("max", "max"), ("min", "min")):
        if limits.get(key):
            item[field] = dict(limits[key])
    if len(item) == 1:
        return None
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "%s-%s" % (prefix, fam), "namespace": namespace,
                     "labels": dict({MANAGED_BY_LABEL: managed_by, FAMILY_LABEL: fam}, **(labels or {}))},
        "spec": {"limits": [item]},
    }


def family_quota_objects(resource_quotas, limit_ranges, prefix=QUOTA_NAME_PREFIX, managed_by=MANAGED_BY):
    """The per-family objects of the autoscaling role's ``autoscaling_resource_quotas`` and
    ``autoscaling_limit_ranges`` (entries {family, namespaces, hard} and {family, namespaces,
    default, default_request, max, min}), in that order: one ResourceQuota or LimitRange per
    entry and namespace, of the same shape as a project's (a LimitRange that gives no limit is
    left out)."""
    out = []
    for entry in resource_quotas or []:
        for namespace in entry.get("namespaces") or []:
            out.append(family_resource_quota(entry["family"], namespace, entry.get("hard") or {}, prefix, managed_by))
    for entry in limit_ranges or []:
        for namespace in entry.get("namespaces") or []:
            limit_range = family_limit_range(entry["family"], namespace, entry, prefix, managed_by)
            if limit_range is not None:
                out.append(limit_range)
    return out


# --- Validation ----------------------------------------------------------------------------------

def _name_of(project, index):
    if isinstance(project, dict) and isinstance(project.get("name"), str) and project["name"]:
        return project["name"]
    return "tenancy_projects[%d]" % index


def _members(project):
    """[(name, kind, role)] from ``members`` and the ``groups`` shorthand ({role: [group]})."""
    out = []
    for member in project.get("members") or []:
        if isinstance(member, dict):
            out.append((member.get("name"), member.get("kind", "Group"), member.get("role")))
        else:
            out.append((member, None, None))
    groups = project.get("groups") or {}
    if isinstance(groups, dict):
        for role in sorted(groups):
            for group in groups[role] or []:
                out.append((group, "Group", role))
    return out


def _families(project):
    return project.get("families") if project.get("families") is not None else arch.families()


def _kubeconfigs(project):
    """[{user, groups}]: as given, else one per User member (no groups)."""
    if project.get("kubeconfigs") is not None:
        return [{"user": k.get("user"), "groups": list(k.get("groups") or [])} if isinstance(k, dict)
                else {"user": k, "groups": []} for k in project["kubeconfigs"]]
    return [{"user": name, "groups": []} for name, kind, _role in _members(project) if kind == "User"]


def _namespace_of(project):
    return project.get("namespace") or project.get("name")


def _project_problems(project, name, cluster_roles, namespaces):
    where = "tenancy_projects %s" % name
    problems = []
    unknown = sorted(set(project) - set(PROJECT_KEYS))
    if unknown:
        problems.append("%s: unknown field(s) %s; the fields are %s"
                        % (where, ", ".join(unknown), ", ".join(PROJECT_KEYS)))
    if not k8s_names.is_rfc1123_label(project.get("name")):
        problems.append("%s: name %r must be a DNS label (lower case letters, digits and '-', at "
                        "most 63)" % (where, project.get("name")))
    namespace = _namespace_of(project)
    if not k8s_names.is_rfc1123_label(namespace):
        problems.append("%s: namespace %r must be a DNS label (lower case letters, digits and '-')"
                        % (where, namespace))
    elif namespace in SYSTEM_NAMESPACES or namespace.startswith("kube-"):
        problems.append("%s: namespace %r belongs to Kubernetes; give the project its own namespace"
                        % (where, namespace))
    elif namespace in namespaces:
        problems.append("%s: namespace %r is already the namespace of project %s; give each project "
                        "its own namespace" % (where, namespace, namespaces[namespace]))
    else:
        namespaces[namespace] = name
    state = project.get("state", "present")
    if state not in ("present", "absent"):
        problems.append("%s: state %r: use present or absent" % (where, state))
    if project.get("delete_namespace") and state != "absent":
        problems.append("%s: delete_namespace is only read with state: absent; remove it or set "
                        "state: absent to delete the project" % where)
    if state == "absent":
        return problems

    families = _families(project)
    known = []
    if not isinstance(families, list) or not families:
        problems.append("%s: families %r: give a list of CPU families (%s)"
                        % (where, families, ", ".join(arch.families())))
        families = []
    for family in families:
        try:
            known.append(arch.family_of(family))
        except XinchuangError:
            problems.append("%s: families: unknown CPU family %r; use one of %s"
                            % (where, family, ", ".join(arch.families())))

    if project.get("groups") is not None and not isinstance(project.get("groups"), dict):
        problems.append("%s: groups must map a role (%s) to a list of group names"
                        % (where, ", ".join(sorted(cluster_roles))))
    seen = set()
    for member, kind, role in _members(project):
        if not isinstance(member, str) or not member:
            problems.append("%s: members: each member needs a name, a kind (User or Group) and a role "
                            "(%s); got %r" % (where, ", ".join(sorted(cluster_roles)), member))
            continue
        if kind not in MEMBER_KINDS:
            problems.append("%s: member %s: kind %r must be User or Group" % (where, member, kind))
        if role not in cluster_roles:
            problems.append("%s: member %s: role %r is not a project role; use one of %s"
                            % (where, member, role, ", ".join(sorted(cluster_roles))))
        if member.startswith("system:"):
            problems.append("%s: member %s: names starting with 'system:' are Kubernetes' own; "
                            "bind a group of the project's people instead" % (where, member))
        if (member, kind) in seen:
            problems.append("%s: member %s (%s) is listed twice; give each member one role"
                            % (where, member, kind))
        seen.add((member, kind))

    level = project.get("pod_security", "restricted")
    if level == "privileged":
        problems.append("%s: pod_security privileged is not offered: a privileged Pod can take over "
                        "its node and every tenant on it; use restricted, or baseline with "
                        "pod_security_reason" % where)
    elif level not in POD_SECURITY:
        problems.append("%s: pod_security %r: use restricted (the default) or baseline with "
                        "pod_security_reason" % (where, level))
    elif level == "baseline" and not str(project.get("pod_security_reason") or "").strip():
        problems.append("%s: pod_security baseline needs pod_security_reason (why the project's "
                        "Pods cannot run restricted); state it or use restricted" % where)

    quotas = project.get("quotas") or {}
    if not isinstance(quotas, dict):
        problems.append("%s: quotas must map a CPU family to {hard, default, default_request, max, "
                        "min}" % where)
        quotas = {}
    for family, entry in sorted(quotas.items()):
        try:
            fam = arch.family_of(family)
        except XinchuangError:
            problems.append("%s: quotas: unknown CPU family %r; use one of %s"
                            % (where, family, ", ".join(arch.families())))
            continue
        if fam not in known:
            problems.append("%s: quotas: family %s is not one of the project's families (%s); add it "
                            "to families or drop its quota" % (where, family, ", ".join(known)))
        if not isinstance(entry, dict) or not entry:
            problems.append("%s: quotas.%s must give hard and/or default, default_request, max, min"
                            % (where, family))
            continue
        bad = sorted(set(entry) - set(QUOTA_KEYS))
        if bad:
            problems.append("%s: quotas.%s: unknown field(s) %s; use %s"
                            % (where, family, ", ".join(bad), ", ".join(QUOTA_KEYS)))
        for key in QUOTA_KEYS:
            if key in entry and not isinstance(entry[key], dict):
                problems.append("%s: quotas.%s.%s must map resources to quantities, got %r"
                                % (where, family, key, entry[key]))

    names = set()
    for index, service in enumerate(project.get("shared_services") or []):
        label = "shared_services[%d]" % index
        if not isinstance(service, dict):
            problems.append("%s: %s must be {name, namespace, selector, ports}" % (where, label))
            continue
        if not k8s_names.is_rfc1123_label(str(service.get("name") or "")) or service.get("name") in names:
            problems.append("%s: %s: name %r must be a DNS label, unique in the project"
                            % (where, label, service.get("name")))
        names.add(service.get("name"))
        if not k8s_names.is_rfc1123_label(str(service.get("namespace") or "")):
            problems.append("%s: %s: namespace %r must be a namespace name"
                            % (where, label, service.get("namespace")))
        if not isinstance(service.get("selector", {}), dict):
            problems.append("%s: %s: selector must map Pod labels to values" % (where, label))
        for port in service.get("ports") or []:
            if not isinstance(port, dict) or not isinstance(port.get("port"), int) \
                    or port.get("protocol", "TCP") not in ("TCP", "UDP", "SCTP"):
                problems.append("%s: %s: port %r must be {port: <number>, protocol: TCP|UDP|SCTP}"
                                % (where, label, port))

    users = set()
    for entry in _kubeconfigs(project):
        user = entry.get("user")
        if not isinstance(user, str) or not _USER_NAME.match(user) or user.startswith("system:"):
            problems.append("%s: kubeconfigs: user %r must be a plain name (letters, digits, '.', "
                            "'_', '@', '-'; not system:*)" % (where, user))
        elif user in users:
            problems.append("%s: kubeconfigs: user %s is listed twice" % (where, user))
        users.add(user)
        for group in entry.get("groups") or []:
            if not isinstance(group, str) or not group or group.startswith("system:"):
                problems.append("%s: kubeconfigs: user %s: group %r must be a plain name, not "
                                "system:* (system:masters would make the tenant a cluster admin)"
                                % (where, user, group))
    return problems


def project_problems(projects, cluster_roles=None):
    """Every problem of ``tenancy_projects``, as messages; empty when the role may apply them."""
    cluster_roles = cluster_roles or CLUSTER_ROLES
    if not isinstance(projects, list):
        return ["tenancy_projects must be a list of projects, got %r" % (projects,)]
    problems = []
    namespaces = {}
    names = set()
    for index, project in enumerate(projects):
        name = _name_of(project, index)
        if not isinstance(project, dict):
            problems.append("tenancy_projects[%d] must be a dict {name, members, families, ...}, got %r"
                            % (index, project))
            continue
        if name in names:
            problems.append("tenancy_projects %s: the name is used twice; give each project its own"
                            % name)
        names.add(name)
        problems.extend(_project_problems(project, name, cluster_roles, namespaces))
    return problems


def _checked(projects, cluster_roles):
    problems = project_problems(projects, cluster_roles)
    if problems:
        raise TenancyError("; ".join(problems))
    return [p for p in projects if p.get("state", "present") == "present"]


# --- Objects -------------------------------------------------------------------------------------

def _labels(project, extra=None):
    labels = {MANAGED_BY_LABEL: MANAGED_BY, PROJECT_LABEL: project["name"]}
    labels.update(extra or {})
    return labels


def _meta(name, project, extra_labels=None):
    return {"name": name, "namespace": _namespace_of(project), "labels": _labels(project, extra_labels)}


def _namespace(project):
    families = sorted(set(arch.family_of(f) for f in _families(project)), key=arch.families().index)
    level = project.get("pod_security", "restricted")
    labels = _labels(project, {FAMILIES_LABEL: ".".join(families)})
    for family in families:
        labels["%s.xinchuang.cloud/allowed" % family] = "true"
    for mode in ("enforce", "audit", "warn"):
        labels[PSA_PREFIX + mode] = level
        labels[PSA_PREFIX + mode + "-version"] = "latest"
    meta = {"name": _namespace_of(project), "labels": labels}
    if level != "restricted":
        meta["annotations"] = {REASON_ANNOTATION: str(project["pod_security_reason"]).strip()}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _role_bindings(project, cluster_roles):
    by_role = {}
    for name, kind, role in _members(project):
        subject = {"kind": kind, "name": name, "apiGroup": "rbac.authorization.k8s.io"}
        by_role.setdefault(role, []).append(subject)
    out = []
    for role in sorted(by_role):
        out.append({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta("tenancy-%s" % role, project),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": cluster_roles[role]},
            "subjects": sorted(by_role[role], key=lambda s: (s["kind"], s["name"])),
        })
    return out


def _quotas(project):
    out = []
    namespace = _namespace_of(project)
    for family, entry in sorted((project.get("quotas") or {}).items()):
        extra = {PROJECT_LABEL: project["name"]}
        if entry.get("hard"):
            out.append(family_resource_quota(family, namespace, entry["hard"], labels=extra))
        limits = family_limit_range(family, namespace, entry, labels=extra)
        if limits:
            out.append(limits)
    return out


def _policy(name, project, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta(name, project), "spec": spec}


def _ports(ports):
    return [{"port": p["port"], "protocol": p.get("protocol", "TCP")} for p in ports or []]


def _network_policies(project, dns, projects_by_namespace):
    dns = dict(DNS_DEFAULT, **(dns or {}))
    out = [
        _policy("default-deny", project, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _policy("allow-within-project", project, {
            "podSelector": {}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}]}),
        _policy("allow-dns", project, {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": dns["namespace"]}},
                "podSelector": {"matchLabels": dict(dns["selector"])}}],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}),
    ]
    for service in project.get("shared_services") or []:
        peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": service["namespace"]}},
                "podSelector": {"matchLabels": dict(service.get("selector") or {})}}
        rule = {"to": [peer]}
        if service.get("ports"):
            rule["ports"] = _ports(service["ports"])
        out.append(_policy("allow-shared-%s" % service["name"], project,
                           {"podSelector": {}, "policyTypes": ["Egress"], "egress": [rule]}))
        # The service's own namespace denies by default when it is another project's: open it
        # there to this project only, on the service's Pods and ports.
        owner = projects_by_namespace.get(service["namespace"])
        if owner is not None and owner is not project:
            ingress = {"from": [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": _namespace_of(project)}}}]}
            if service.get("ports"):
                ingress["ports"] = _ports(service["ports"])
            out.append(_policy("allow-from-%s-%s" % (project["name"], service["name"]), owner, {
                "podSelector": {"matchLabels": dict(service.get("selector") or {})},
                "policyTypes": ["Ingress"], "ingress": [ingress]}))
    return out


def project_objects(projects, cluster_roles=None, dns=None):
    """Every object of the projects that are present: the Namespaces first, then per project
    its RoleBindings, quotas and limit ranges, NetworkPolicies. Raises TenancyError with every
    problem of the input."""
    cluster_roles = cluster_roles or CLUSTER_ROLES
    present = _checked(projects, cluster_roles)
    by_namespace = dict((_namespace_of(p), p) for p in present)
    namespaces = [_namespace(p) for p in present]
    rest = []
    for project in present:
        rest.extend(_role_bindings(project, cluster_roles))
        rest.extend(_quotas(project))
        rest.extend(_network_policies(project, dns, by_namespace))
    return namespaces + rest


def _ref(obj):
    """The object by name only, as kubernetes.core.k8s deletes a list of definitions."""
    meta = {"name": obj["metadata"]["name"]}
    if obj["metadata"].get("namespace"):
        meta["namespace"] = obj["metadata"]["namespace"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta}


def stale_objects(existing, desired, removed=None):
    """References of objects the role made (``existing``: what a list by the managed-by label
    returned, any kind) to delete: those of a listed project that ``desired`` no longer has (a
    member role emptied, a family's quota dropped, a shared service removed), and every one of
    the projects in ``removed`` (``removed_objects``). A project neither listed nor marked
    absent keeps its objects: dropping it from the inventory deletes nothing. Namespaces are
    never in the answer (``removed_objects`` says which to delete)."""
    want = set((o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in desired)
    listed = set(o["metadata"]["labels"][PROJECT_LABEL] for o in desired if o["kind"] == "Namespace")
    gone = set(r["project"] for r in removed or [])
    out = []
    for obj in existing or []:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        project = labels.get(PROJECT_LABEL)
        if labels.get(MANAGED_BY_LABEL) != MANAGED_BY or obj.get("kind") == "Namespace":
            continue
        if project in gone or (project in listed
                               and (obj["kind"], meta.get("namespace"), meta["name"]) not in want):
            out.append(_ref(obj))
    return sorted(out, key=lambda r: (r["metadata"].get("namespace", ""), r["kind"], r["metadata"]["name"]))


def namespace_clashes(existing, projects, cluster_roles=None):
    """Messages for each listed project whose namespace exists labelled for another project
    of this role (two inventories, or a project renamed without state: absent)."""
    present = _checked(projects, cluster_roles or CLUSTER_ROLES)
    owners = {}
    for obj in existing or []:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(PROJECT_LABEL):
            owners[meta.get("name")] = labels[PROJECT_LABEL]
    out = []
    for project in present:
        owner = owners.get(_namespace_of(project))
        if owner is not None and owner != project["name"]:
            out.append("tenancy_projects %s: namespace %s belongs to project %s; mark %s state: "
                       "absent first, or give %s another namespace"
                       % (project["name"], _namespace_of(project), owner, owner, project["name"]))
    return out


def removed_objects(projects, cluster_roles=None):
    """For each project with ``state: absent``: {project, namespace, delete_namespace}. The role
    deletes the objects it labelled in that namespace, and the namespace only when
    delete_namespace is true."""
    _checked(projects, cluster_roles or CLUSTER_ROLES)
    return [{"project": p["name"], "namespace": _namespace_of(p),
             "delete_namespace": bool(p.get("delete_namespace")),
             "kubeconfigs": [_file_name(p, k["user"]) for k in _kubeconfigs(p)]}
            for p in projects if p.get("state", "present") == "absent"]


# --- Per-tenant kubeconfigs -----------------------------------------------------------------------

def _file_name(project, user):
    return "%s-%s" % (project["name"], re.sub(r"[^a-z0-9.-]", "-", user.lower()))


def kubeconfig_requests(projects, cluster_roles=None):
    """One entry per client certificate: {project, namespace, user, groups, name, subject} where
    name is ``<project>-<user>`` (the CSR is tenancy-<name>, the file <name>.kubeconfig) and
    subject the certificate's (CN the user, an O per group, as the API server reads them)."""
    out = []
    for project in _checked(projects, cluster_roles or CLUSTER_ROLES):
        for entry in _kubeconfigs(project):
            name = _file_name(project, entry["user"])
            groups = sorted(entry["groups"])
            out.append({"project": project["name"], "namespace": _namespace_of(project),
                        "user": entry["user"], "groups": groups, "name": name,
                        "subject": [{"CN": entry["user"]}] + [{"O": g} for g in groups]})
    return out


def csr_objects(requests, csrs, valid_days):
    """The CertificateSigningRequests of kubeconfig requests (``csrs``: their PKCS#10 requests,
    PEM, in the same order, or the results of a loop of community.crypto.openssl_csr_pipe over
    them): client auth, the API server's client signer, valid ``valid_days``."""
    seconds = int(valid_days) * 86400
    if seconds < MIN_EXPIRATION_SECONDS:
        raise TenancyError("tenancy_kubeconfig_valid_days %r: a client certificate lives at least "
                           "one day here; give 1 or more" % (valid_days,))
    csrs = [c.get("csr") if isinstance(c, dict) else c for c in csrs or []]
    if len(csrs) != len(requests or []):
        raise TenancyError("%d signing request(s) for %d kubeconfig(s): make one per kubeconfig"
                           % (len(csrs), len(requests or [])))
    out = []
    for request, csr_pem in zip(requests, csrs):
        text = csr_pem.decode("ascii") if isinstance(csr_pem, bytes) else csr_pem
        out.append({
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": csr_name(request),
                         "labels": {MANAGED_BY_LABEL: MANAGED_BY, PROJECT_LABEL: request["project"]}},
            "spec": {"request": base64.b64encode(text.encode("ascii")).decode("ascii"),
                     "signerName": CSR_SIGNER, "expirationSeconds": seconds,
                     "usages": ["digital signature", "key encipherment", "client auth"]},
        })
    return out


def csr_name(request):
    """Name of a kubeconfig request's CertificateSigningRequest."""
    return "tenancy-%s" % request["name"]


def signed_certificates(requests, csrs):
    """The certificates (base64 of PEM, as status.certificate holds them) of the requests, in
    their order, from the CertificateSigningRequests read; '' for one not signed yet."""
    by_name = dict(((c.get("metadata") or {}).get("name"), (c.get("status") or {}).get("certificate") or "")
                   for c in csrs or [])
    return [by_name.get(csr_name(r), "") for r in requests or []]


def _b64_text(value):
    text = value.decode("ascii") if isinstance(value, bytes) else (value or "")
    if "-----BEGIN" in text:
        return text
    try:
        return base64.b64decode(text).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return ""


def kubeconfig_stale(existing, request, server, ca, renew_days, now=None):
    """Why the kubeconfig on disk (``existing``: its text, or base64 of it as slurp gives it;
    empty when missing) must be issued again, or '' when it is good: same server and CA, a
    certificate for the user and groups asked, more than ``renew_days`` left."""
    import yaml  # the controller's (Ansible's own dependency)

    from ansible_collections.xinchuang.cloud.plugins.module_utils.pki import certificates as registry_config

    text = existing.decode("utf-8") if isinstance(existing, bytes) else (existing or "")
    if text and "apiVersion" not in text:
        try:
            text = base64.b64decode(text).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            text = ""
    if not text:
        return "no kubeconfig yet"
    try:
        config = yaml.safe_load(text) or {}
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        cert = _b64_text(user["client-certificate-data"])
    except (ValueError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return "the kubeconfig on disk is not one the role wrote"
    if cluster.get("server") != server:
        return "the API server changed"
    if _b64_text(cluster.get("certificate-authority-data")).strip() != _b64_text(ca).strip():
        return "the cluster CA changed"
    subject = certificate_subject(cert)
    if subject != {"cn": request["user"], "groups": sorted(request["groups"])}:
        return "the certificate is for %r, not %s %s" % (subject, request["user"], request["groups"])
    left = registry_config.cert_days_left(cert, now)
    if left < int(renew_days):
        return "the certificate ends in %d day(s)" % left
    return ""


def kubeconfigs_to_issue(current, cluster, renew_days, now=None):
    """The requests to issue, each with its ``reason``: ``current`` holds one slurp result per
    request ({item: request, content: base64 of the file}; no content when it is missing),
    ``cluster`` is ``admin_cluster``'s answer."""
    out = []
    for result in current or []:
        request = result["item"]
        reason = kubeconfig_stale(result.get("content") or "", request, cluster["server"],
                                  cluster["ca"], renew_days, now)
        if reason:
            out.append(dict(request, reason=reason))
    return out


def certificate_subject(cert_pem):
    """{cn, groups} of a client certificate (CN the user, each O a group)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    text = cert_pem.encode("ascii") if not isinstance(cert_pem, bytes) else cert_pem
    try:
        cert = x509.load_pem_x509_certificate(text)
    except ValueError:
        return {}
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {"cn": cns[0].value if cns else None,
            "groups": sorted(a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))}


def tenant_kubeconfig(request, server, cluster, ca, cert, key):
    """The tenant's kubeconfig (dict): the certificate and key embedded, the project's
    namespace as the context's default."""
    return kubeconfig(server, cluster, request["user"], ca, cert, key,
                      namespace=request["namespace"], embed=True)


def admin_cluster(admin_kubeconfig, server="", ca=""):
    """{server, ca, name} of the current context's cluster of the admin's kubeconfig (text or
    slurp's base64), for the tenants' kubeconfigs; ``server`` and ``ca`` (PEM), when given,
    take the place of the kubeconfig's (an address the tenants reach, a CA given by file)."""
    import yaml

    text = admin_kubeconfig.decode("utf-8") if isinstance(admin_kubeconfig, bytes) else (admin_kubeconfig or "")
    if text and "apiVersion" not in text and "clusters" not in text:
        try:
            text = base64.b64decode(text).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            pass
    try:
        config = yaml.safe_load(text) or {}
        contexts = dict((c["name"], c["context"]) for c in config.get("contexts") or [])
        clusters = dict((c["name"], c["cluster"]) for c in config.get("clusters") or [])
        current = config.get("current-context") or (list(contexts) or [None])[0]
        name = contexts[current]["cluster"] if current in contexts else list(clusters)[0]
        cluster = clusters[name]
    except (KeyError, IndexError, TypeError, AttributeError, yaml.YAMLError):
        raise TenancyError("tenancy_kubeconfig: the admin kubeconfig has no cluster the tenants' "
                           "kubeconfigs could name; give a kubeconfig with a current context")
    server = server or cluster.get("server")
    ca = base64.b64encode(_b64_text(ca).encode("ascii")).decode("ascii") if ca else \
        cluster.get("certificate-authority-data")
    if not ca:
        raise TenancyError("tenancy_kubeconfig: the admin kubeconfig's cluster %s names its CA by "
                           "file (certificate-authority); give tenancy_api_ca (the CA certificate, PEM) "
                           "so the tenants' kubeconfigs can embed it" % name)
    return {"server": server, "ca": ca, "name": name}
