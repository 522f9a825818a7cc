"""The Corefiles the coredns role renders, run by the real CoreDNS (built from source,
component table row `coredns`) on 127.0.0.1, and asked with dig.

Variants without the kubernetes plugin run here with no API server (the plugin needs one);
test_corefile_testbed.py runs the full Corefile against the testbed's API server.
"""

import time

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import corefile as cf

from tests.integration.coredns.common import dig as ask, free_port, http_status, listeners

# A tiny authoritative server standing in for the site's DNS: the upstream of the tests.
AUTHORITY = """example.test:{port} {{
    bind 127.0.0.1
    hosts {{
        192.0.2.10 www.example.test
        192.0.2.11 api.example.test
    }}
}}
"""


def _render(**options):
    opts = listeners()
    opts.update({"kubernetes": False})
    opts.update(options)
    return cf.render_corefile(opts), opts


def test_explicit_upstream_resolves_a_name_through_forward(coredns, dig_path):
    upstream = coredns(AUTHORITY.format(port=free_port()), "authority")
    text, opts = _render(upstreams=["127.0.0.1:%d" % upstream.port])
    assert "forward . 127.0.0.1:%d {" % upstream.port in text
    server = coredns(text, "cluster-dns")

    status, answers = ask(dig_path, server.port, "www.example.test")[:2]
    assert (status, answers) == ("NOERROR", ["192.0.2.10"]), server.log()
    assert http_status(opts["ready"], "/ready") == 200
    assert http_status(opts["health"], "/health") == 200
    assert server.alive()


def test_explicit_upstream_answers_are_cached_and_balanced(coredns, dig_path):
    upstream = coredns(AUTHORITY.format(port=free_port()), "authority")
    text = _render(upstreams=["127.0.0.1:%d" % upstream.port])[0]
    server = coredns(text, "cluster-dns")
    assert ask(dig_path, server.port, "api.example.test")[1] == ["192.0.2.11"]
    upstream.stop()
    # cache 30: the answer outlives the upstream for a while.
    assert ask(dig_path, server.port, "api.example.test")[1] == ["192.0.2.11"], server.log()


def test_air_gapped_corefile_starts_answers_site_names_and_nxdomain_and_stays_up(coredns, dig_path, tmp_path):
    root_zone = tmp_path / "air" / "db.root"
    text, opts = _render(air_gapped=True, root_zone_file=str(root_zone),
                         hosts=[{"ip": "192.0.2.71", "names": ["harbor.lab.internal"]}])
    assert "forward" not in text
    server = coredns(text, "air", files={"db.root": cf.root_zone("cluster.local", 30)})

    status, answers = ask(dig_path, server.port, "harbor.lab.internal")[:2]
    assert (status, answers) == ("NOERROR", ["192.0.2.71"]), server.log()
    status, answers, authority = ask(dig_path, server.port, "www.example.com")
    assert status == "NXDOMAIN" and answers == [], server.log()
    assert any("SOA" in rr for rr in authority), authority
    # The loop plugin probes at start; with nothing to forward to there is no loop.
    time.sleep(6)
    assert server.alive(), server.log()
    assert "plugin/loop" not in server.log()
    assert http_status(opts["ready"], "/ready") == 200


def test_forwarding_to_itself_is_stopped_by_the_loop_plugin(coredns):
    # What a node resolv.conf pointing at a local stub does to CoreDNS: the forward target
    # is CoreDNS itself. The loop plugin sees its own probe come back and exits.
    opts = listeners()
    opts.update({"kubernetes": False, "upstreams": ["127.0.0.1:%d" % opts["port"]]})
    server = coredns(cf.render_corefile(opts), "loop", wait=False)
    code = server.wait_exit(timeout=60)
    log = server.log()
    assert code is not None, "CoreDNS still runs 60 s after start with a forwarding loop:\n" + log
    assert code != 0
    assert "plugin/loop" in log and "Loop" in log, log


def test_stub_zone_block_forwards_only_its_zone(coredns, dig_path):
    upstream = coredns(AUTHORITY.format(port=free_port()), "authority")
    text = _render(air_gapped=True, root_zone_file="db.root",
                   stub_zones=[{"zone": "example.test", "upstreams": ["127.0.0.1:%d" % upstream.port]}])[0]
    server = coredns(text, "stub", files={"db.root": cf.root_zone()})
    assert ask(dig_path, server.port, "www.example.test")[1] == ["192.0.2.10"], server.log()
    assert ask(dig_path, server.port, "www.example.org")[0] == "NXDOMAIN"
