# -*- coding: utf-8 -*-
"""The Pod network's decisions (plugins/plugin_utils/network/pod_network.py)."""

import json

import pytest

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.network import pod_network as pn

# The network subset of a lab node's gathered facts (trimmed): eth0 on the lab network, the
# bridge and overlay the Pod network made, loopback.
FACTS = {
    "interfaces": ["lo", "eth0", "cni0", "flannel.1", "veth1a2b"],
    "lo": {"type": "loopback", "mtu": 65536, "ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
    "eth0": {"type": "ether", "mtu": 1500, "ipv4": {"address": "172.29.0.10", "netmask": "255.255.255.0"},
             "ipv4_secondaries": [{"address": "192.168.7.2", "netmask": "255.255.255.0"}]},
    "cni0": {"type": "bridge", "mtu": 1450, "ipv4": {"address": "10.244.0.1", "netmask": "255.255.255.0"}},
    "flannel_1": {"type": "ether", "mtu": 1450, "ipv4": {"address": "10.244.0.0", "netmask": "255.255.255.255"}},
    "veth1a2b": {"type": "ether", "mtu": 1450},
}


def test_node_interface_finds_the_interface_holding_the_address_primary_or_secondary():
    assert pn.node_interface(FACTS, "172.29.0.10") == {"name": "eth0", "mtu": 1500, "network": "172.29.0.0/24"}
    assert pn.node_interface(FACTS, "192.168.7.2")["name"] == "eth0"


def test_node_interface_names_the_address_and_what_the_host_has():
    with pytest.raises(pn.PodNetworkError, match=r"172\.29\.0\.99.*eth0 172\.29\.0\.10.*preflight_node_ip"):
        pn.node_interface(FACTS, "172.29.0.99")
    with pytest.raises(pn.PodNetworkError, match="'eth0' is not an IP address"):
        pn.node_interface(FACTS, "eth0")


def test_pod_range_problems_skip_loopback_and_the_pod_networks_own_devices():
    assert pn.pod_range_problems(FACTS, "10.244.0.0/16", "10.96.0.0/12") == []


def test_pod_range_problems_name_the_interface_network_and_range():
    problems = pn.pod_range_problems(FACTS, "172.29.0.0/16", "192.168.0.0/16")
    assert problems == [
        "the network 172.29.0.0/24 of interface eth0 overlaps the Pod range kubernetes_pod_cidr 172.29.0.0/16: "
        "choose a range that no node network uses",
        "the network 192.168.7.0/24 of interface eth0 overlaps the Service range kubernetes_service_cidr "
        "192.168.0.0/16: choose a range that no node network uses",
    ]


@pytest.mark.parametrize("mtu,cni,backend,expected", [
    (1500, "flannel", "vxlan", 1450),
    (9000, "flannel", "vxlan", 8950),
    (1500, "flannel", "host-gw", 1500),
    (1500, "bridge", "vxlan", 1500),
    ("1400", "flannel", "vxlan", 1350),
])
def test_pod_mtu_takes_the_overlays_overhead_from_the_interfaces(mtu, cni, backend, expected):
    assert pn.pod_mtu(mtu, cni, backend) == expected


def test_pod_mtu_refuses_too_little_room_and_bad_values():
    with pytest.raises(pn.PodNetworkError, match="MTU 1300 leaves 1250 bytes.*host-gw"):
        pn.pod_mtu(1300, "flannel", "vxlan")
    with pytest.raises(pn.PodNetworkError, match="kubernetes_cni is 'calico': choose one of bridge, flannel, none"):
        pn.pod_mtu(1500, "calico")
    with pytest.raises(pn.PodNetworkError, match="kubernetes_flannel_backend is 'udp'"):
        pn.pod_mtu(1500, "flannel", "udp")
    with pytest.raises(pn.PodNetworkError, match="MTU 'big' is not a number"):
        pn.pod_mtu("big", "flannel")


def test_each_cni_has_its_own_file_and_the_files_say_which_a_node_has():
    assert pn.cni_conf_file("bridge") != pn.cni_conf_file("flannel")
    assert pn.cni_conf_file("none") is None
    assert pn.cni_in_use(["/etc/cni/net.d/10-xinchuang-flannel.conflist", "/etc/cni/net.d/99-loopback.conf"]) == "flannel"
    assert pn.cni_in_use(["10-xinchuang-bridge.conflist"]) == "bridge"
    assert pn.cni_in_use(["10-calico.conflist"]) is None
    assert pn.cni_in_use([]) is None


def test_a_node_keeps_its_cni_or_gets_the_first_one():
    assert pn.cni_switch_refusal([], "flannel") == ""
    assert pn.cni_switch_refusal(["10-xinchuang-flannel.conflist"], "flannel") == ""
    assert pn.cni_switch_refusal(["10-calico.conflist"], "none") == ""


def test_a_switch_is_refused_with_the_steps_by_hand():
    message = pn.cni_switch_refusal(["10-xinchuang-bridge.conflist"], "flannel", "node-a")
    assert message.startswith("node-a runs the Pod network bridge and the inventory asks for kubernetes_cni: flannel")
    assert "kubectl drain NODE" in message
    assert "systemctl disable --now xinchuang-pod-routes.service; rm /etc/cni/net.d/10-xinchuang-bridge.conflist" in message
    assert "Or set kubernetes_cni: bridge" in message
    message = pn.cni_switch_refusal(["10-xinchuang-flannel.conflist"], "none")
    assert "kubectl delete namespace kube-flannel; ip link delete flannel.1" in message


def test_vxlan_port_problems_ignore_flannels_own_device_and_kernel_sockets():
    links = [{"ifname": "flannel.1", "linkinfo": {"info_kind": "vxlan", "info_data": {"id": 1, "port": 8472}}}]
    kernel_socket = "UNCONN 0 0 0.0.0.0:8472 0.0.0.0:*"
    assert pn.vxlan_port_problems(links, [kernel_socket], 8472) == []


def test_vxlan_port_problems_name_another_device_or_program():
    links = [{"ifname": "vxlan.calico", "linkinfo": {"info_data": {"port": 8472}}},
             {"ifname": "vx-other", "linkinfo": {"info_data": {"port": 4789}}}]
    program = 'UNCONN 0 0 0.0.0.0:8472 0.0.0.0:* users:(("socat",pid=812,fd=5))'
    problems = pn.vxlan_port_problems(links, [program], "8472")
    assert problems == [
        "the VXLAN device vxlan.calico uses UDP port 8472, which flannel's VXLAN needs: stop it or choose "
        "another kubernetes_flannel_vxlan_port",
        'a program listens on UDP port 8472: (("socat",pid=812,fd=5)), which flannel\'s VXLAN needs: stop it '
        "or choose another kubernetes_flannel_vxlan_port",
    ]


def test_flannel_net_conf_per_backend():
    assert json.loads(pn.flannel_net_conf("10.244.0.0/16", "vxlan", 8472)) == {
        "Network": "10.244.0.0/16", "EnableNFTables": False, "Backend": {"Type": "vxlan", "Port": 8472, "VNI": 1}}
    assert json.loads(pn.flannel_net_conf("10.244.0.0/16", "host-gw")) == {
        "Network": "10.244.0.0/16", "EnableNFTables": False, "Backend": {"Type": "host-gw"}}


def test_flannel_net_conf_refuses_bad_values():
    with pytest.raises(Exception, match="10.244.0.1/16"):
        pn.flannel_net_conf("10.244.0.1/16")
    with pytest.raises(pn.PodNetworkError, match="kubernetes_flannel_vxlan_port 70000"):
        pn.flannel_net_conf("10.244.0.0/16", "vxlan", 70000)
