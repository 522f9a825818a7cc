# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Pod network's decisions: which CNI a node has, the MTU Pods get, flannel's settings.

Pure functions (no host, no API server): the kubernetes role asks them through filters
(plugins/filter/network.py) for each node's CNI configuration and its preflight; the network
role for flannel's ConfigMap. Errors name the value and the fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.network import cluster_net
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class PodNetworkError(XinchuangError, ValueError):
    """A Pod network setting or node state the role cannot work with."""


# kubernetes_cni values. bridge: the bridge plugin and static routes between the nodes' Pod
# subnets (one L2 network); flannel: the bridge plugin on each node, flanneld's overlay (or
# host-gw routes) between them; none: another CNI the site installs itself.
CNIS = ("bridge", "flannel", "none")

# Bytes an overlay adds in front of a Pod's packet on the node's interface. VXLAN over IPv4:
# outer IPv4 20 + UDP 8 + VXLAN 8 + the inner Ethernet header 14 = 50 (flannel's own rule).
# host-gw routes Pod packets as they are.
FLANNEL_BACKEND_OVERHEAD = {"vxlan": 50, "host-gw": 0}

# The configuration file each CNI of the collection writes into the CNI directory: the name
# says which CNI the node was set up with (the switch refusal reads it).
CNI_CONF_FILES = {
    "bridge": "10-xinchuang-bridge.conflist",
    "flannel": "10-xinchuang-flannel.conflist",
}

# What takes a CNI of the collection off a node by hand (the switch refusal's steps).
_UNDO_STEPS = {
    "bridge": "systemctl disable --now xinchuang-pod-routes.service; rm /etc/cni/net.d/%s" % CNI_CONF_FILES["bridge"],
    "flannel": "kubectl delete namespace kube-flannel; ip link delete flannel.1; rm /etc/cni/net.d/%s" % CNI_CONF_FILES["flannel"],
}

# The smallest MTU a Pod interface may get (IPv4's minimum reassembly size is 576; below 1280
# IPv6 breaks): a node interface that small cannot carry an overlay.
MIN_POD_MTU = 1280


def _cni(cni):
    if cni not in CNIS:
        raise PodNetworkError(
            "kubernetes_cni is %r: choose one of %s" % (cni, ", ".join(CNIS)))
    return cni


def _backend(backend):
    if backend not in FLANNEL_BACKEND_OVERHEAD:
        raise PodNetworkError(
            "kubernetes_flannel_backend is %r: choose vxlan (any network between the nodes) or "
            "host-gw (all nodes on one L2 network)" % (backend,))
    return backend


def _interfaces(facts):
    """(name, facts of the interface, its IPv4 entries) for each interface in gathered facts."""
    for name in facts.get("interfaces") or []:
        iface = facts.get(name.replace("-", "_").replace(".", "_")) or facts.get(name) or {}
        entries = [iface["ipv4"]] if isinstance(iface.get("ipv4"), dict) else []
        entries += list(iface.get("ipv4_secondaries") or [])
        yield name, iface, [e for e in entries if e and e.get("address")]


def _entry_network(entry):
    return ipaddress.ip_interface(u"%s/%s" % (entry["address"], entry.get("netmask", "255.255.255.255"))).network


def node_interface(facts, address):
    """The interface of a host's gathered facts that holds address: {name, mtu, network}.

    facts is ansible_facts of the setup module's network subset (interfaces, <name>).
    """
    try:
        wanted = ipaddress.ip_address(u"%s" % (address,))
    except ValueError:
        raise PodNetworkError("the node address %r is not an IP address (set preflight_node_ip)" % (address,))
    seen = []
    for name, iface, entries in _interfaces(facts):
        for entry in entries:
            seen.append("%s %s" % (name, entry["address"]))
            if ipaddress.ip_address(u"%s" % entry["address"]) == wanted:
                return {"name": name, "mtu": int(iface.get("mtu") or 1500), "network": str(_entry_network(entry))}
    raise PodNetworkError(
        "no interface of the host holds the node address %s (the host has: %s): set preflight_node_ip "
        "to one of the host's addresses" % (address, ", ".join(seen) or "no IPv4 address"))


def pod_range_problems(facts, pod_cidr, service_cidr, own_devices=("cni0", "flannel.1")):
    """Node networks that overlap the Pod or the Service range (messages; empty when none do).

    Loopback is left out, and so are the devices the Pod network itself makes (cni0, flannel.1):
    their networks lie in the Pod range by design.
    """
    ranges = (("Pod range kubernetes_pod_cidr", cluster_net.network(pod_cidr, "kubernetes_pod_cidr")),
              ("Service range kubernetes_service_cidr", cluster_net.network(service_cidr, "kubernetes_service_cidr")))
    problems = []
    for name, iface, entries in _interfaces(facts):
        if name in own_devices or name == "lo" or iface.get("type") == "loopback":
            continue
        for entry in entries:
            net = _entry_network(entry)
            for what, cidr in ranges:
                if net.version == cidr.version and net.overlaps(cidr):
                    problems.append(
                        "the network %s of interface %s overlaps the %s %s: choose a range that no node "
                        "network uses" % (net, name, what, cidr))
    return problems


def pod_mtu(interface_mtu, cni, backend="vxlan"):
    """The MTU of a Pod's interface on a node whose interface to the other nodes has interface_mtu."""
    cni = _cni(cni)
    overhead = FLANNEL_BACKEND_OVERHEAD[_backend(backend)] if cni == "flannel" else 0
    try:
        mtu = int(interface_mtu) - overhead
    except (TypeError, ValueError):
        raise PodNetworkError("the node interface's MTU %r is not a number" % (interface_mtu,))
    if mtu < MIN_POD_MTU:
        raise PodNetworkError(
            "the node interface's MTU %s leaves %d bytes for Pods under %s (%s), below %d: raise the "
            "interface's MTU or choose kubernetes_flannel_backend: host-gw" % (interface_mtu, mtu, cni, backend, MIN_POD_MTU))
    return mtu


def cni_conf_file(cni):
    """The file name of the CNI configuration the collection writes for cni (None for none)."""
    return CNI_CONF_FILES.get(_cni(cni))


def _cnis_in_use(conf_files):
    """The collection's CNIs whose files are among a node's CNI directory's files, sorted."""
    names = set(f.rsplit("/", 1)[-1] for f in conf_files or [])
    return [cni for cni, name in sorted(CNI_CONF_FILES.items()) if name in names]


def cni_in_use(conf_files):
    """Which of the collection's CNIs the files of a node's CNI directory show (None: none of them)."""
    return "+".join(_cnis_in_use(conf_files)) or None


def cni_switch_refusal(conf_files, wanted, node="the node"):
    """'' when the node may get the CNI wanted; else the refusal with the steps by hand.

    A running node keeps its CNI: Pods made under one keep addresses, routes and rules the
    other does not know, so a switch is a maintenance window, not a playbook run.
    """
    wanted = _cni(wanted)
    current = _cnis_in_use(conf_files)
    if current in ([], [wanted]):
        return ""
    undo = "; ".join(_UNDO_STEPS[c] for c in current)
    return (
        "%s runs the Pod network %s and the inventory asks for kubernetes_cni: %s; switching a running "
        "cluster's CNI is refused (Pods keep the old network's addresses and routes). To switch by hand, "
        "in a maintenance window: drain every node (kubectl drain NODE --ignore-daemonsets "
        "--delete-emptydir-data), then on every node %s; ip link delete cni0; reboot it or restart "
        "containerd and kubelet; then run site.yml with kubernetes_cni: %s and uncordon the nodes. "
        "Or set kubernetes_cni: %s to keep the running network."
        % (node, "+".join(current), wanted, undo, wanted, "+".join(current)))


def vxlan_port_problems(links, listeners, port, own_device="flannel.1"):
    """Whether something other than flannel's own device holds the VXLAN UDP port of a node.

    links: `ip -details -json link show type vxlan` (a list of devices); listeners: the lines of
    `ss -Hulnp 'sport = :PORT'`. The kernel's VXLAN socket shows without a process; a program's
    shows users:((...)).
    """
    port = int(port)
    problems = []
    for link in links or []:
        info = (link.get("linkinfo") or {}).get("info_data") or {}
        if link.get("ifname") != own_device and int(info.get("port", info.get("dstport", -1)) or -1) == port:
            problems.append("the VXLAN device %s uses UDP port %d" % (link.get("ifname"), port))
    for line in listeners or []:
        if "users:" in line:
            problems.append("a program listens on UDP port %d: %s" % (port, line.split("users:", 1)[1].strip()))
    return ["%s, which flannel's VXLAN needs: stop it or choose another kubernetes_flannel_vxlan_port" % p
            for p in problems]


def flannel_net_conf(pod_cidr, backend="vxlan", vxlan_port=8472, vni=1):
    """flannel's net-conf.json (the kube-flannel-cfg ConfigMap) as a JSON string."""
    backend = _backend(backend)
    pod_cidr = str(cluster_net.network(pod_cidr, "kubernetes_pod_cidr"))
    conf = {"Network": pod_cidr, "EnableNFTables": False, "Backend": {"Type": backend}}
    if backend == "vxlan":
        port = int(vxlan_port)
        if not 1 <= port <= 65535:
            raise PodNetworkError("kubernetes_flannel_vxlan_port %r is not a UDP port (1-65535; flannel's default is 8472)" % (vxlan_port,))
        conf["Backend"].update({"Port": port, "VNI": int(vni)})
    return json.dumps(conf, sort_keys=True)
