"""The control plane's flags and kubeconfigs (plugin_utils/cluster/components.py), which the
kubernetes role and the test bed both use; the test bed's integration tests run them against
the real programs, the lab's e2e tests through the role."""

import base64

import pytest

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import components as kc
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

INPUTS = {
    "node_name": "cp1", "node_ip": "10.0.0.5", "pki_dir": "/etc/kubernetes/pki",
    "cluster_name": "xc", "cluster_domain": "cluster.local", "etcd_data_dir": "/var/lib/etcd",
    "etcd_initial_cluster": "cp1=https://10.0.0.5:2380", "etcd_servers": "https://10.0.0.5:2379",
    "apiserver_port": 6443, "service_cidr": "10.96.0.0/12", "pod_cidr": "10.244.0.0/16",
    "node_cidr_mask_size": 24, "controller_manager_kubeconfig": "/etc/kubernetes/controller-manager.conf",
    "scheduler_kubeconfig": "/etc/kubernetes/scheduler.conf",
}


def test_etcd_listens_on_loopback_and_the_node_and_speaks_to_peers_on_the_node():
    flags = kc.component_flags(INPUTS, "etcd")
    assert flags["listen-client-urls"] == "https://127.0.0.1:2379,https://10.0.0.5:2379"
    assert flags["listen-peer-urls"] == flags["initial-advertise-peer-urls"] == "https://10.0.0.5:2380"
    assert flags["initial-cluster-token"] == "xc-etcd"
    assert flags["peer-cert-file"] == "/etc/kubernetes/pki/etcd-peer.crt"


def test_an_etcd_on_loopback_listens_once_per_port():
    flags = kc.component_flags(dict(INPUTS, node_ip="127.0.0.1", etcd_client_port=12379), "etcd")
    assert flags["listen-client-urls"] == "https://127.0.0.1:12379"


def test_the_api_server_flags_are_strings_of_the_inputs():
    flags = kc.component_flags(INPUTS, "kube-apiserver")
    assert flags["secure-port"] == "6443"
    assert flags["service-account-issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert flags["authorization-mode"] == "Node,RBAC"
    assert all(isinstance(v, str) for v in flags.values())


def test_the_api_server_drains_and_stops_at_once_instead_of_waiting_out_its_shutdown_timeout():
    """With shutdown-send-retry-after the server's stop ends 2 s after its requests drain; the
    lab measured a stop of 60.7 s without it (etcd_restore.yml, certs_renew.yml)."""
    assert kc.component_flags(INPUTS, "kube-apiserver")["shutdown-send-retry-after"] == "true"


def test_the_controller_manager_allocates_node_cidrs_from_the_pod_cidr():
    flags = kc.component_flags(INPUTS, "kube-controller-manager")
    assert (flags["allocate-node-cidrs"], flags["cluster-cidr"], flags["node-cidr-mask-size"]) == (
        "true", "10.244.0.0/16", "24")
    assert flags["kubeconfig"] == flags["authentication-kubeconfig"] == INPUTS["controller_manager_kubeconfig"]


def test_overrides_set_and_drop_flags():
    flags = kc.component_flags(INPUTS, "kube-apiserver", {
        "bind-address": "127.0.0.1", "enable-aggregator-routing": None, "allow-privileged": False})
    assert flags["bind-address"] == "127.0.0.1"
    assert "enable-aggregator-routing" not in flags
    assert flags["allow-privileged"] == "false"
    assert kc.command_line({"b": "2", "a": "1"}) == ["--a=1", "--b=2"]


def test_missing_inputs_and_unknown_components_are_named():
    with pytest.raises(XinchuangError, match="kube-apiserver need etcd_servers, service_cidr"):
        kc.component_flags(dict(INPUTS, etcd_servers="", service_cidr=None), "kube-apiserver")
    with pytest.raises(XinchuangError, match="unknown control plane component 'kubelet'"):
        kc.component_flags(INPUTS, "kubelet")


def test_a_kubeconfig_names_its_files_on_the_host():
    config = kc.kubeconfig("https://127.0.0.1:6443", "xc", "scheduler", "/p/ca.crt", "/p/s.crt", "/p/s.key")
    assert config["clusters"] == [{"name": "xc", "cluster": {
        "server": "https://127.0.0.1:6443", "certificate-authority": "/p/ca.crt"}}]
    assert config["users"] == [{"name": "scheduler", "user": {"client-certificate": "/p/s.crt",
                                                              "client-key": "/p/s.key"}}]
    assert config["current-context"] == "scheduler@xc"
    assert config["contexts"][0]["context"] == {"cluster": "xc", "user": "scheduler"}


def test_an_embedded_kubeconfig_takes_pem_or_its_base64_alike():
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    b64 = base64.b64encode(pem.encode()).decode()
    one = kc.kubeconfig("https://a:6443", "xc", "admin", pem, pem, pem, namespace="team-a", embed=True)
    two = kc.kubeconfig("https://a:6443", "xc", "admin", b64, b64 + "\n", b64, namespace="team-a", embed=True)
    assert one == two
    assert one["clusters"][0]["cluster"]["certificate-authority-data"] == b64
    assert one["contexts"][0]["context"]["namespace"] == "team-a"
    with pytest.raises(XinchuangError, match="needs its server"):
        kc.kubeconfig("", "xc", "admin", pem, pem, pem)
