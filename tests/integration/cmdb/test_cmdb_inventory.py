"""The inventory plugin xinchuang.cloud.cmdb through the real ansible-inventory: a 200-host
export of all five families, compared with the grouping the generator itself knows (written
here without the architecture model), keyed groups and compose, the cache, the YAML form, and
bad rows refused by line."""

import json
import os
import random
import subprocess
import sys

from tests.integration.ansible_run import ansible_env

BIN = os.path.dirname(sys.executable)
# Each family, the names a CMDB may write for it: written out here, independently of arch.py.
FAMILY_NAMES = {
    "c86": ["c86", "x86_64", "amd64", "hygon"],
    "arm": ["arm", "aarch64", "arm64", "kunpeng", "phytium", "feiteng"],
    "loongarch": ["loongarch", "loongarch64", "loong64"],
    "sw64": ["sw64", "sw_64", "sunway"],
    "mips": ["mips", "mips64el", "mips64le"],
}
ROLES = {  # a CMDB role name -> the group the playbooks use
    "master": "kube_control_plane", "etcd": "etcd", "worker": "kube_node", "node": "kube_node",
    "nfs": "nfs_server", "registry": "registry", "kes": "kingbase",
}
OSES = ["Kylin V10 SP3", "UOS Server 20", "openEuler 22.03 LTS", "Anolis 8"]


def sample(count=200, seed=7):
    """(CSV text, {group: set of hosts}, {host: (address, family, os)})."""
    rng = random.Random(seed)
    groups, hosts, lines = {}, {}, ["host,address,arch,os,roles"]
    for i in range(count):
        family = sorted(FAMILY_NAMES)[i % 5]
        name = "h%03d-%s" % (i, family)
        address = "10.%d.%d.%d" % (i // 250, i % 250, 10 + i % 7)
        os_name = rng.choice(OSES)
        roles = rng.sample(sorted(ROLES), rng.randint(0, 3)) if i >= 3 else ["master", "etcd"]
        lines.append('%s,%s,%s,%s,"%s"' % (name, address, rng.choice(FAMILY_NAMES[family]), os_name,
                                           " ".join(roles)))
        hosts[name] = (address, family, os_name)
        for group in {ROLES[r] for r in roles} | {"arch_" + family}:
            groups.setdefault(group, set()).add(name)
    return "\n".join(lines) + "\n", groups, hosts


def inventory(folder, export, name="site.csv", extra=None, cache_dir=None):
    (folder / name).write_text(export)
    config = {"plugin": "xinchuang.cloud.cmdb", "path": name}
    config.update(extra or {})
    if cache_dir:
        config.update({"cache": True, "cache_plugin": "ansible.builtin.jsonfile",
                       "cache_connection": str(cache_dir)})
    (folder / "cmdb.yml").write_text(json.dumps(config))
    return str(folder / "cmdb.yml")


def ansible_inventory(path, *args):
    env = ansible_env()
    env.pop("ANSIBLE_STDOUT_CALLBACK", None)
    env["ANSIBLE_INVENTORY_ENABLED"] = "xinchuang.cloud.cmdb"
    # What the plugin's notes tell a site to set: a bad export stops the run.
    env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "true"
    return subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", path] + list(args),
                          capture_output=True, text=True, env=env, timeout=300, check=False)


def listed(path):
    proc = ansible_inventory(path, "--list")
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    groups = {g: set(v.get("hosts", [])) for g, v in data.items() if g not in ("_meta", "all")}

    def plain(value):  # --list marks strings read from a file as unsafe (not templated)
        return value.get("__ansible_unsafe", value) if isinstance(value, dict) else value

    hostvars = {h: {k: plain(v) for k, v in hv.items()} for h, hv in data["_meta"]["hostvars"].items()}
    return {g: h for g, h in groups.items() if h}, hostvars


def test_a_200_host_export_of_five_families_gives_the_playbooks_groups(tmp_path):
    export, want, hosts = sample()
    groups, hostvars = listed(inventory(tmp_path, export))
    assert groups == want
    assert len(hostvars) == 200
    for name, (address, family, os_name) in hosts.items():
        assert (hostvars[name]["ansible_host"], hostvars[name]["xinchuang_cmdb_family"],
                hostvars[name]["xinchuang_cmdb_os"]) == (address, family, os_name)
    graph = ansible_inventory(inventory(tmp_path, export), "--graph", "arch_sw64")
    assert graph.returncode == 0 and graph.stdout.count("|--h") == len(want["arch_sw64"]), graph.stdout


def test_keyed_groups_and_compose_work_as_in_constructed(tmp_path):
    export, want, hosts = sample(20)
    path = inventory(tmp_path, export, extra={
        "keyed_groups": [{"key": "xinchuang_cmdb_os.split(' ')[0] | lower", "prefix": "os"}],
        "compose": {"preflight_node_ip": "ansible_host"},
        "groups": {"loong_or_mips": "xinchuang_cmdb_family in ['loongarch', 'mips']"}})
    groups, hostvars = listed(path)
    kylin = {h for h, (_a, _f, o) in hosts.items() if o.startswith("Kylin")}
    assert groups["os_kylin"] == kylin
    assert groups["loong_or_mips"] == want["arch_loongarch"] | want["arch_mips"]
    assert all(v["preflight_node_ip"] == v["ansible_host"] for v in hostvars.values())


def test_the_cache_is_used_until_the_export_changes(tmp_path):
    export, want, _hosts = sample(10)
    cache = tmp_path / "cache"
    path = inventory(tmp_path, export, cache_dir=cache)
    assert listed(path)[0] == want
    assert len(os.listdir(str(cache))) == 1
    # The same export again comes from the cache; an edited one is read anew.
    assert listed(path)[0] == want
    (tmp_path / "site.csv").write_text(export + "late-1,10.9.9.9,kunpeng,Kylin V10,worker\n")
    groups, _hostvars = listed(path)
    assert "late-1" in groups["kube_node"] and "late-1" in groups["arch_arm"]


def test_the_yaml_form(tmp_path):
    export = json.dumps([{"host": "cp-01", "address": "10.0.0.11", "arch": "hygon", "os": "Kylin V10",
                          "roles": ["master", "etcd", "node"]},
                         {"host": "mips-01", "address": "10.0.0.61", "arch": "mips64el", "os": "Kylin V10",
                          "roles": "node"}])
    groups, _hostvars = listed(inventory(tmp_path, export, name="site.yml"))
    assert groups["kube_node"] == {"cp-01", "mips-01"} and groups["arch_mips"] == {"mips-01"}


def test_bad_rows_are_named_by_line_and_no_host_is_added(tmp_path):
    export = ("host,address,arch,os,roles\n"
              "ok-1,10.0.0.1,c86,Kylin,node\n"
              "bad-1,10.0.0.2,s390x,Kylin,node\n"
              "ok-1,10.0.0.3,arm,Kylin,node\n"
              "bad-2,,arm,Kylin,node\n")
    proc = ansible_inventory(inventory(tmp_path, export), "--list")
    assert proc.returncode != 0
    text = " ".join(proc.stderr.split())
    for part in ("3 bad row(s)", "site.csv line 3: host bad-1: unknown architecture 's390x'",
                 "site.csv line 4: host ok-1 is already on line 2", "site.csv line 5: host bad-2 has no address"):
        assert part in text, proc.stderr
