"""The CMDB export's rules: rows read from CSV and YAML, every bad row named by its line."""

import pytest

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.inventory import cmdb

HEADER = "host,address,arch,os,roles\n"


def test_rows_become_hosts_with_families_and_groups():
    hosts = cmdb.check_rows(cmdb.read_csv(
        HEADER + "# a comment\n"
        "cp-01,10.0.0.11,Hygon,Kylin V10,master etcd\n"
        "\n"
        "node-1,10.0.0.31,aarch64,openEuler 22.03,\"worker, nfs\"\n"
        "la-1,10.0.0.41,loongarch64,UOS 20,node\n"
        "sw-1,10.0.0.51,sw_64,Kylin V10,node\n"
        "mips-1,10.0.0.61,mips64el,Kylin V10,\n"))
    assert hosts["cp-01"]["groups"] == ["kube_control_plane", "etcd"]
    assert hosts["node-1"]["groups"] == ["kube_node", "nfs_server"]
    assert [hosts[h]["family"] for h in ("cp-01", "node-1", "la-1", "sw-1", "mips-1")] == [
        "c86", "arm", "loongarch", "sw64", "mips"]
    assert hosts["la-1"]["goarch"] == "loong64" and hosts["mips-1"]["groups"] == []
    assert hosts["node-1"]["line"] == "line 5"


def test_every_bad_row_is_named_by_its_line_at_once():
    with pytest.raises(cmdb.CmdbError) as err:
        cmdb.check_rows(cmdb.read_csv(
            HEADER +
            "a,10.0.0.1,c86,Kylin,node\n"
            "b,10.0.0.2,sparc,Kylin,node\n"
            "a,10.0.0.3,arm,Kylin,node\n"
            "c,,arm,Kylin,node\n"
            "d,10.0.0.5,arm,Kylin,dba\n"
            "e,10.0.0.6,arm\n"), "site.csv")
    text = str(err.value)
    assert text.startswith("5 bad row(s)")
    for part in ("site.csv line 3: host b: unknown architecture 'sparc'",
                 "site.csv line 4: host a is already on line 2",
                 "site.csv line 5: host c has no address",
                 "site.csv line 6: host d: unknown role 'dba'",
                 "site.csv line 7: 3 fields, want 5"):
        assert part in text, text


def test_a_wrong_header_says_which_header_is_wanted():
    with pytest.raises(cmdb.CmdbError, match="line 1: the header is name,ip; it must be host,address,arch,os,roles"):
        cmdb.read_csv("name,ip\nx,1\n")
    with pytest.raises(cmdb.CmdbError, match="no header line"):
        cmdb.read_csv("\n# nothing\n")


def test_the_yaml_form_takes_roles_as_a_list_or_a_string():
    hosts = cmdb.check_rows(cmdb.read_yaml_data([
        {"host": "cp-01", "address": "10.0.0.11", "arch": "x86_64", "os": "Kylin", "roles": ["master", "etcd"]},
        {"host": "n-1", "address": "10.0.0.12", "arch": "feiteng", "os": "Kylin", "roles": "node"},
    ]))
    assert hosts["cp-01"]["groups"] == ["kube_control_plane", "etcd"] and hosts["n-1"]["family"] == "arm"
    with pytest.raises(cmdb.CmdbError, match="item 2: not a mapping"):
        cmdb.check_rows(cmdb.read_yaml_data([{"host": "x", "address": "1", "arch": "arm"}, "y"]))
    with pytest.raises(cmdb.CmdbError, match="must be a list"):
        cmdb.read_yaml_data({"hosts": []})
