"""Cluster DNS logic: Corefile rendering, resolv.conf classification, the resolver plan."""

import pytest
from hypothesis import given, strategies as st

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import corefile as cf
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

RESOLVED_STUB = """# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).
nameserver 127.0.0.53
options edns0 trust-ad
search corp.example
"""
RESOLVED_REAL = "nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch corp.example\n"
DNSMASQ = "nameserver 127.0.0.1\n"


def plugin_lines(text):
    return [line.strip() for line in text.splitlines()]


# --- resolv.conf --------------------------------------------------------------------------

@pytest.mark.parametrize("text", [RESOLVED_STUB, DNSMASQ, "nameserver ::1\n",
                                  "nameserver 0.0.0.0\n", "", "# nothing\nsearch a\n",
                                  "nameserver 127.1.2.3\nnameserver ::1\n"])
def test_loopback_only_resolv_confs_are_flagged(text):
    assert cf.classify_resolv_conf(text)["loopback_only"] is True


@pytest.mark.parametrize("text", [RESOLVED_REAL, "nameserver 127.0.0.53\nnameserver 10.0.0.2\n"])
def test_a_real_nameserver_makes_resolv_conf_usable(text):
    info = cf.classify_resolv_conf(text)
    assert info["loopback_only"] is False
    assert info["upstream"]


def test_resolv_conf_parse_keeps_last_search_ignores_comments_and_bad_servers():
    info = cf.parse_resolv_conf(
        "domain a.example\nsearch b.example c.example ; trailing\n"
        "nameserver dns.example\nnameserver 10.0.0.2 # primary\noptions ndots:5\n")
    assert info["search"] == ["b.example", "c.example"]
    assert info["nameservers"] == ["10.0.0.2"]
    assert info["invalid"] == ["dns.example"]
    assert info["options"] == ["ndots:5"]


def test_systemd_resolved_stub_names_the_loopback_server():
    info = cf.classify_resolv_conf(RESOLVED_STUB)
    assert info["loopback"] == ["127.0.0.53"]
    assert info["search"] == ["corp.example"]


@given(st.ip_addresses())
def test_is_loopback_agrees_with_ipaddress(ip):
    assert cf.is_loopback(str(ip)) == (ip.is_loopback or ip.is_unspecified)


# --- upstreams ----------------------------------------------------------------------------

@pytest.mark.parametrize("value,text", [
    ("10.0.0.2", "10.0.0.2"),
    ("10.0.0.2:53", "10.0.0.2"),
    ("10.0.0.2:5353", "10.0.0.2:5353"),
    ("dns://10.0.0.2", "10.0.0.2"),
    ("2001:db8::1", "[2001:db8::1]"),
    ("[2001:db8::1]:5353", "[2001:db8::1]:5353"),
    ("tls://9.9.9.9", "tls://9.9.9.9"),
    ("tls://9.9.9.9:8853", "tls://9.9.9.9:8853"),
])
def test_upstreams_are_normalised_for_the_forward_plugin(value, text):
    assert cf.parse_upstream(value)["text"] == text


@pytest.mark.parametrize("value", ["dns.example", "10.0.0.2:0", "10.0.0.2:x", "https://1.1.1.1",
                                   "", "[2001:db8::1", "300.1.1.1"])
def test_bad_upstreams_are_refused_naming_the_value(value):
    with pytest.raises(XinchuangError) as err:
        cf.parse_upstream(value)
    assert repr(value) in str(err.value) or "empty" in str(err.value)


def test_duplicate_upstreams_are_dropped_in_order():
    assert cf.normalize_upstreams(["10.0.0.3", "10.0.0.2:53", "10.0.0.3"]) == ["10.0.0.3", "10.0.0.2"]


def test_loopback_upstreams_are_found():
    assert cf.loopback_upstreams(["127.0.0.1:5353", "10.0.0.2", "[::1]:53"]) == ["127.0.0.1:5353", "[::1]"]


# --- the resolver plan (stub fix) ---------------------------------------------------------

def test_plan_keeps_a_real_resolv_conf():
    plan = cf.resolver_plan({"/etc/resolv.conf": RESOLVED_REAL})
    assert plan["kubelet_resolv_conf"] == "/etc/resolv.conf"
    assert plan["forward"] == "resolv_conf"
    assert plan["nameservers"] == ["192.0.2.53", "2001:db8::53"]
    assert plan["error"] is None


def test_plan_gives_kubelet_the_systemd_resolved_upstream_file():
    plan = cf.resolver_plan({"/etc/resolv.conf": RESOLVED_STUB,
                             "/run/systemd/resolve/resolv.conf": RESOLVED_REAL})
    assert plan["kubelet_resolv_conf"] == "/run/systemd/resolve/resolv.conf"
    assert plan["stub"] == ["127.0.0.53"]
    assert plan["nameservers"] == ["192.0.2.53", "2001:db8::53"]
    assert plan["error"] is None


def test_plan_skips_a_candidate_that_is_itself_a_stub():
    plan = cf.resolver_plan({"/etc/resolv.conf": DNSMASQ,
                             "/run/systemd/resolve/resolv.conf": DNSMASQ,
                             "/run/NetworkManager/no-stub-resolv.conf": "nameserver 10.9.9.9\n"})
    assert plan["kubelet_resolv_conf"] == "/run/NetworkManager/no-stub-resolv.conf"


def test_plan_writes_a_resolv_conf_from_explicit_upstreams_when_no_real_file_exists():
    plan = cf.resolver_plan({"/etc/resolv.conf": RESOLVED_STUB},
                            upstreams=["10.0.0.2", "10.0.0.3:5353"],
                            generated_path="/etc/kubernetes/resolv.conf", host="node-arm-01")
    assert plan["forward"] == "upstreams"
    assert plan["kubelet_resolv_conf"] == "/etc/kubernetes/resolv.conf"
    assert "nameserver 10.0.0.2\n" in plan["generated_resolv_conf"]
    assert "10.0.0.3" not in plan["generated_resolv_conf"]  # no port syntax in resolv.conf
    assert "search corp.example" in plan["generated_resolv_conf"]
    assert plan["nameservers"] == ["10.0.0.2", "10.0.0.3"]


def test_plan_fails_naming_host_and_fixes_when_only_a_stub_is_known():
    plan = cf.resolver_plan({"/etc/resolv.conf": RESOLVED_STUB,
                             "/run/systemd/resolve/resolv.conf": None}, host="node-arm-01")
    assert plan["error"]
    for word in ("node-arm-01", "127.0.0.53", "coredns_upstreams", "coredns_air_gapped",
                 "coredns_kubelet_resolv_conf", "loop"):
        assert word in plan["error"]


def test_plan_treats_a_missing_resolv_conf_as_a_stub():
    plan = cf.resolver_plan({"/etc/resolv.conf": None})
    assert plan["error"] and "(missing)" in plan["error"]


def test_plan_air_gapped_needs_no_upstream_and_forwards_nowhere():
    plan = cf.resolver_plan({"/etc/resolv.conf": RESOLVED_STUB}, air_gapped=True)
    assert plan["error"] is None
    assert plan["forward"] == "none"
    assert plan["nameservers"] == []


def test_plan_refuses_air_gapped_with_upstreams():
    with pytest.raises(XinchuangError, match="coredns_air_gapped"):
        cf.resolver_plan({}, upstreams=["10.0.0.2"], air_gapped=True)


# --- the Corefile -------------------------------------------------------------------------

KUBEADM_DEFAULT = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""


def test_default_corefile_is_kubeadms_with_the_cache_disable_blocks():
    assert cf.render_corefile() == KUBEADM_DEFAULT


def test_default_corefile_has_every_plugin_of_table_4_in_order():
    order = ["errors", "health", "ready", "kubernetes", "prometheus", "forward", "cache",
             "loop", "reload", "loadbalance"]
    firsts = [line.split()[0] for line in plugin_lines(cf.render_corefile())
              if line and line.split()[0] in order]
    assert firsts == order


def test_explicit_upstreams_replace_resolv_conf():
    text = cf.render_corefile({"upstreams": ["10.0.0.2", "10.0.0.3:5353"]})
    assert "forward . 10.0.0.2 10.0.0.3:5353 {" in text
    assert "/etc/resolv.conf" not in text


def test_air_gapped_corefile_has_no_forward_and_answers_from_an_empty_root():
    text = cf.render_corefile({"air_gapped": True, "root_zone_file": "/etc/coredns/db.root"})
    assert "forward" not in text
    assert "file /etc/coredns/db.root ." in text
    assert "loop" in plugin_lines(text)


def test_air_gapped_with_upstreams_is_refused():
    with pytest.raises(XinchuangError, match="air_gapped"):
        cf.render_corefile({"air_gapped": True, "upstreams": ["10.0.0.2"]})


def test_custom_domain_reaches_kubernetes_and_cache_blocks():
    text = cf.render_corefile({"cluster_domain": "xc.internal."})
    assert "kubernetes xc.internal in-addr.arpa ip6.arpa {" in text
    assert "disable success xc.internal" in text


def test_hosts_entries_fall_through_to_the_cluster():
    text = cf.render_corefile({"hosts": [{"ip": "192.0.2.71", "names": ["harbor.example.internal"]}]})
    assert "192.0.2.71 harbor.example.internal" in text
    hosts_block = text.split("hosts {", 1)[1].split("}", 1)[0]
    assert "fallthrough" in hosts_block


def test_stub_zone_gets_its_own_server_block():
    text = cf.render_corefile({"stub_zones": [{"zone": "corp.example", "upstreams": ["10.1.1.1"]}]})
    assert "corp.example:53 {" in text
    assert "forward . 10.1.1.1" in text


def test_stub_zone_inside_the_cluster_domain_is_refused():
    with pytest.raises(XinchuangError, match="inside the cluster domain"):
        cf.render_corefile({"stub_zones": [{"zone": "svc.cluster.local", "upstreams": ["10.1.1.1"]}]})


def test_test_listeners_and_kubeconfig_are_rendered():
    text = cf.render_corefile({"port": 10053, "bind": ["127.0.0.1"], "health": "127.0.0.1:18080",
                               "ready": "127.0.0.1:18181", "prometheus": "127.0.0.1:19153",
                               "kubeconfig": "/tmp/kc", "kube_context": "admin"})
    lines = plugin_lines(text)
    assert lines[0] == ".:10053 {"
    assert "bind 127.0.0.1" in lines
    assert "health 127.0.0.1:18080 {" in lines
    assert "ready 127.0.0.1:18181" in lines
    assert "kubeconfig /tmp/kc admin" in lines


def test_corefile_without_kubernetes_keeps_plain_cache():
    text = cf.render_corefile({"kubernetes": False})
    assert "kubernetes" not in text
    assert "    cache 30\n" in text


@pytest.mark.parametrize("options,word", [
    ({"cluster_domain": "bad domain"}, "cluster_domain"),
    ({"pods": "open"}, "pods"),
    ({"port": 70000}, "port"),
    ({"lameduck": "5 seconds"}, "lameduck"),
    ({"prometheus": "9153"}, "prometheus"),
    ({"hosts": [{"ip": "x", "names": ["a"]}]}, "coredns_hosts"),
    ({"kubeconfig": "/tmp/kc"}, "kube_context"),
    ({"colour": "blue"}, "unknown"),
])
def test_bad_options_are_refused_naming_the_option(options, word):
    with pytest.raises(XinchuangError, match=word):
        cf.render_corefile(options)


def test_root_zone_has_soa_and_ns():
    zone = cf.root_zone("cluster.local", 30)
    assert "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30" in zone
    assert "$ORIGIN ." in zone


@given(st.lists(st.ip_addresses(), min_size=1, max_size=4))
def test_rendered_forward_lists_every_upstream_once(ips):
    upstreams = [str(ip) for ip in ips]
    text = cf.render_corefile({"upstreams": upstreams})
    forward = [line for line in plugin_lines(text) if line.startswith("forward . ")][0]
    assert len(forward.split()) - 3 == len(set(cf.normalize_upstreams(upstreams)))
