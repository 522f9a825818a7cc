# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade rules (plugins/plugin_utils/cluster/upgrade.py): the versions binaries print, Kubernetes'
and etcd's skew policy, and the plan in the cluster's order. integration/upgrade reads the
bundle's real binaries with the same parser."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import upgrade
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster.upgrade import UpgradeError, upgrade_plan

TARGET = {"kubernetes": "v1.37.2", "etcd": "v3.6.16"}
CP = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


def host(name, parts, k8s="v1.36.3", etcd="v3.6.16", **overrides):
    versions = {}
    for part in parts:
        for comp in upgrade.PART_COMPONENTS[part]:
            versions[comp] = etcd if part == "etcd" else k8s
    versions.update(dict((k.replace("_", "-"), v) for k, v in overrides.items()))
    return {"name": name, "parts": list(parts), "versions": versions}


# --- what binaries print ------------------------------------------------------------------------

@pytest.mark.parametrize("component, output, version", [
    ("kube-apiserver", "Kubernetes v1.37.2\n", "v1.37.2"),
    ("kubelet", "Kubernetes v1.36.3", "v1.36.3"),
    ("kubectl", "Client Version: v1.37.2\nKustomize Version: v5.7.1\n", "v1.37.2"),
    ("etcd", "etcd Version: 3.6.16\nGit SHA: GitNotFound\nGo Version: go1.26.8\nGo OS/Arch: linux/arm64\n", "v3.6.16"),
])
def test_installed_version_reads_what_each_binary_prints(component, output, version):
    assert upgrade.installed_version(component, output) == version


@pytest.mark.parametrize("component, output, words", [
    ("kubelet", "Kubernetes v1.37.2-rc.0", ["kubelet's version", "v1.37.2-rc.0"]),
    ("etcd", "#!/bin/sh\nexec etcd.real \"$@\"", ["etcd printed '#!/bin/sh'", "wrapper"]),
    ("kubelet", "", ["kubelet printed ''"]),
    ("kubeadm", "Kubernetes v1.37.2", ["'kubeadm'", "kube-apiserver"]),
])
def test_installed_version_names_what_it_cannot_read(component, output, words):
    with pytest.raises(UpgradeError) as err:
        upgrade.installed_version(component, output)
    for word in words:
        assert word in str(err.value)


# --- the plan -----------------------------------------------------------------------------------

def test_the_plan_goes_etcd_then_each_control_plane_then_nodes_in_batches():
    hosts = [host("cp1", ["etcd", "control_plane", "node"], etcd="v3.5.21"),
             host("cp2", ["etcd", "control_plane", "node"], etcd="v3.5.21"),
             host("n1", ["node"]), host("n2", ["node"]), host("n3", ["node"])]
    plan = upgrade_plan(TARGET, hosts, 2)
    assert plan["problems"] == []
    assert plan["phases"] == {"etcd": ["cp1", "cp2"], "control_plane": ["cp1", "cp2"],
                              "node": ["cp1", "cp2", "n1", "n2", "n3"]}
    assert plan["node_batches"] == [["cp1", "cp2"], ["n1", "n2"], ["n3"]]
    assert plan["current"] == {"kubernetes": "v1.36.3", "etcd": "v3.5.21"}
    assert {"host": "cp2", "part": "control_plane", "component": "kube-scheduler",
            "from": "v1.36.3", "to": "v1.37.2"} in plan["changes"]
    assert len(plan["changes"]) == 2 * 1 + 2 * 4 + 5 * 2
    assert plan["summary"] == [
        "cluster: API servers at v1.36.3, etcd at v3.5.21; target Kubernetes v1.37.2, etcd v3.6.16",
        "etcd members, one by one: cp1 (etcd v3.5.21 -> v3.6.16); cp2 (etcd v3.5.21 -> v3.6.16)",
        "control planes, one by one: cp1 (%s v1.36.3 -> v1.37.2); cp2 (%s v1.36.3 -> v1.37.2)" % (
            ", ".join(CP), ", ".join(CP)),
        "nodes, 2 at a time (drain, upgrade, uncordon): " + "; ".join(
            "%s (kubelet, kube-proxy v1.36.3 -> v1.37.2)" % n for n in ("cp1", "cp2", "n1", "n2", "n3")),
    ]


def test_a_cluster_at_the_target_has_nothing_to_do():
    hosts = [host("cp1", ["etcd", "control_plane", "node"], k8s="v1.37.2"), host("n1", ["node"], k8s="v1.37.2")]
    plan = upgrade_plan(TARGET, hosts)
    assert plan["problems"] == [] and plan["changes"] == [] and plan["node_batches"] == []
    assert plan["phases"] == {"etcd": [], "control_plane": [], "node": []}
    assert plan["summary"][1:] == ["etcd members, one by one: nothing to do",
                                   "control planes, one by one: nothing to do",
                                   "nodes, 1 at a time (drain, upgrade, uncordon): nothing to do"]


def test_a_run_that_stopped_half_way_is_resumed_with_what_is_left():
    # cp1 and n1 were upgraded; cp2's API server and n2 were not.
    hosts = [host("cp1", ["etcd", "control_plane", "node"], k8s="v1.37.2"),
             host("cp2", ["etcd", "control_plane", "node"]), host("n1", ["node"], k8s="v1.37.2"),
             host("n2", ["node"])]
    plan = upgrade_plan(TARGET, hosts)
    assert plan["problems"] == []
    assert plan["phases"] == {"etcd": [], "control_plane": ["cp2"], "node": ["cp2", "n2"]}
    assert plan["current"]["kubernetes"] == "v1.36.3"


def test_a_patch_release_is_an_upgrade_and_kubectl_of_another_patch_moves_alone():
    hosts = [host("cp1", ["control_plane"], k8s="v1.37.2", kubectl="v1.37.0")]
    plan = upgrade_plan(TARGET, hosts)
    assert plan["phases"]["control_plane"] == ["cp1"]
    assert plan["changes"] == [{"host": "cp1", "part": "control_plane", "component": "kubectl",
                                "from": "v1.37.0", "to": "v1.37.2"}]


def test_a_node_without_kube_proxy_upgrades_its_kubelet():
    node = host("n1", ["node"])
    del node["versions"]["kube-proxy"]
    plan = upgrade_plan(TARGET, [host("cp1", ["control_plane"]), node])
    assert plan["problems"] == []
    assert [c["component"] for c in plan["changes"] if c["host"] == "n1"] == ["kubelet"]


def test_the_summary_names_each_version_when_a_part_s_binaries_differ():
    plan = upgrade_plan(TARGET, [host("cp1", ["control_plane"], kubectl="v1.35.4")])
    assert plan["summary"][2] == (
        "control planes, one by one: cp1 (kube-apiserver v1.36.3 -> v1.37.2, kube-controller-manager v1.36.3 -> "
        "v1.37.2, kube-scheduler v1.36.3 -> v1.37.2, kubectl v1.35.4 -> v1.37.2)")


# --- refusals -----------------------------------------------------------------------------------

def problems_of(target, hosts):
    plan = upgrade_plan(target, hosts)
    assert all(line.startswith("refused: ") for line in plan["summary"][4:])
    assert len(plan["summary"]) == 4 + len(plan["problems"])
    return plan["problems"]


def test_a_downgrade_is_refused_naming_the_host_and_the_way_back():
    problems = problems_of({"kubernetes": "v1.36.3", "etcd": "v3.6.16"},
                           [host("cp1", ["control_plane"], k8s="v1.37.2"), host("n1", ["node"], k8s="v1.36.3")])
    assert len(problems) == 4  # each control plane binary of cp1
    assert problems[0] == (
        "cp1: kube-apiserver runs v1.37.2, newer than v1.36.3: neither Kubernetes nor etcd supports a downgrade; "
        "set kubernetes_version to v1.37.2 or newer (to go back, restore an etcd snapshot taken before the "
        "upgrade with etcd_restore.yml)")


def test_a_patch_downgrade_and_an_etcd_downgrade_are_refused():
    problems = problems_of({"kubernetes": "v1.37.1", "etcd": "v3.6.15"},
                           [host("n1", ["node"], k8s="v1.37.2"), host("e1", ["etcd"], etcd="v3.6.16")])
    assert [p.split(":")[0] + ":" + p.split(":")[1].split(",")[0] for p in problems] == [
        "n1: kubelet runs v1.37.2", "n1: kube-proxy runs v1.37.2", "e1: etcd runs v3.6.16"]


def test_skipping_a_minor_is_refused_naming_the_next_step():
    problems = problems_of({"kubernetes": "v1.37.2", "etcd": "v3.6.16"},
                           [host("cp1", ["control_plane"], k8s="v1.37.2"), host("cp2", ["control_plane"], k8s="v1.35.4")])
    assert problems == [
        "cp2: kube-apiserver runs v1.35.4, 2 minors behind the target v1.37.2: upgrade one minor at a time, to the "
        "newest v1.36 patch first (its bundle, then this one)"]


def test_etcd_skipping_a_minor_or_changing_major_is_refused():
    assert problems_of(TARGET, [host("e1", ["etcd"], etcd="v3.4.30")]) == [
        "e1: etcd runs v3.4.30, 2 minors behind the target v3.6.16: upgrade one minor at a time, to the newest "
        "v3.5 patch first (its bundle, then this one)"]
    assert problems_of({"kubernetes": "v1.37.2", "etcd": "v4.0.0"}, [host("e1", ["etcd"])]) == [
        "e1: etcd v3.6.16 and the target v4.0.0 differ in major version: upgrade.yml moves one minor at a time "
        "within a major"]


def test_a_kubelet_beyond_three_minors_of_the_new_api_servers_is_refused():
    hosts = [host("cp1", ["control_plane"]), host("n1", ["node"], k8s="v1.33.9"), host("n2", ["node"], k8s="v1.34.0")]
    assert problems_of(TARGET, hosts) == [
        "n1: kubelet v1.33.9 would be 4 minors behind the API servers at v1.37.2, and Kubernetes allows 3: bring "
        "the node to v1.34 or newer first (upgrade.yml with that bundle)"]


@pytest.mark.parametrize("read", [None, ""])
def test_a_host_missing_a_binary_or_whose_binary_printed_no_version_is_refused(read):
    node = host("n1", ["node"])
    if read is None:
        del node["versions"]["kubelet"]
    else:
        node["versions"]["kubelet"] = read
    assert problems_of(TARGET, [node]) == [
        "n1: kubelet is not installed or does not run here (it printed no version): upgrade.yml upgrades what "
        "site.yml installed; run site.yml for a new host, or for one whose binaries are broken, first"]


def test_installed_versions_reads_the_role_s_lines_and_marks_what_printed_none():
    lines = ["etcd;etcd Version: 3.6.16", "kubectl;Client Version: v1.36.3", "kubelet;Kubernetes v1.36.3",
             "kube-proxy;/usr/local/bin/kube-proxy: cannot execute binary file: Exec format error", "kube-scheduler;"]
    assert upgrade.installed_versions(lines) == {"etcd": "v3.6.16", "kubectl": "v1.36.3", "kubelet": "v1.36.3",
                                                 "kube-proxy": "", "kube-scheduler": ""}


@pytest.mark.parametrize("line, words", [("kubelet Kubernetes v1.36.3", ["'kubelet Kubernetes v1.36.3'", "<binary>;"]),
                                         ("kubeadm;Kubernetes v1.36.3", ["'kubeadm'"])])
def test_installed_versions_refuses_a_line_it_cannot_place(line, words):
    with pytest.raises(UpgradeError) as err:
        upgrade.installed_versions([line])
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("target, hosts, node_batch, words", [
    ({"kubernetes": "1.37", "etcd": "v3.6.16"}, [], 1, ["kubernetes_version is '1.37'", "v1.37.2"]),
    ({"kubernetes": "v1.37.2"}, [], 1, ["the bundle's etcd version is None"]),
    (TARGET, [], 0, ["upgrade_node_batch is 0", "at least 1"]),
    (TARGET, [], "two", ["upgrade_node_batch is 'two'"]),
    (TARGET, [], True, ["upgrade_node_batch is True"]),
    (TARGET, [{"name": "h", "parts": ["worker"], "versions": {}}], 1, ["h: part 'worker'", "control_plane"]),
    (TARGET, [host("h", ["node"], kubelet="latest")], 1, ["h's kubelet version is 'latest'"]),
])
def test_bad_input_is_an_error_naming_it(target, hosts, node_batch, words):
    with pytest.raises(UpgradeError) as err:
        upgrade_plan(target, hosts, node_batch)
    for word in words:
        assert word in str(err.value)


def test_the_filters_are_the_rules():
    from ansible_collections.xinchuang.cloud.plugins.filter.upgrade import FilterModule
    filters = FilterModule().filters()
    assert filters["upgrade_installed_versions"](["kubelet;Kubernetes v1.37.2"]) == {"kubelet": "v1.37.2"}
    assert filters["upgrade_plan"](TARGET, [host("n1", ["node"])], 1)["phases"]["node"] == ["n1"]


def test_binaries_not_at_names_the_lines_of_other_releases_and_of_binaries_that_printed_none():
    lines = ["etcd;etcd Version: 3.6.16", "kube-apiserver;Kubernetes v1.37.2", "kubectl;Client Version: v1.36.3",
             "kubelet;/usr/local/bin/kubelet: cannot execute binary file: Exec format error", "kube-proxy;"]
    assert upgrade.binaries_not_at(lines, "v1.37.2", "3.6.16") == lines[2:]
    assert upgrade.binaries_not_at(lines[:2], "v1.37.2", "v3.6.16") == []
    # etcd is held to etcd's release, the others to Kubernetes'.
    assert upgrade.binaries_not_at(["etcd;etcd Version: 3.6.16"], "v3.6.16", "3.6.15") == ["etcd;etcd Version: 3.6.16"]
    with pytest.raises(UpgradeError) as err:
        upgrade.binaries_not_at(lines, "latest", "3.6.16")
    assert "kubernetes_version is 'latest'" in str(err.value)


def test_a_run_that_leaves_out_a_registered_node_or_a_core_host_is_refused_and_unjoined_hosts_may_stay_out():
    hosts = [host("cp1", ["etcd", "control_plane", "node"]), dict(host("n1", ["node"]), node_name="node-1")]
    plan = upgrade_plan(TARGET, hosts, 1, registered=["cp1", "node-1"], core=["cp1"])
    assert plan["problems"] == []
    plan = upgrade_plan(TARGET, hosts[:1], 1, registered=["cp1", "node-1", "node-2"], core=["cp1", "cp2"])
    assert plan["problems"] == [
        "cp2: an etcd or control plane host of the inventory is not in this run (--limit, or unreachable): the "
        "upgrade plans the whole cluster at once; run it on every host of the cluster",
        "node node-1 is in the cluster but not in this run (--limit, unreachable, or not in the inventory): its "
        "kubelet must stay within the skew policy too; run the upgrade on every node of the cluster",
        "node node-2 is in the cluster but not in this run (--limit, unreachable, or not in the inventory): its "
        "kubelet must stay within the skew policy too; run the upgrade on every node of the cluster"]


# --- site.yml does not upgrade -------------------------------------------------------------------

def test_site_yml_runs_on_no_cluster_and_on_one_at_its_version():
    assert upgrade.running_version_problems("v1.37.2", []) == []
    assert upgrade.running_version_problems("v1.37.2", ["apiserver v1.37.2", "node a v1.37.2", "node b v1.37.2"]) == []


def test_site_yml_on_an_older_cluster_names_upgrade_yml():
    problems = upgrade.running_version_problems("v1.37.2", ["apiserver v1.36.3", "node a v1.36.3"])
    assert problems == [
        "the cluster runs Kubernetes v1.36.3 (its API server) and kubernetes_version is v1.37.2: site.yml does not "
        "upgrade a running cluster (it would change every host at once, nothing drained); run playbooks/upgrade.yml "
        "-e kubernetes_version=v1.37.2, then give that version in the inventory"]


def test_site_yml_on_a_newer_cluster_names_the_inventory_and_on_a_half_upgrade_names_upgrade_yml():
    assert "give kubernetes_version: v1.37.2 in the inventory" in upgrade.running_version_problems(
        "v1.36.3", ["apiserver v1.37.2", "node a v1.37.2"])[0]
    assert upgrade.running_version_problems("v1.37.2", ["apiserver v1.37.2", "node a v1.37.2", "node b v1.36.3"]) == [
        "the API server runs v1.37.2 but the kubelets of b (v1.36.3) do not: an upgrade stopped half-way; finish it "
        "with playbooks/upgrade.yml -e kubernetes_version=v1.37.2"]


@pytest.mark.parametrize("line", ["apiserver", "kubelet a v1.37.2", "node a"])
def test_site_yml_s_reading_refuses_a_line_it_cannot_place(line):
    with pytest.raises(UpgradeError) as err:
        upgrade.running_version_problems("v1.37.2", [line])
    assert repr(line) in str(err.value)
