"""Day 2 on the lab cluster: etcd backup and restore, certificate renewal (docs/day2.md).

Runs after tests/e2e/test_cluster.py in the same session (hack/e2e.sh runs tests/e2e in file
order), on the cluster it leaves: xc-lab-amd64 (control plane, the only etcd member, node) and
the other nodes, read from the API (the gate's: the arm64 machine; the full tier's: the amd64
worker and the mips64el machine, the arm64 machine removed). Run alone
on a lab kept up (XC_E2E_KEEP=1 hack/e2e.sh, or the lead's lab):
    pytest -q -p no:cacheprovider -s tests/e2e/test_day2.py
It never brings the lab up or down.

backup --check writes nothing -> backup: the snapshot and its .sha256 on the host and the
controller, `sha256sum -c` passes, etcdutl's status printed, older snapshots pruned ->
a corrupted copy, a missing file and a member outside the run are refused before anything
changes -> restore: a ConfigMap created before the snapshot and deleted after it is back, one
created after it is gone, nodes Ready, the old data directory kept -> the same snapshot again
changes nothing -> certs_renew --check changes nothing -> certs_renew with a threshold beyond
the certificates' lifetime renews every one (new serials), the API serves the new certificate,
only the services reading a changed file restarted, nodes Ready -> threshold 0 changes nothing
-> (full tier) site.yml keeps the renewed certificates and warns about those within its threshold.
"""

import base64
import json
import os
import shutil
import ssl
import time

import pytest
import yaml
from cryptography import x509

from tests.e2e.lab import (
    CACHE, INVENTORIES, KUBECONFIG, KUBERNETES_VERSION, LAB_STATE, assert_converged, assert_ok,
    changed_tasks, failures, kubectl, kubectl_json, log, on_host, playbook, sh, wait_for)

pytestmark = pytest.mark.slow

CONTROL_PLANE = "xc-lab-amd64"
# A host of the inventory that is no etcd member (made one in a copy of it, for the refusal).
NOT_A_MEMBER = "xc-lab-amd64-w1"
# The cluster's hosts are the nodes test_cluster.py left, read in the fixture: the gate's
# (the control plane and the arm64 machine) or the full tier's (the arm64 machine removed, the
# amd64 worker and the mips64el machine added). The inventory names more: the runs here are
# limited to the members.
MEMBERS = []
API = ("172.29.0.10", 6443)
BACKUPS = os.path.join(LAB_STATE, "backups", "etcd")
HOST_BACKUPS = "/var/backups/xinchuang/etcd"
DATA_DIR = "/var/lib/etcd"
CA_DIR = "/etc/kubernetes/ca"
PKI_DIR = "/etc/kubernetes/pki"
NS = "default"
TIMES = {}
STATE = {}


@pytest.fixture(scope="module")
def lab():
    """The cluster test_cluster.py left (or a lab kept up): never brought up or torn down here."""
    if not os.path.exists(KUBECONFIG):
        pytest.fail("no lab cluster (%s missing): run after tests/e2e/test_cluster.py in the same session "
                    "(hack/e2e.sh), or keep a lab up with XC_E2E_KEEP=1" % KUBECONFIG)
    names = kubectl("get", "nodes", "-o", "name").stdout.split()
    assert "node/" + CONTROL_PLANE in names, names
    MEMBERS[:] = [CONTROL_PLANE] + sorted(n.split("/", 1)[1] for n in names if n != "node/" + CONTROL_PLANE)
    assert len(MEMBERS) >= 2, "the day-2 runs want a node besides the control plane: %s" % names
    log("cluster members: %s" % MEMBERS)
    etcdutl = os.path.join(CACHE, "bundle", KUBERNETES_VERSION, "amd64", "bin", "etcdutl")
    assert os.access(etcdutl, os.X_OK), (
        "%s missing: the bundle predates etcdutl; lay it out with hack/bundle.sh amd64" % etcdutl)
    yield
    for name, took in TIMES.items():
        log("TIME %-44s %7.1f" % (name, took))


def all_ready():
    nodes = kubectl_json("get", "nodes")["items"]
    states = {n["metadata"]["name"]: [c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready"]
              for n in nodes}
    return states if all(s == ["True"] for s in states.values()) and set(states) >= set(MEMBERS) else None


def configmap(name, value):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS},
            "data": {"proof": value}}


def apply(obj):
    kubectl("apply", "-f", "-", stdin=json.dumps(obj))


def host_ls(host, pattern):
    out = on_host(host, "sh", "-c", "ls -1d %s 2>/dev/null || true" % pattern).stdout.split()
    return sorted(out)


def unit_since(host, unit):
    return on_host(host, "systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", unit).stdout.strip()


def messages(report):
    """Every debug msg of a run, for the report lines."""
    out = []
    for play in report.get("plays", []):
        for task in play["tasks"]:
            for res in task["hosts"].values():
                if isinstance(res.get("msg"), str):
                    out.append(res["msg"])
    return out


# --- backup ---------------------------------------------------------------------------------------

@pytest.mark.timeout(900)
def test_backup_in_check_mode_says_what_it_would_do_and_writes_nothing(lab, tmp_path):
    before = host_ls(CONTROL_PLANE, HOST_BACKUPS + "/*")
    report, proc, took = playbook("etcd_backup.yml", "--check", "-e", "etcd_backup_dir=%s" % tmp_path)
    TIMES["etcd_backup.yml --check"] = took
    assert_ok(report, proc)
    assert any(m.startswith("would write " + HOST_BACKUPS) for m in messages(report)), messages(report)
    assert host_ls(CONTROL_PLANE, HOST_BACKUPS + "/*") == before
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.timeout(900)
def test_backup_keeps_a_snapshot_whose_checksum_verifies_and_prunes_the_oldest(lab):
    kubectl("delete", "configmap", "day2-before", "day2-after", "--ignore-not-found", "-n", NS)
    apply(configmap("day2-before", "taken before the snapshot"))
    shutil.rmtree(BACKUPS, ignore_errors=True)
    args = ("-e", "etcd_backup_dir=%s etcd_backup_keep=1" % BACKUPS)
    report, proc, took = playbook("etcd_backup.yml", *args)
    TIMES["etcd_backup.yml"] = took
    assert_ok(report, proc)
    status = [m for m in messages(report) if "revision" in m and "keys" in m]
    assert status, messages(report)
    log("snapshot status: " + status[0])
    first = sorted(f for f in os.listdir(BACKUPS) if f.endswith(".db"))
    assert len(first) == 1 and first[0].startswith("xinchuang-etcd-"), os.listdir(BACKUPS)
    # sha256sum -c, on the controller and on the host.
    sh(["sha256sum", "-c", first[0] + ".sha256"], cwd=BACKUPS)
    on_host(CONTROL_PLANE, "sh", "-c", "cd %s && sha256sum -c %s.sha256" % (HOST_BACKUPS, first[0]))
    STATE["snapshot"] = os.path.join(BACKUPS, first[0])
    # A second backup a second later: with etcd_backup_keep=1 only the newest stays, on both sides.
    time.sleep(1.1)
    shutil.copy(STATE["snapshot"], STATE["snapshot"] + ".keep")
    shutil.copy(STATE["snapshot"] + ".sha256", STATE["snapshot"] + ".sha256.keep")
    report, proc, _took = playbook("etcd_backup.yml", *args)
    assert_ok(report, proc)
    second = sorted(f for f in os.listdir(BACKUPS) if f.endswith(".db"))
    assert len(second) == 1 and second != first, (first, second)
    assert [os.path.basename(p) for p in host_ls(CONTROL_PLANE, HOST_BACKUPS + "/*.db*")] == [second[0], second[0] + ".sha256"]
    # The first snapshot is the one the restore uses (it holds day2-before).
    os.rename(STATE["snapshot"] + ".keep", STATE["snapshot"])
    os.rename(STATE["snapshot"] + ".sha256.keep", STATE["snapshot"] + ".sha256")


# --- refusals -------------------------------------------------------------------------------------

def etcd_state():
    """What a refused restore must leave as it is: the data directory (inode and its WAL
    files), nothing made beside it, etcd and the API server running since the same moment."""
    return {"data": on_host(CONTROL_PLANE, "sh", "-c", "stat -c %%i %s; ls %s/member/wal" % (DATA_DIR, DATA_DIR)).stdout,
            "beside": host_ls(CONTROL_PLANE, DATA_DIR + ".*"),
            "etcd": unit_since(CONTROL_PLANE, "etcd.service"),
            "apiserver": unit_since(CONTROL_PLANE, "kube-apiserver.service")}


@pytest.mark.timeout(900)
def test_a_corrupted_or_missing_snapshot_is_refused_before_anything_changes(lab, tmp_path):
    before = etcd_state()
    bad = tmp_path / os.path.basename(STATE["snapshot"])
    data = bytearray(open(STATE["snapshot"], "rb").read())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    shutil.copy(STATE["snapshot"] + ".sha256", str(bad) + ".sha256")
    report, proc, _took = playbook("etcd_restore.yml", "-e", "etcd_restore_snapshot=%s" % bad)
    assert proc.returncode != 0
    msgs = "\n".join(failures(report))
    assert str(bad) in msgs and "damaged" in msgs, msgs
    assert not changed_tasks(report), changed_tasks(report)
    report, proc, _took = playbook("etcd_restore.yml", "-e", "etcd_restore_snapshot=%s/none.db" % tmp_path)
    assert proc.returncode != 0 and "none.db is not a file on the controller" in "\n".join(failures(report))
    assert not changed_tasks(report), changed_tasks(report)
    assert etcd_state() == before


@pytest.mark.timeout(900)
def test_a_restore_without_every_member_in_the_run_is_refused(lab, tmp_path):
    inv = tmp_path / "lab"
    shutil.copytree(INVENTORIES[0], str(inv))
    hosts = (inv / "hosts.yml").read_text().replace("    etcd:\n      hosts:\n", "    etcd:\n      hosts:\n        %s:\n" % NOT_A_MEMBER)
    (inv / "hosts.yml").write_text(hosts)
    for group in ("all", "lab_machines"):
        (inv / "group_vars" / group / "zz-state.yml").write_text(
            "xinchuang_lab_state: %s\nansible_ssh_private_key_file: %s\n" % (LAB_STATE, os.path.join(LAB_STATE, "ssh", "id_ed25519")))
    before = etcd_state()
    report, proc, _took = playbook("etcd_restore.yml", "--limit", CONTROL_PLANE, "-e",
                                   "etcd_restore_snapshot=%s" % STATE["snapshot"], inventories=[str(inv)])
    assert proc.returncode != 0
    msgs = "\n".join(failures(report))
    assert NOT_A_MEMBER + " are not in this run" in msgs and "--limit" in msgs, msgs
    assert not changed_tasks(report), changed_tasks(report)
    assert etcd_state() == before


# --- restore --------------------------------------------------------------------------------------

@pytest.mark.timeout(1800)
def test_restore_brings_back_the_snapshot_and_keeps_the_old_data(lab):
    kubectl("delete", "configmap", "day2-before", "-n", NS)
    apply(configmap("day2-after", "made after the snapshot"))
    old_inode = on_host(CONTROL_PLANE, "stat", "-c", "%i", DATA_DIR).stdout.strip()
    kept_before = host_ls(CONTROL_PLANE, DATA_DIR + ".pre-restore-*")
    report, proc, took = playbook("etcd_restore.yml", "-e", "etcd_restore_snapshot=%s" % STATE["snapshot"])
    TIMES["etcd_restore.yml"] = took
    assert_ok(report, proc)
    cm = wait_for("ConfigMap day2-before back", lambda: kubectl_json("get", "configmaps", "-n", NS)["items"], timeout=120)
    names = {c["metadata"]["name"]: c.get("data", {}) for c in cm}
    assert names.get("day2-before") == {"proof": "taken before the snapshot"}, sorted(names)
    assert "day2-after" not in names, sorted(names)
    states = wait_for("every node Ready after the restore", all_ready, timeout=600, interval=5)
    log("nodes after the restore: %s" % states)
    # The old data directory is kept under a dated name (the inode that was the data dir).
    aside = sorted(set(host_ls(CONTROL_PLANE, DATA_DIR + ".pre-restore-*")) - set(kept_before))
    assert len(aside) == 1, aside
    assert on_host(CONTROL_PLANE, "stat", "-c", "%i", aside[0]).stdout.strip() == old_inode
    assert on_host(CONTROL_PLANE, "test", "-d", aside[0] + "/member/snap").returncode == 0
    marker = json.loads(on_host(CONTROL_PLANE, "cat", DATA_DIR + ".restored.json").stdout)
    expected = open(STATE["snapshot"] + ".sha256").read().split()[0]
    assert marker["sha256"] == expected and marker["previous_data_dir"] == aside[0], marker
    assert on_host(CONTROL_PLANE, "stat", "-c", "%i", DATA_DIR).stdout.strip() != old_inode
    STATE["aside"] = aside


@pytest.mark.timeout(900)
def test_the_same_snapshot_again_changes_nothing(lab):
    before = etcd_state()
    report, proc, took = playbook("etcd_restore.yml", "-e", "etcd_restore_snapshot=%s" % STATE["snapshot"])
    TIMES["etcd_restore.yml again"] = took
    assert_converged(report, proc, "a second restore of the same snapshot")
    assert any("etcd_restore_force" in m for m in messages(report)), messages(report)
    assert etcd_state() == before


# --- certificates ---------------------------------------------------------------------------------

def issued():
    """{node/name: serial} of every certificate in the CA directory, and the hosts' copies."""
    out = on_host(CONTROL_PLANE, "sh", "-c", "for f in %s/issued/*/*.crt; do echo \"$f $(base64 -w0 < $f)\"; done"
                  % CA_DIR).stdout
    serials = {}
    for line in out.splitlines():
        path, data = line.split(" ", 1)
        cert = x509.load_pem_x509_certificate(base64.b64decode(data))
        serials["/".join(path.split("/")[-2:])[:-4]] = cert.serial_number
    return serials


def host_serials(host):
    out = on_host(host, "sh", "-c", "for f in %s/*.crt; do echo \"$f $(base64 -w0 < $f)\"; done" % PKI_DIR).stdout
    return {os.path.basename(p)[:-4]: x509.load_pem_x509_certificate(base64.b64decode(d)).serial_number
            for p, d in (line.split(" ", 1) for line in out.splitlines())}


def served_serial():
    pem = ssl.get_server_certificate(API)
    return x509.load_pem_x509_certificate(pem.encode()).serial_number


def units_since(host):
    units = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "containerd"]
    return {u: unit_since(host, u + ".service") for u in units}


@pytest.mark.timeout(1800)
def test_certs_renew_in_check_mode_names_them_and_changes_nothing(lab):
    before = issued()
    report, proc, took = playbook("certs_renew.yml", "--check", "--limit", ",".join(MEMBERS), "-e", "certs_renew_days=400")
    TIMES["certs_renew.yml --check"] = took
    assert_ok(report, proc)
    report_line = [m for m in messages(report) if m.startswith("would renew")]
    assert report_line and "%s/apiserver" % CONTROL_PLANE in report_line[0], messages(report)
    assert issued() == before
    STATE["serials"] = before


@pytest.mark.timeout(3600)
def test_certs_renew_beyond_their_lifetime_renews_every_one_and_restarts_only_their_readers(lab):
    before = STATE.get("serials") or issued()
    served_before = served_serial()
    assert served_before == before[CONTROL_PLANE + "/apiserver"]
    worker = MEMBERS[1]  # a node that runs no control plane
    since = {h: units_since(h) for h in (CONTROL_PLANE, worker)}
    ca_files = "sha256sum %s/*.crt %s/*.key %s/issued/*/*.key" % (CA_DIR, CA_DIR, CA_DIR)
    ca_before = on_host(CONTROL_PLANE, "sh", "-c", ca_files).stdout
    report, proc, took = playbook("certs_renew.yml", "--limit", ",".join(MEMBERS), "-e", "certs_renew_days=400")
    TIMES["certs_renew.yml (every certificate)"] = took
    assert_ok(report, proc)
    after = issued()
    assert set(after) == set(before)
    assert [k for k in before if after[k] == before[k]] == [], "not renewed"
    # Every host has its new certificates.
    for host in MEMBERS:
        node = host.lower()
        mine = {k.split("/")[1]: v for k, v in after.items() if k.split("/")[0] == node}
        assert mine and {k: v for k, v in host_serials(host).items() if k in mine} == mine, host
    # The API server answers with the new serving certificate.
    served = served_serial()
    assert served == after[CONTROL_PLANE + "/apiserver"] != served_before
    states = wait_for("every node Ready after the renewal", all_ready, timeout=600, interval=5)
    log("nodes after the renewal: %s" % states)
    # Only the readers of a changed file restarted: containerd on neither host; on the worker
    # kubelet and kube-proxy, nothing of the control plane (it runs none).
    now = {h: units_since(h) for h in (CONTROL_PLANE, worker)}
    for unit in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"):
        assert now[CONTROL_PLANE][unit] != since[CONTROL_PLANE][unit], unit
    assert now[CONTROL_PLANE]["containerd"] == since[CONTROL_PLANE]["containerd"]
    assert now[worker]["containerd"] == since[worker]["containerd"]
    assert now[worker]["kubelet"] != since[worker]["kubelet"]
    # The CAs and every key stay.
    assert on_host(CONTROL_PLANE, "sh", "-c", ca_files).stdout == ca_before
    # The controller's admin kubeconfig carries the new admin certificate.
    with open(KUBECONFIG) as fh:
        user = yaml.safe_load(fh)["users"][0]["user"]
    admin = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
    assert admin.serial_number == after[CONTROL_PLANE + "/admin"]


@pytest.mark.timeout(1800)
def test_certs_renew_with_threshold_zero_changes_nothing_and_site_keeps_the_renewed_ones(lab):
    before = issued()
    report, proc, took = playbook("certs_renew.yml", "--limit", ",".join(MEMBERS), "-e", "certs_renew_days=0")
    TIMES["certs_renew.yml (threshold 0)"] = took
    assert_converged(report, proc, "certs_renew.yml with certs_renew_days=0")
    assert issued() == before


@pytest.mark.timeout(1800)
def test_site_yml_keeps_the_renewed_certificates_and_warns_about_those_within_its_threshold(lab):
    """site.yml's own check keeps them (they are what the kubernetes role asks for), and its
    preflight warns about those within its threshold."""
    report, proc, took = playbook("site.yml", "--check", "--limit", "%s,%s" % (CONTROL_PLANE, MEMBERS[1]),
                                  "-e", "certs_renew_days=400")
    TIMES["site.yml --check after the renewal"] = took
    assert_converged(report, proc, "site.yml --check after the renewal")
    warnings = [m for m in messages(report) if m.startswith("WARNING") and "certs_renew.yml" in m]
    assert warnings and "%s/apiserver" % CONTROL_PLANE in warnings[0], messages(report)[-20:]
