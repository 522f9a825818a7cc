"""The lab inventory and the lab's topology tables name the same hosts at the same addresses.

hack/lab.sh starts each host of hack/lab/topologies/<name>.hosts at the ADDRESS of its row;
inventories/lab (and inventories/lab-full for the loong64 machine) tell Ansible where each host
is. A host moved in one and not the other would be unreachable, or reached at another host's
address.
"""

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def topology(name):
    rows = {}
    with open(os.path.join(ROOT, "hack", "lab", "topologies", name + ".hosts")) as fh:
        for line in fh:
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                host, arch, profile, address = fields
                rows[host] = {"arch": arch, "profile": profile, "address": address}
    return rows


def inventory_hosts(*names):
    """{host: {group: vars}} of the lab inventories named (hosts.yml of each)."""
    hosts = {}

    def walk(group, node):
        for host, hvars in ((node or {}).get("hosts") or {}).items():
            hosts.setdefault(host, {})[group] = hvars or {}
        for child, sub in ((node or {}).get("children") or {}).items():
            walk(child, sub)

    for name in names:
        with open(os.path.join(ROOT, "inventories", name, "hosts.yml")) as fh:
            walk("all", yaml.safe_load(fh)["all"])
    return hosts


CASES = [("cluster", ["lab"]), ("cluster-full", ["lab", "lab-full"])]


@pytest.mark.parametrize("table,inventories", CASES)
def test_every_machine_is_reached_at_its_topology_address(table, inventories):
    rows, hosts = topology(table), inventory_hosts(*inventories)
    machines = {h: r for h, r in rows.items() if r["profile"] == "machine"}
    assert machines, "the %s topology has no machine" % table
    for host, row in machines.items():
        assert host in hosts, "%s (%s) is not in inventories %s" % (host, table, inventories)
        assert hosts[host]["lab_machines"].get("ansible_host") == row["address"], (host, hosts[host])


@pytest.mark.parametrize("table,inventories", CASES)
def test_every_container_node_names_its_topology_address(table, inventories):
    rows, hosts = topology(table), inventory_hosts(*inventories)
    for host, row in rows.items():
        if row["profile"] != "worker":
            continue
        assert hosts[host]["lab_containers"].get("preflight_node_ip") == row["address"], (host, hosts[host])


@pytest.mark.parametrize("table,inventories", CASES)
def test_every_node_of_the_inventory_is_a_host_of_the_topology(table, inventories):
    rows, hosts = topology(table), inventory_hosts(*inventories)
    nodes = [h for h, groups in hosts.items() if "kube_node" in groups]
    assert nodes and set(nodes) <= set(rows), sorted(set(nodes) - set(rows))


def test_the_registry_address_of_the_inventory_is_the_registry_hosts():
    rows = topology("cluster")
    registry = [r["address"] for r in rows.values() if r["profile"] == "registry"]
    with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "all", "lab.yml")) as fh:
        lab = yaml.safe_load(fh)
    assert [e["ip"] for e in lab["os_prep_hosts_extra"]] == registry
    api = [r["address"] for h, r in rows.items() if h == "xc-lab-amd64"]
    assert lab["kubernetes_admin_kubeconfig_server"] == "https://%s:6443" % api[0]


def test_the_registry_host_is_in_the_registry_group_with_its_address_in_the_certificate():
    rows, hosts = topology("cluster"), inventory_hosts("lab")
    registry = [h for h, r in rows.items() if r["profile"] == "registry"]
    assert registry and all("registry" in hosts.get(h, {}) for h in registry), (registry, hosts)
    with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "registry", "registry.yml")) as fh:
        names = yaml.safe_load(fh)["registry_tls_extra_names"]
    assert all(rows[h]["address"] in names for h in registry), names


def test_the_app_store_reaches_the_registry_at_an_address_its_certificate_names_with_the_bundles_helm():
    """This machine (the controller) is not on the lab's DNS: appstore.yml reaches the registry at
    its topology address, which the certificate must name; helm is the bundle's, whose version
    directory is the kubernetes role's kubernetes_version."""
    rows = topology("cluster")
    (address,) = [r["address"] for r in rows.values() if r["profile"] == "registry"]
    with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "all", "appstore.yml")) as fh:
        appstore = yaml.safe_load(fh)
    with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "registry", "registry.yml")) as fh:
        names = yaml.safe_load(fh)["registry_tls_extra_names"]
    with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "all", "lab.yml")) as fh:
        port = yaml.safe_load(fh)["xinchuang_registry"].rsplit(":", 1)[1]
    assert appstore["appstore_registry_endpoint"] == "%s:%s" % (address, port) and address in names
    # build_image.yml reaches it the same way.
    with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "all", "apps.yml")) as fh:
        assert yaml.safe_load(fh)["app_registry_endpoint"] == appstore["appstore_registry_endpoint"]
    # ci_agents.yml reads its image's index the same way.
    with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "all", "ci_agents.yml")) as fh:
        assert yaml.safe_load(fh)["ci_agents_registry_endpoint"] == appstore["appstore_registry_endpoint"]
    with open(os.path.join(ROOT, "roles", "kubernetes", "defaults", "main.yml")) as fh:
        version = yaml.safe_load(fh)["kubernetes_version"]
    assert appstore["appstore_helm_binary"] == "{{ xinchuang_bundle_dir }}/%s/amd64/bin/helm" % version


SUN_PATH_MAX = 107  # bytes of a Unix socket path (sockaddr_un.sun_path less its NUL)
SSH_TEMP_SUFFIX = 17  # ssh binds the master at "<ControlPath>.<16 random characters>" first


def control_path(repo_root):
    """The ControlPath the lab machines' connection settings give for a checkout at repo_root."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "lab_machines", "connection.yml")) as fh:
        # Inventory files are trusted templates; a string read here must be marked so.
        args = trust_as_template(yaml.safe_load(fh)["ansible_ssh_common_args"])
    inventory_dir = os.path.join(repo_root, "inventories", "lab")
    rendered = Templar(loader=DataLoader(), variables={"inventory_dir": inventory_dir}).template(args)
    (path,) = [a.split("=", 1)[1] for a in rendered.split() if a.startswith("ControlPath=")]
    return path


# This checkout, the directory CI clones into (/check/...), and a deeper one for headroom.
@pytest.mark.parametrize("repo_root", [ROOT, "/check/" + "work/main", "/" + "d" * 58])
def test_the_ssh_control_socket_path_fits_a_unix_socket(repo_root):
    path = control_path(repo_root)
    assert path.startswith(os.path.realpath(repo_root) + "/.lab/ssh/"), path
    longest = max(
        (r["address"] for name in ("cluster", "cluster-full") for r in topology(name).values()),
        key=len,
    )
    socket = path.replace("%h", longest).replace("%p", "22")
    assert "%" not in socket, "a token the test does not expand: %s" % path
    assert len(socket.encode()) + SSH_TEMP_SUFFIX <= SUN_PATH_MAX, (
        "%s (+%d for ssh's temporary name) is longer than a Unix socket path may be"
        % (socket, SSH_TEMP_SUFFIX)
    )
