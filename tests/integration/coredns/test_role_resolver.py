"""The coredns role's node part (entry point `resolver`) on localhost, on resolver files made
in a temporary directory: which resolv.conf kubelet gets, and the preflight stops (a stub
without any real upstream; no upstream answering in online mode) naming the host.

The upstream that answers is a real CoreDNS on 127.0.0.1 (loopback upstreams are allowed
here with coredns_allow_loopback_upstreams, as CoreDNS on the host network would be).
"""

from tests.integration.ansible_run import run_tasks
from tests.integration.coredns.common import free_port

AUTHORITY = """example.test:{port} {{
    bind 127.0.0.1
    hosts {{
        192.0.2.10 www.example.test
    }}
}}
"""


def _resolver(tmp_path, files, **role_vars):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    role_vars.setdefault("coredns_host_resolv_conf", str(tmp_path / "resolv.conf"))
    role_vars.setdefault("coredns_stub_resolv_candidates", [str(tmp_path / "resolved.conf")])
    role_vars.setdefault("coredns_generated_resolv_conf", str(tmp_path / "kubernetes" / "resolv.conf"))
    tasks = [
        {"name": "resolver", "ansible.builtin.include_role": {
            "name": "xinchuang.cloud.coredns", "tasks_from": "resolver"}, "vars": role_vars},
        # The facts the resolver publishes for the kubernetes role and later layers; its input
        # coredns_kubelet_resolv_conf keeps the value it was given (here: none).
        {"name": "facts", "ansible.builtin.debug": {"msg": {
            "resolv": "{{ xinchuang_kubelet_resolv_conf }}",
            "exposure": "{{ xinchuang_service_exposure_type }}",
            "dns": "{{ xinchuang_cluster_dns }}",
            "domain": "{{ xinchuang_cluster_domain }}",
            "input": "{{ coredns_kubelet_resolv_conf | default('unset') }}"}}},
    ]
    results = run_tasks(tasks)
    failed = [r for r in results if r.get("failed")]
    return results, (failed[0]["msg"] if failed else None)


def test_stub_resolver_node_gives_kubelet_the_systemd_resolved_file(tmp_path):
    results, error = _resolver(tmp_path, {"resolv.conf": "nameserver 127.0.0.53\n",
                                          "resolved.conf": "nameserver 192.0.2.53\n"},
                               coredns_check_upstreams=False)
    assert error is None
    facts = results[-1]["msg"]
    assert facts["resolv"] == str(tmp_path / "resolved.conf")
    assert facts["exposure"] in ("LoadBalancer", "ClusterIP")
    assert (facts["dns"], facts["domain"]) == ("10.96.0.10", "cluster.local")
    assert facts["input"] == "unset", "the decision overwrote the role's input variable"


def test_stub_resolver_without_real_upstream_stops_naming_host_and_fixes(tmp_path):
    _results, error = _resolver(tmp_path, {"resolv.conf": "nameserver 127.0.0.1\n"})
    assert error, "the role went on with a loopback-only resolver and no upstream"
    for word in ("localhost", "127.0.0.1", "coredns_upstreams", "coredns_air_gapped", "loop"):
        assert word in error, error


def test_stub_resolver_with_explicit_upstreams_writes_kubelet_a_resolv_conf(tmp_path):
    results, error = _resolver(tmp_path, {"resolv.conf": "nameserver 127.0.0.53\nsearch corp.example\n"},
                               coredns_upstreams=["192.0.2.53"], coredns_check_upstreams=False)
    assert error is None
    written = tmp_path / "kubernetes" / "resolv.conf"
    assert results[-1]["msg"]["resolv"] == str(written)
    assert "nameserver 192.0.2.53" in written.read_text()
    assert "search corp.example" in written.read_text()


def test_air_gapped_node_needs_no_upstream(tmp_path):
    results, error = _resolver(tmp_path, {"resolv.conf": "nameserver 127.0.0.53\n"},
                               coredns_air_gapped=True)
    assert error is None
    assert results[-1]["msg"]["resolv"] == str(tmp_path / "resolv.conf")


def test_reachable_upstream_passes_the_probe(tmp_path, coredns):
    upstream = coredns(AUTHORITY.format(port=free_port()), "authority")
    results, error = _resolver(tmp_path, {"resolv.conf": "nameserver 192.0.2.53\n"},
                               coredns_upstreams=["127.0.0.1:%d" % upstream.port],
                               coredns_allow_loopback_upstreams=True)
    assert error is None, error
    probe = [r for r in results if "stdout" in r and "127.0.0.1:%d" % upstream.port in r["stdout"]]
    assert probe and '"ok' in probe[0]["stdout"]


def test_unreachable_upstream_stops_in_preflight_naming_host_and_server(tmp_path):
    dead = "127.0.0.1:%d" % free_port()
    _results, error = _resolver(tmp_path, {"resolv.conf": "nameserver 192.0.2.53\n"},
                                coredns_upstreams=[dead], coredns_allow_loopback_upstreams=True,
                                coredns_upstream_probe_timeout=1)
    assert error and "localhost" in error and dead in error, error
    assert "coredns_air_gapped" in error


def test_loopback_upstreams_are_refused_by_default(tmp_path):
    _results, error = _resolver(tmp_path, {"resolv.conf": "nameserver 192.0.2.53\n"},
                                coredns_upstreams=["127.0.0.1:5353"])
    assert error and "127.0.0.1:5353" in error and "coredns_allow_loopback_upstreams" in error


def test_kubelet_resolv_conf_chosen_by_hand_must_exist(tmp_path):
    _results, error = _resolver(tmp_path, {"resolv.conf": "nameserver 192.0.2.53\n"},
                                coredns_kubelet_resolv_conf=str(tmp_path / "missing.conf"),
                                coredns_check_upstreams=False)
    assert error and "localhost" in error and str(tmp_path / "missing.conf") in error, error
    assert "coredns_kubelet_resolv_conf" in error


def test_kubelet_resolv_conf_chosen_by_hand_is_checked_and_kept(tmp_path):
    (tmp_path / "mine.conf").write_text("nameserver 192.0.2.99\n")
    results, error = _resolver(tmp_path, {"resolv.conf": "nameserver 127.0.0.53\n"},
                               coredns_kubelet_resolv_conf=str(tmp_path / "mine.conf"),
                               coredns_check_upstreams=False)
    assert error is None
    assert results[-1]["msg"]["resolv"] == str(tmp_path / "mine.conf")
