# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade of a running cluster to the versions of another bundle, as pure rules: which
versions the hosts run (read from each installed binary's ``--version``), whether Kubernetes'
version skew policy allows the step (one minor at a time, no downgrade, kubelets within three
minors of the API servers, etcd one minor at a time), and the plan in the cluster's order: etcd
members, then the control planes one by one, then the nodes in batches.

The skew rules are Kubernetes' published policy
(https://kubernetes.io/releases/version-skew-policy/): kube-apiserver instances within one minor
of each other and upgraded one minor at a time; kubelet and kube-proxy never newer than the API
servers and at most three minors older; the controller manager and the scheduler move with
their API server (same host, same phase here). etcd's: members upgraded one minor at a time,
and no downgrade.

No I/O: ``playbooks/upgrade.yml`` reads the versions and acts; it asks these rules through the
filters in ``plugins/filter/upgrade.py``. Errors are ``UpgradeError`` with a message naming the
value and the fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class UpgradeError(XinchuangError, ValueError):
    """An upgrade input that cannot be acted on; the message names it and the fix."""


# The parts of a host the kubernetes role installs, in the order the cluster is upgraded, and
# the binaries of each (kubectl goes with the control plane, as the role installs it there).
PARTS = (
    ("etcd", ("etcd",)),
    ("control_plane", ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")),
    ("node", ("kubelet", "kube-proxy")),
)
PART_COMPONENTS = dict(PARTS)
PART_NAMES = tuple(p[0] for p in PARTS)
COMPONENT_PART = dict((c, part) for part, comps in PARTS for c in comps)
# Kubernetes' skew policy: kubelet and kube-proxy at most this many minors older than the API
# servers (three since 1.28).
NODE_MINORS_BEHIND = 3

_RELEASE = re.compile(r"^v?([0-9]+)\.([0-9]+)\.([0-9]+)$")
# What each binary prints: kube-* and kubelet "Kubernetes v1.37.2", kubectl (`version --client`)
# "Client Version: v1.37.2", etcd "etcd Version: 3.6.16".
_PRINTED = {
    "etcd": re.compile(r"^etcd Version:\s*(\S+)\s*$", re.M),
    "kubectl": re.compile(r"^Client Version:\s*(\S+)\s*$", re.M),
}
_PRINTED_KUBERNETES = re.compile(r"^Kubernetes\s+(\S+)\s*$", re.M)


def release(text, what):
    """(major, minor, patch) of a release ``v1.37.2`` or ``1.37.2``; ``what`` names the value in
    the error (a pre-release or build suffix is refused: the bundle builds released tags)."""
    match = _RELEASE.match(str(text).strip())
    if not match:
        raise UpgradeError("%s is %r, not a release like v1.37.2: name a released version (a bundle's "
                           "directory under xinchuang_bundle_dir)" % (what, text))
    return tuple(int(g) for g in match.groups())


def _name(version):
    return "v%d.%d.%d" % version


def installed_version(component, output):
    """The version a binary printed (``<binary> --version``; kubectl: ``kubectl version
    --client``), as ``v1.37.2``."""
    if component not in COMPONENT_PART:
        raise UpgradeError("component %r is none of %s" % (component, ", ".join(sorted(COMPONENT_PART))))
    pattern = _PRINTED.get(component, _PRINTED_KUBERNETES)
    match = pattern.search(output or "")
    if not match:
        first = (output or "").strip().splitlines()[:1]
        raise UpgradeError("%s printed %r, not its version: is the file at the role's kubernetes_bin_dir "
                           "the program (not a wrapper)?" % (component, first[0] if first else ""))
    return _name(release(match.group(1), component + "'s version"))


def installed_versions(lines):
    """{binary: version} of lines ``<binary>;<what it printed>`` (the first line of its
    ``--version``; the kubernetes role's one round trip prints them), in the form
    ``installed_version`` returns; ``""`` for a binary that printed no version (not installed,
    or not a program of this machine: an exec format error)."""
    read = {}
    for line in lines or []:
        binary, sep, printed = str(line).partition(";")
        if not sep:
            raise UpgradeError("%r is not a line '<binary>;<what it printed>'" % (line,))
        try:
            read[binary] = installed_version(binary, printed)
        except UpgradeError:
            if binary not in COMPONENT_PART:
                raise
            read[binary] = ""
    return read


def binaries_not_at(lines, kubernetes, etcd):
    """The lines of ``installed_versions``'s form whose binary does not print the wanted
    release (etcd: ETCD, the others: KUBERNETES), as they were printed: what the kubernetes role
    names when an installed binary is not the bundle's or does not run on the host."""
    want = {"etcd": release(etcd, "kubernetes_etcd_version"), "": release(kubernetes, "kubernetes_version")}
    read = installed_versions(lines)
    wrong = []
    for line in lines or []:
        binary = str(line).partition(";")[0]
        have = read[binary]
        if not have or release(have, binary) != want.get(binary, want[""]):
            wrong.append(str(line))
    return wrong


def running_version_problems(target, lines):
    """Why site.yml must not run with kubernetes_version TARGET on the cluster that LINES
    describe (``apiserver <version>`` and ``node <name> <kubelet version>``, as the API reports
    them; none: no cluster yet, or its API did not answer, and nothing is refused). site.yml
    installs: on a running cluster of another version it would change every host at once,
    nothing drained, so the upgrade is upgrade.yml's, and a cluster newer than the inventory says
    keeps its version."""
    want = release(target, "kubernetes_version")
    apiserver, behind = None, []
    for line in lines or []:
        words = str(line).split()
        if words[:1] == ["apiserver"] and len(words) == 2:
            apiserver = release(words[1], "the API server's version")
        elif words[:1] == ["node"] and len(words) == 3:
            if release(words[2], "node %s's kubelet version" % words[1]) != want:
                behind.append("%s (%s)" % (words[1], words[2]))
        else:
            raise UpgradeError("%r is not a line 'apiserver <version>' or 'node <name> <version>'" % (line,))
    if apiserver is None:
        return []
    if apiserver < want:
        return ["the cluster runs Kubernetes %s (its API server) and kubernetes_version is %s: site.yml does not "
                "upgrade a running cluster (it would change every host at once, nothing drained); run "
                "playbooks/upgrade.yml -e kubernetes_version=%s, then give that version in the inventory"
                % (_name(apiserver), _name(want), _name(want))]
    if apiserver > want:
        return ["the cluster runs Kubernetes %s (its API server) and kubernetes_version is %s: Kubernetes does not "
                "support a downgrade; give kubernetes_version: %s in the inventory"
                % (_name(apiserver), _name(want), _name(apiserver))]
    if behind:
        return ["the API server runs %s but the kubelets of %s do not: an upgrade stopped half-way; finish it with "
                "playbooks/upgrade.yml -e kubernetes_version=%s" % (_name(want), ", ".join(behind), _name(want))]
    return []


def _batches(hosts, size):
    return [hosts[i:i + size] for i in range(0, len(hosts), size)]


def _batch_size(node_batch):
    if isinstance(node_batch, bool) or not str(node_batch).isdigit() or int(node_batch) < 1:
        raise UpgradeError("upgrade_node_batch is %r: give a whole number of nodes drained and upgraded "
                           "at once, at least 1" % (node_batch,))
    return int(node_batch)


def upgrade_plan(target, hosts, node_batch=1, registered=None, core=None):
    """What upgrading HOSTS to TARGET does, or why it must not.

    TARGET: ``{"kubernetes": "v1.37.2", "etcd": "v3.6.16"}``, the versions of the bundle the run
    installs. HOSTS: in inventory order, ``{"name", "parts": [etcd|control_plane|node, ...],
    "versions": {binary: "v1.36.3"}}``: the parts the host has and what its installed binaries
    printed (``installed_versions``; "" or absent: none read), and ``"node_name"`` when the
    node's name is not the host's. A node without kube-proxy (the role's kubernetes_kube_proxy
    false) simply has none.

    The skew policy is about the whole cluster, so the run must hold all of it: REGISTERED, the
    node names the API lists, and CORE, the inventory's etcd and control plane hosts (None: not
    checked), are each refused when a host of theirs is not in HOSTS. A host of the inventory
    that never joined (not registered, not core) may stay out.

    Returns ``{"problems": [...], "phases": {part: [host, ...]}, "node_batch": n, "node_batches": [[host, ...]],
    "changes": [{"host", "part", "component", "from", "to"}], "current": {"kubernetes", "etcd"},
    "summary": [line, ...]}``. With problems, nothing may change (the phases are still given,
    for the report). A host whose part runs the target already is in no phase: a rerun, or a
    rerun after a run that stopped half-way, upgrades only what is left.
    """
    want = {"etcd": release(target.get("etcd"), "the bundle's etcd version"),
            "kubernetes": release(target.get("kubernetes"), "kubernetes_version")}
    batch = _batch_size(node_batch)
    problems, changes = [], []
    phases = dict((part, []) for part in PART_NAMES)
    running = dict((part, {}) for part in PART_NAMES)  # part -> {host: oldest version of the part}
    for host in hosts:
        name = host["name"]
        versions = host.get("versions") or {}
        for part in host.get("parts") or []:
            if part not in PART_COMPONENTS:
                raise UpgradeError("%s: part %r is none of %s" % (name, part, ", ".join(PART_NAMES)))
            goal = want["etcd" if part == "etcd" else "kubernetes"]
            comps = [c for c in PART_COMPONENTS[part] if c in versions or c not in ("kube-proxy",)]
            moves = False
            for comp in comps:
                if not versions.get(comp):
                    problems.append("%s: %s is not installed or does not run here (it printed no version): "
                                    "upgrade.yml upgrades what site.yml installed; run site.yml for a new host, "
                                    "or for one whose binaries are broken, first" % (name, comp))
                    continue
                have = release(versions[comp], "%s's %s version" % (name, comp))
                if comp in ("kube-apiserver", "kubelet", "etcd"):
                    running[part][name] = have
                if have > goal:
                    problems.append("%s: %s runs %s, newer than %s: neither Kubernetes nor etcd supports a "
                                    "downgrade; set kubernetes_version to %s or newer (to go back, restore an etcd "
                                    "snapshot taken before the upgrade with etcd_restore.yml)"
                                    % (name, comp, _name(have), _name(goal), _name(have)))
                elif have != goal:
                    moves = True
                    changes.append({"host": name, "part": part, "component": comp,
                                    "from": _name(have), "to": _name(goal)})
            if moves:
                phases[part].append(name)
    problems += _left_out(hosts, registered, core)
    problems += _skew_problems(want, running)
    current = {}
    for key, part in (("kubernetes", "control_plane"), ("etcd", "etcd")):
        found = sorted(set(running[part].values()))
        current[key] = _name(found[0]) if found else ""
    result = {"problems": problems, "phases": phases, "node_batch": batch, "node_batches": _batches(phases["node"], batch),
              "changes": changes, "current": current}
    result["summary"] = _summary(result, want, batch)
    return result


def _left_out(hosts, registered, core):
    names = [h["name"] for h in hosts]
    node_names = [h.get("node_name") or h["name"] for h in hosts]
    problems = []
    for name in core or []:
        if name not in names:
            problems.append("%s: an etcd or control plane host of the inventory is not in this run (--limit, or "
                            "unreachable): the upgrade plans the whole cluster at once; run it on every host of "
                            "the cluster" % name)
    for node in registered or []:
        if node not in node_names:
            problems.append("node %s is in the cluster but not in this run (--limit, unreachable, or not in the "
                            "inventory): its kubelet must stay within the skew policy too; run the upgrade on every "
                            "node of the cluster" % node)
    return problems


def _skew_problems(want, running):
    problems = []
    for key, part, binary in (("kubernetes", "control_plane", "kube-apiserver"), ("etcd", "etcd", "etcd")):
        goal = want[key]
        for name, have in sorted(running[part].items(), key=lambda kv: kv[1]):
            if have[0] != goal[0]:
                problems.append("%s: %s %s and the target %s differ in major version: upgrade.yml moves one minor "
                                "at a time within a major" % (name, binary, _name(have), _name(goal)))
            elif goal[1] - have[1] > 1:
                problems.append("%s: %s runs %s, %d minors behind the target %s: upgrade one minor at a time, to "
                                "the newest v%d.%d patch first (its bundle, then this one)"
                                % (name, binary, _name(have), goal[1] - have[1], _name(goal), have[0], have[1] + 1))
    goal = want["kubernetes"]
    for name, have in running["node"].items():
        if have[0] == goal[0] and goal[1] - have[1] > NODE_MINORS_BEHIND:
            problems.append("%s: kubelet %s would be %d minors behind the API servers at %s, and Kubernetes allows "
                            "%d: bring the node to v%d.%d or newer first (upgrade.yml with that bundle)"
                            % (name, _name(have), goal[1] - have[1], _name(goal), NODE_MINORS_BEHIND,
                               goal[0], goal[1] - NODE_MINORS_BEHIND))
    return problems


def _summary(result, want, batch):
    """Lines saying what the run does, phase by phase (check mode prints them)."""
    by_host_part = {}
    for change in result["changes"]:
        by_host_part.setdefault((change["host"], change["part"]), []).append(change)

    def hosts_text(part, hosts):
        items = []
        for host in hosts:
            moves = by_host_part.get((host, part), [])
            if len(set(c["from"] for c in moves)) == 1:
                items.append("%s (%s %s -> %s)" % (host, ", ".join(c["component"] for c in moves),
                                                   moves[0]["from"], moves[0]["to"]))
            else:
                items.append("%s (%s)" % (host, ", ".join("%s %s -> %s" % (c["component"], c["from"], c["to"])
                                                          for c in moves)))
        return "; ".join(items)

    lines = ["cluster: API servers at %s, etcd at %s; target Kubernetes %s, etcd %s" % (
        result["current"]["kubernetes"] or "(none read)", result["current"]["etcd"] or "(none read)",
        _name(want["kubernetes"]), _name(want["etcd"]))]
    titles = {"etcd": "etcd members, one by one", "control_plane": "control planes, one by one",
              "node": "nodes, %d at a time (drain, upgrade, uncordon)" % batch}
    for part in PART_NAMES:
        hosts = result["phases"][part]
        lines.append("%s: %s" % (titles[part], hosts_text(part, hosts) if hosts else "nothing to do"))
    for problem in result["problems"]:
        lines.append("refused: " + problem)
    return lines
