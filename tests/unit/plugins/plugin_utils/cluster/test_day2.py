# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The day-2 rules (plugins/plugin_utils/cluster/day2.py): etcd snapshot names, checksums and pruning,
the checks and the plan of an etcd restore, and the certificates certs_renew.yml renews and the
services it restarts. The playbooks run on the lab in tests/e2e/test_day2.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import hashlib
import json
import os
import shlex
import subprocess

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from tests import paths
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import day2
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import components as kube_components
from hack import pki

ROOT = paths.ROOT
SHA = hashlib.sha256(b"snapshot").hexdigest()
STAMP = "20261201T031500Z"


# --- the etcd unit ------------------------------------------------------------------------------

def role_unit(data_dir="/var/lib/etcd"):
    """The unit text the kubernetes role writes (its template's ExecStart: the binary and the
    flags of kube_components, one per continued line), as ``systemctl cat`` prints it."""
    flags = kube_components.component_flags({
        "node_name": "cp-1", "node_ip": "10.0.0.1", "pki_dir": "/etc/kubernetes/pki", "etcd_data_dir": data_dir,
        "etcd_initial_cluster": "cp-1=https://10.0.0.1:2380", "cluster_name": "xinchuang"}, "etcd")
    lines = " \\\n".join(["ExecStart=/usr/local/bin/etcd"] + ["  --%s=%s" % (k, v) for k, v in sorted(flags.items())])
    return "# /etc/systemd/system/etcd.service\n[Unit]\nDescription=etcd\n\n[Service]\n%s\n\nType=notify\n" % lines, flags


def test_the_unit_gives_back_every_flag_the_role_wrote():
    text, flags = role_unit()
    unit = day2.etcd_unit_flags(text)
    assert unit == {"binary": "/usr/local/bin/etcd", "flags": flags}
    assert day2.etcd_client(unit) == {"endpoint": "https://127.0.0.1:2379", "cacert": "/etc/kubernetes/pki/etcd-ca.crt",
                                      "cert": "/etc/kubernetes/pki/etcd-server.crt",
                                      "key": "/etc/kubernetes/pki/etcd-server.key"}


def test_a_drop_in_that_replaces_execstart_wins_and_bare_flags_are_true():
    text, _flags = role_unit()
    text += "\n# /etc/systemd/system/etcd.service.d/x.conf\n[Service]\nExecStart=\nExecStart=/opt/etcd --data-dir=/d --debug\n"
    assert day2.etcd_unit_flags(text) == {"binary": "/opt/etcd", "flags": {"data-dir": "/d", "debug": True}}


@pytest.mark.parametrize("text,words", [
    ("", ["no ExecStart", "site.yml"]),
    ("[Service]\nExecStart=/usr/local/bin/etcd --name=a\n", ["no --data-dir"]),
])
def test_a_unit_that_is_not_the_roles_is_named(text, words):
    with pytest.raises(day2.Day2Error) as err:
        day2.etcd_unit_flags(text)
    for word in words:
        assert word in str(err.value)


def test_etcd_without_client_tls_is_refused():
    with pytest.raises(day2.Day2Error, match="trusted-ca-file"):
        day2.etcd_client({"binary": "/e", "flags": {"listen-client-urls": "http://127.0.0.1:2379", "data-dir": "/d"}})


# --- snapshots ----------------------------------------------------------------------------------

def test_snapshot_names_sort_by_time_and_refuse_odd_input():
    assert day2.snapshot_name("xinchuang-etcd", STAMP) == "xinchuang-etcd-20261201T031500Z.db"
    for prefix, stamp in (("a b", STAMP), ("", STAMP), ("x", "2026-12-01")):
        with pytest.raises(day2.Day2Error):
            day2.snapshot_name(prefix, stamp)


def test_pruning_keeps_the_newest_and_touches_nothing_else():
    names = ["/b/x-20261101T000000Z.db", "/b/x-20261101T000000Z.db.sha256", "/b/x-20261102T000000Z.db",
             "/b/x-20261103T000000Z.db", "/b/x-20261103T000000Z.db.sha256", "/b/notes.txt",
             "/b/y-20261001T000000Z.db", "/b/x-20261001T000000Z.db.part"]
    assert day2.snapshots_to_prune(names, "x", 1) == [
        "x-20261101T000000Z.db", "x-20261101T000000Z.db.sha256", "x-20261102T000000Z.db"]
    assert day2.snapshots_to_prune(names, "x", 3) == []
    # The snapshot being taken (not listed yet in check mode) counts among the kept.
    assert day2.snapshots_to_prune(names + ["x-20261104T000000Z.db"], "x", 3) == [
        "x-20261101T000000Z.db", "x-20261101T000000Z.db.sha256"]


@pytest.mark.parametrize("keep", [0, -1, "many", None])
def test_keeping_fewer_than_one_snapshot_is_refused_naming_the_variable(keep):
    with pytest.raises(day2.Day2Error, match="etcd_backup_keep"):
        day2.snapshots_to_prune([], "x", keep)


def test_the_checksum_file_is_what_sha256sum_writes_and_reads(tmp_path):
    (tmp_path / "x.db").write_bytes(b"snapshot")
    (tmp_path / "x.db.sha256").write_text(day2.checksum_line(SHA, "x.db"))
    assert subprocess.run(["sha256sum", "-c", "x.db.sha256"], cwd=str(tmp_path), check=False).returncode == 0
    written = subprocess.run(["sha256sum", "x.db"], cwd=str(tmp_path), capture_output=True, text=True, check=True).stdout
    assert day2.checksum_of(written, "/anywhere/x.db") == SHA
    assert day2.checksum_of("%s *x.db\n%s  other.db\n" % (SHA, "0" * 64), "other.db") == "0" * 64
    with pytest.raises(day2.Day2Error, match="no SHA-256 of y.db"):
        day2.checksum_of("%s  a\n%s  b\n" % (SHA, SHA), "y.db")
    with pytest.raises(day2.Day2Error):
        day2.checksum_line("XYZ", "x.db")


def test_snapshot_status_of_etcdutl_json():
    text = json.dumps({"hash": 123, "revision": 4567, "totalKey": 890, "totalSize": 2101248, "version": "3.6.0"})
    assert day2.snapshot_status(text) == {"revision": 4567, "keys": 890, "size": 2101248, "hash": 123, "version": "3.6.0"}
    with pytest.raises(day2.Day2Error, match="no JSON"):
        day2.snapshot_status("Error: snapshot file has wrong size")


# --- restore ------------------------------------------------------------------------------------

def test_a_good_snapshot_with_every_member_may_be_restored():
    assert day2.restore_problems("/b/x.db", True, SHA, SHA.upper(), ["e1", "e2", "e3"], ["e1", "e2", "e3", "cp"]) == []


@pytest.mark.parametrize("args,words", [
    (("", False, "", "", ["e1"], ["e1"]), ["etcd_restore_snapshot is not set"]),
    (("/b/x.db", False, "", "", ["e1"], ["e1"]), ["/b/x.db is not a file on the controller"]),
    (("/b/x.db", True, SHA, "", ["e1"], ["e1"]), ["no checksum for /b/x.db", "etcd_restore_sha256"]),
    (("/b/x.db", True, SHA, "0" * 64, ["e1"], ["e1"]), ["/b/x.db has SHA-256 " + SHA, "damaged"]),
    (("/b/x.db", True, SHA, SHA, ["e1", "e2", "e3"], ["e1"]), ["e2, e3 are not in this run", "--limit"]),
])
def test_each_refusal_names_the_value_and_the_fix(args, words):
    problems = "; ".join(day2.restore_problems(*args))
    for word in words:
        assert word in problems, problems


def test_the_same_snapshot_is_not_restored_twice_unless_forced():
    marker = json.dumps({"snapshot": "x.db", "sha256": SHA, "restored_at": STAMP, "previous_data_dir": "/v.pre"})
    again = day2.restore_decision(marker, SHA)
    assert again["restore"] is False and "etcd_restore_force" in again["reason"] and "/v.pre" in again["reason"]
    assert day2.restore_decision(marker, SHA, force=True)["restore"] is True
    assert day2.restore_decision(marker, "0" * 64)["restore"] is True
    assert day2.restore_decision("", SHA)["restore"] is True
    assert day2.restore_decision("not json", SHA)["restore"] is True


def test_the_plan_restores_beside_the_data_dir_with_a_new_token_and_keeps_the_old_one():
    text, flags = role_unit("/var/lib/etcd/")
    unit = day2.etcd_unit_flags(text)
    plan = day2.restore_plan(unit, "/backups/x-%s.db" % STAMP, SHA, STAMP)
    assert plan["snapshot_copy"] == "/var/lib/etcd.restore-%s.db" % STAMP
    assert plan["data_dir"] == "/var/lib/etcd"
    assert plan["new_dir"] == "/var/lib/etcd.restore-" + STAMP
    assert plan["aside_dir"] == "/var/lib/etcd.pre-restore-" + STAMP
    assert plan["marker_path"] == "/var/lib/etcd.restored.json"
    assert plan["token"] != flags["initial-cluster-token"] and plan["token"].startswith("xinchuang-etcd-restore-")
    argv = plan["argv"]
    assert argv[:4] == ["/usr/local/bin/etcdutl", "snapshot", "restore", "/var/lib/etcd.restore-%s.db" % STAMP]
    opts = dict(zip(argv[4::2], argv[5::2]))
    assert opts["--data-dir"] == plan["new_dir"] and opts["--name"] == "cp-1"
    assert opts["--initial-cluster"] == flags["initial-cluster"]
    assert opts["--initial-advertise-peer-urls"] == flags["initial-advertise-peer-urls"]
    assert opts["--initial-cluster-token"] == plan["token"]
    assert argv[-3:] == ["--bump-revision", "1000000000", "--mark-compacted"]
    assert plan["marker"]["sha256"] == SHA and plan["marker"]["previous_data_dir"] == plan["aside_dir"]
    assert plan["marker"]["snapshot"] == "x-%s.db" % STAMP
    # Without the bump, etcdutl refuses --mark-compacted: neither is given.
    assert "--mark-compacted" not in day2.restore_plan(unit, "/s.db", SHA, STAMP, bump_revision=0)["argv"]


def test_a_plan_needs_the_member_flags_and_a_replaceable_data_dir():
    with pytest.raises(day2.Day2Error, match="initial-cluster"):
        day2.restore_plan({"binary": "/e", "flags": {"data-dir": "/d", "name": "a"}}, "/s", SHA, STAMP)
    unit = {"binary": "/e", "flags": {"data-dir": "/", "name": "a", "initial-cluster": "a=x",
                                      "initial-advertise-peer-urls": "x"}}
    with pytest.raises(day2.Day2Error, match="cannot be replaced"):
        day2.restore_plan(unit, "/s", SHA, STAMP)


# --- certificates -------------------------------------------------------------------------------

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def ca_listing():
    """A CA directory as the kubernetes role keeps it: two CAs and certificates issued to two
    nodes, with 10, 200 and 364 days left; and one certificate of an unknown CA."""
    ca_key, etcd_ca_key, other_key = pki.new_key("rsa"), pki.new_key("rsa"), pki.new_key("rsa")
    ca = pki.build_ca(ca_key, "xinchuang-ca", now=NOW - datetime.timedelta(days=1))
    etcd_ca = pki.build_ca(etcd_ca_key, "xinchuang-etcd-ca", now=NOW - datetime.timedelta(days=1))
    other = pki.build_ca(other_key, "someone-else")

    def cert(ca_cert, key, cn, org=None, sans=(), usage="client", days_left=364):
        return pki.build_cert(pki.new_key("rsa"), ca_cert, key, cn, org=org, sans=sans, usage=usage, days=365,
                              now=NOW - datetime.timedelta(days=365 - days_left, hours=1))

    files = {
        "/etc/kubernetes/ca/ca.crt": ca, "/etc/kubernetes/ca/etcd-ca.crt": etcd_ca,
        "/etc/kubernetes/ca/issued/cp-1/apiserver.crt": cert(ca, ca_key, "kube-apiserver", sans=[
            "DNS:kubernetes", "IP:10.96.0.1"], usage="server", days_left=10),
        "/etc/kubernetes/ca/issued/cp-1/etcd-server.crt": cert(etcd_ca, etcd_ca_key, "cp-1", sans=["DNS:cp-1"],
                                                               usage="both", days_left=200),
        "/etc/kubernetes/ca/issued/node-1/kubelet.crt": cert(ca, ca_key, "system:node:node-1", org="system:nodes"),
        "/etc/kubernetes/ca/issued/node-1/stray.crt": cert(other, other_key, "stray", days_left=5),
    }
    return "".join("%s %s\n" % (path, base64.b64encode(pem(c)).decode()) for path, c in files.items())


def test_issued_certificates_are_read_with_what_issues_them_again(ca_listing):
    certs = {c["node"] + "/" + c["name"]: c for c in day2.issued_certificates(ca_listing, "/etc/kubernetes/ca/", now=NOW)}
    assert sorted(certs) == ["cp-1/apiserver", "cp-1/etcd-server", "node-1/kubelet", "node-1/stray"]
    api = certs["cp-1/apiserver"]
    assert (api["days_left"], api["lifetime_days"], api["ca"]) == (9, 365, "ca")
    assert api["subject_alt_names"] == ["DNS:kubernetes", "IP:10.96.0.1"] and api["extended_key_usage"] == ["serverAuth"]
    assert certs["cp-1/etcd-server"]["ca"] == "etcd-ca"
    assert sorted(certs["cp-1/etcd-server"]["extended_key_usage"]) == ["clientAuth", "serverAuth"]
    assert (certs["node-1/kubelet"]["common_name"], certs["node-1/kubelet"]["organization"]) == (
        "system:node:node-1", "system:nodes")
    assert certs["node-1/stray"]["ca"] == ""
    assert certs["node-1/kubelet"]["not_after"] == "2027-11-29T23:00:00Z"


def test_the_threshold_picks_what_ends_before_it_and_zero_only_the_expired(ca_listing):
    certs = day2.issued_certificates(ca_listing, "/etc/kubernetes/ca", now=NOW)

    def names(days):
        return [c["node"] + "/" + c["name"] for c in day2.certificates_expiring(certs, days)]

    assert names(0) == []
    assert names(10) == ["node-1/stray", "cp-1/apiserver"]
    assert names(400) == ["node-1/stray", "cp-1/apiserver", "cp-1/etcd-server", "node-1/kubelet"]
    assert day2.expiry_report(certs, 10)[1].startswith("cp-1/apiserver ends 2026-12-10")
    for bad in (-1, "soon", None):
        with pytest.raises(day2.Day2Error, match="certs_renew_days"):
            day2.certificates_expiring(certs, bad)


def test_pki_items_issue_the_certificate_again_as_it_was(ca_listing):
    certs = [c for c in day2.issued_certificates(ca_listing, "/etc/kubernetes/ca", now=NOW) if c["ca"]]
    items = {i["name"]: i for i in day2.pki_items(certs, "/etc/kubernetes/ca")}
    assert items["cp-1/apiserver"] == {
        "name": "cp-1/apiserver", "key_path": "/etc/kubernetes/ca/issued/cp-1/apiserver.key",
        "cert_path": "/etc/kubernetes/ca/issued/cp-1/apiserver.crt", "common_name": "kube-apiserver",
        "organization": "", "subject_alt_names": ["DNS:kubernetes", "IP:10.96.0.1"],
        "extended_key_usage": ["serverAuth"], "ca_cert": "/etc/kubernetes/ca/ca.crt", "ca_key": "/etc/kubernetes/ca/ca.key"}
    assert items["cp-1/etcd-server"]["ca_key"] == "/etc/kubernetes/ca/etcd-ca.key"
    assert day2.renewal_valid_days(certs) == 365 and day2.renewal_valid_days(certs, 90) == 90
    stray = [c for c in day2.issued_certificates(ca_listing, "/etc/kubernetes/ca", now=NOW) if not c["ca"]]
    with pytest.raises(day2.Day2Error, match="stray.crt was not issued by a CA"):
        day2.pki_items(stray, "/etc/kubernetes/ca")


def test_the_pki_roles_check_finds_a_renewed_item_current_and_the_kubernetes_roles_request_unchanged(ca_listing):
    """The item made from a certificate is what the kubernetes role asked for: the pki role's
    own check (registry_config.issued_problems, what issued_certificates_info runs) finds
    nothing wrong with it but the renewal window."""
    from ansible_collections.xinchuang.cloud.plugins.module_utils.pki import certificates as registry_config
    key = pki.new_key("rsa")
    ca_key = pki.new_key("rsa")
    ca = pki.build_ca(ca_key, "xinchuang-ca")
    cert = pki.build_cert(key, ca, ca_key, "system:node:n", org="system:nodes", sans=["DNS:n", "IP:10.0.0.2"],
                          usage="client", days=365)
    listing = "/c/ca.crt %s\n/c/issued/n/kubelet.crt %s\n" % (
        base64.b64encode(pem(ca)).decode(), base64.b64encode(pem(cert)).decode())
    item = day2.pki_items(day2.issued_certificates(listing, "/c"), "/c")[0]
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    assert registry_config.issued_problems(pem(cert), key_pem, pem(ca), item, renew_days=30) == []
    assert registry_config.issued_problems(pem(cert), key_pem, pem(ca), item, renew_days=400) == [
        "certificate: ends within 400 days"]


def test_a_damaged_file_in_the_ca_directory_is_named():
    with pytest.raises(day2.Day2Error, match="/c/issued/n/x.crt is not a PEM certificate"):
        day2.issued_certificates("/c/issued/n/x.crt %s\n" % base64.b64encode(b"junk").decode(), "/c")
    assert day2.issued_certificates("", "/c") == []


def test_each_host_gets_its_own_certificates_and_no_key():
    pems = {"cp-1/apiserver": "A", "cp-1/admin": "B", "cp-10/kubelet": "C"}
    assert day2.host_certificate_files(pems, "cp-1", "/etc/kubernetes/pki") == [
        {"content": "B", "dest": "/etc/kubernetes/pki/admin.crt", "mode": "0644"},
        {"content": "A", "dest": "/etc/kubernetes/pki/apiserver.crt", "mode": "0644"}]


# --- which services restart -----------------------------------------------------------------------

def test_only_the_services_that_read_a_changed_file_restart_in_the_clusters_order():
    all_services = day2.host_services(True, True, True)
    assert all_services == list(day2.SERVICE_ORDER)
    assert day2.services_to_restart(["/etc/kubernetes/pki/kubelet.crt"], all_services) == ["kubelet"]
    assert day2.services_to_restart(["/etc/kubernetes/pki/apiserver-etcd-client.crt", "/x/etcd-peer.crt"],
                                    all_services) == ["etcd", "apiserver"]
    assert day2.services_to_restart(["/etc/kubernetes/pki/admin.crt"], all_services) == []
    # A worker reads none of the control plane's files.
    assert day2.services_to_restart(["apiserver.crt", "kubelet.crt", "kube-proxy.crt"],
                                    day2.host_services(False, False, True)) == ["kubelet", "proxy"]
    assert day2.services_to_restart([], all_services) == []
    with pytest.raises(day2.Day2Error, match="unknown services"):
        day2.services_to_restart(["a"], ["kubelet", "dns"])


def test_the_table_of_readers_is_the_kubernetes_roles():
    """SERVICE_FILES is the kubernetes role's _kubernetes_service_inputs, for the files of its
    PKI directory (the role restarts by it after its own runs, certs_renew.yml after a renewal)."""
    with open(os.path.join(ROOT, "roles", "kubernetes", "vars", "main.yml")) as fh:
        role_vars = yaml.safe_load(fh)
    role = role_vars["_kubernetes_service_inputs"]

    def pki_files(names):
        return sorted(n for n in names if n.endswith((".crt", ".key", ".pub")))

    assert {s: pki_files(f) for s, f in role.items()} == {s: sorted(f) for s, f in day2.SERVICE_FILES.items()}
    units = role_vars["_kubernetes_units"]
    assert {s: units[s] for s in day2.SERVICE_UNITS} == day2.SERVICE_UNITS


def test_the_restore_command_is_one_etcdutl_accepts():
    """etcdutl's own flag list (the bundle's binary when it is there) has every flag the plan uses."""
    etcdutl = os.path.join(os.environ.get("XC_CACHE", "/var/cache/xinchuang"), "build", "etcd", "v3.6.16", "amd64",
                           "etcdutl")
    if not os.access(etcdutl, os.X_OK):
        pytest.skip("etcdutl is not built here (hack/bundle.sh builds it)")
    text, _flags = role_unit()
    argv = day2.restore_plan(day2.etcd_unit_flags(text), "/s.db", SHA, STAMP)["argv"]
    usage = subprocess.run([etcdutl, "snapshot", "restore", "--help"], capture_output=True, text=True, check=False).stdout
    for word in argv:
        if word.startswith("--"):
            assert word + " " in usage, (word, usage)
    assert shlex.join(argv)
