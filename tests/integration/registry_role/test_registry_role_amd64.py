"""xinchuang.cloud.registry on a real systemd host: the amd64 lab image, booted as a container
of its own (xc-reg-amd64) on an internal network, installing Debian's docker-registry,
apache2-utils (htpasswd) and python3-apt from a local Debian repository (the site's mirror; the
host has no route out). The certificate is issued by a CA on this machine (key and request on
the host, signature here). skopeo on this machine pushes and pulls through it, TLS verified
against that CA.

The tests run in file order on one host: bad inputs first (the host must stay untouched), then
check mode on the fresh host, the first run, the second run, check mode, a password change, the
garbage collection service.
"""

import base64
import hashlib
import os
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request

import pytest
import yaml

from tests.integration.ansible_run import ROOT
from tests.integration.registry_role import lab_host
from tests.integration.registry_role.lab_host import (
    LabHost, changed_tasks, debian_repository, failures, run_play)

pytestmark = pytest.mark.slow

PACKAGES = ["docker-registry", "apache2-utils", "python3-apt"]
ALICE = {"name": "alice", "password": "alice-Secret-1"}
BOB = {"name": "bob", "password": "bob:Secret 2"}  # a colon and a blank: bcrypt takes any byte
REGISTRY_FILES = ["/etc/docker/registry/config.yml", "/etc/docker/registry/htpasswd",
                  "/etc/docker/registry/server.key", "/etc/systemd/system/docker-registry.service"]


@pytest.fixture(scope="module")
def host():
    lab = LabHost("xc-reg-amd64", "amd64", debian_repository("amd64", PACKAGES)).start()
    try:
        yield lab
    finally:
        lab.remove()


@pytest.fixture(scope="module")
def role_vars(test_ca, host):
    return {
        "registry_tls_ca_cert": test_ca.cert,
        "registry_tls_ca_key": test_ca.key,
        # This machine reaches the host by its address on the internal network.
        "registry_tls_extra_names": [host.address],
        "registry_users": [ALICE, BOB],
    }


def run_role(host, role_vars, check=False, **more):
    return lab_host.run_role("xinchuang.cloud.registry", host, dict(role_vars, **more), check=check)


def host_untouched(host):
    """The role has written nothing: no package, none of its files."""
    status = host.run(["dpkg-query", "-W", "-f", "${Status}", "docker-registry"], check=False)
    assert "install ok installed" not in status.stdout
    present = host.run(["sh", "-c", "ls %s 2>/dev/null; true" % " ".join(REGISTRY_FILES)]).stdout
    assert present.strip() == ""


def get_v2(host, user=None, password=None, cafile=None):
    """GET /v2/ from this machine, TLS verified against cafile: the HTTP status."""
    req = urllib.request.Request("https://%s:5000/v2/" % host.address)
    if user:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    ctx = ssl.create_default_context(cafile=cafile)
    try:
        return urllib.request.urlopen(req, context=ctx, timeout=10).status
    except urllib.error.HTTPError as err:
        return err.code


def skopeo(*args):
    return subprocess.run(["skopeo"] + list(args), capture_output=True, text=True, timeout=300,
                          check=False)


# --- bad inputs: the preflight stops before anything changes ----------------------------------

def test_user_without_password_stops_before_any_change(host, role_vars):
    report, proc = run_role(host, role_vars, registry_users=[ALICE, {"name": "carol"}])
    assert proc.returncode != 0
    msgs = [m for _task, m in failures(report, host.name)]
    assert any("'carol' has no password" in m and "registry_users" in m for m in msgs), msgs
    assert changed_tasks(report, host.name) == []
    host_untouched(host)


def test_certificate_and_key_that_do_not_match_stop_before_any_change(host, role_vars, test_ca):
    cert, _key = test_ca.issue("server-a", ["DNS:xc-reg-amd64", "IP:" + host.address])
    _cert, other_key = test_ca.issue("server-b", ["DNS:xc-reg-amd64", "IP:" + host.address])
    given = dict(role_vars, registry_tls_ca_key="", registry_tls_cert_file=cert,
                 registry_tls_key_file=other_key)
    report, proc = run_role(host, given)
    assert proc.returncode != 0
    msgs = [m for _task, m in failures(report, host.name)]
    assert any("the key does not belong to the certificate" in m for m in msgs), msgs
    # The key itself is never printed (the check runs under no_log).
    assert "PRIVATE KEY" not in proc.stdout
    assert changed_tasks(report, host.name) == []
    host_untouched(host)


def test_certificate_not_naming_the_host_stops_before_any_change(host, role_vars, test_ca):
    cert, key = test_ca.issue("elsewhere", ["DNS:registry.elsewhere.example"])
    given = dict(role_vars, registry_tls_ca_key="", registry_tls_cert_file=cert,
                 registry_tls_key_file=key)
    report, proc = run_role(host, given)
    assert proc.returncode != 0
    msgs = [m for _task, m in failures(report, host.name)]
    assert any("does not name xc-reg-amd64, %s" % host.address in m
               and "DNS:registry.elsewhere.example" in m for m in msgs), msgs
    host_untouched(host)


def test_storage_of_another_service_is_refused(host, role_vars):
    report, proc = run_role(host, role_vars, registry_storage_path="/var/lib/containerd/registry")
    assert proc.returncode != 0
    msgs = [m for _task, m in failures(report, host.name)]
    assert any("/var/lib/containerd/registry lies in /var/lib/containerd" in m for m in msgs), msgs
    host_untouched(host)


def test_port_held_by_another_process_is_refused(host, role_vars):
    # Another service on the port the registry wants: a plain HTTP server of the host's Python.
    host.run(["systemd-run", "--unit", "xc-port-squatter", "python3", "-m", "http.server", "5000"])
    try:
        host.run(["sh", "-c", "for i in $(seq 50); do ss -Hltn 'sport = :5000' | grep -q . && exit 0;"
                  " sleep 0.2; done; exit 1"])
        report, proc = run_role(host, role_vars)
    finally:
        host.run(["systemctl", "stop", "xc-port-squatter"])
    assert proc.returncode != 0
    msgs = [m for _task, m in failures(report, host.name)]
    assert any("port 5000 is held by python3 (pid" in m and "of xc-port-squatter.service" in m
               for m in msgs), msgs
    host_untouched(host)


# --- check mode on the fresh host ----------------------------------------------------------------

def test_check_mode_on_the_fresh_host_changes_nothing(host, role_vars):
    report, proc = run_role(host, role_vars, check=True)
    assert proc.returncode == 0, failures(report, host.name) or proc.stderr[-2000:]
    changed = changed_tasks(report, host.name)
    # It says what it would do ...
    assert "Registry | Say which OS packages would be installed (check mode, no python3-apt)" in changed
    assert "Registry | Write config.yml" in changed
    # ... and does none of it.
    host_untouched(host)


# --- the real run -----------------------------------------------------------------------------

def test_first_run_serves_a_push_and_a_pull_over_verified_tls(host, role_vars, test_ca,
                                                              image_layout):
    report, proc = run_role(host, role_vars)
    assert proc.returncode == 0, failures(report, host.name) or proc.stderr[-2000:]
    # Passwords never reach the output, not even through a loop item.
    for secret in (ALICE["password"], BOB["password"]):
        assert secret not in proc.stdout and secret not in proc.stderr
    assert host.run(["systemctl", "is-active", "docker-registry"]).stdout.strip() == "active"
    assert host.run(["systemctl", "is-enabled", "docker-registry-gc.timer"]).stdout.strip() == "enabled"
    # The package's own start at install (an open registry on :5000) never happened: every
    # start of the unit served TLS.
    journal = host.run(["journalctl", "-u", "docker-registry", "--no-pager", "-o", "cat"]).stdout
    listening = [line for line in journal.splitlines() if "listening on" in line]
    assert listening and all(", tls" in line for line in listening), listening

    layout, image = image_layout
    ref = "docker://%s:5000/xc-test/app:1.0" % host.address
    pushed = skopeo("copy", "--dest-cert-dir", test_ca.cert_dir,
                    "--dest-creds", "%s:%s" % (ALICE["name"], ALICE["password"]), layout, ref)
    assert pushed.returncode == 0, pushed.stderr
    raw = skopeo("inspect", "--raw", "--cert-dir", test_ca.cert_dir,
                 "--creds", "%s:%s" % (BOB["name"], BOB["password"]), ref)
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.encode() == image["manifest"]
    with tempfile.TemporaryDirectory() as tmp:
        pulled = skopeo("copy", "--src-cert-dir", test_ca.cert_dir,
                        "--src-creds", "%s:%s" % (ALICE["name"], ALICE["password"]),
                        ref, "oci:%s:pulled" % tmp)
        assert pulled.returncode == 0, pulled.stderr
        layer = image["layer"]
        with open(os.path.join(tmp, "blobs", "sha256", hashlib.sha256(layer).hexdigest()), "rb") as fh:
            assert fh.read() == layer

    # TLS is verified: the system's CAs do not know the registry's; no credentials, no access.
    untrusted = skopeo("inspect", "--raw", "--creds", "%s:%s" % (ALICE["name"], ALICE["password"]), ref)
    assert untrusted.returncode != 0 and "certificate" in untrusted.stderr
    assert get_v2(host, cafile=test_ca.cert) == 401
    assert get_v2(host, ALICE["name"], "wrong", cafile=test_ca.cert) == 401


def test_files_carry_the_settings_and_keep_secrets_private(host, role_vars):
    data = yaml.safe_load(host.run(["cat", "/etc/docker/registry/config.yml"]).stdout)
    assert data["storage"]["delete"]["enabled"] is True
    assert data["storage"]["filesystem"]["rootdirectory"] == "/var/lib/docker-registry"
    assert data["http"]["addr"] == ":5000"
    assert data["auth"]["htpasswd"]["path"] == "/etc/docker/registry/htpasswd"
    modes = host.run(["stat", "-c", "%n %U:%G %a", "/etc/docker/registry/server.key",
                      "/etc/docker/registry/htpasswd", "/var/lib/docker-registry"]).stdout.split("\n")
    assert "/etc/docker/registry/server.key root:docker-registry 640" in modes
    assert "/etc/docker/registry/htpasswd root:docker-registry 640" in modes
    assert "/var/lib/docker-registry docker-registry:docker-registry 750" in modes
    users = host.run(["cut", "-d:", "-f1", "/etc/docker/registry/htpasswd"]).stdout.split()
    assert users == ["alice", "bob"]
    assert all(line.split(":", 1)[1].startswith("$2y$") for line in
               host.run(["cat", "/etc/docker/registry/htpasswd"]).stdout.split())


def test_second_run_changes_nothing(host, role_vars):
    report, proc = run_role(host, role_vars)
    assert proc.returncode == 0, failures(report, host.name)
    assert changed_tasks(report, host.name) == []


def test_check_mode_changes_nothing(host, role_vars):
    report, proc = run_role(host, role_vars, check=True)
    assert proc.returncode == 0, failures(report, host.name)
    assert changed_tasks(report, host.name) == []


def test_changed_password_takes_effect_and_removed_user_is_gone(host, role_vars, test_ca):
    pid_before = host.run(["systemctl", "show", "-p", "MainPID", "--value", "docker-registry"]).stdout
    new_alice = {"name": "alice", "password": "alice-Secret-2"}
    report, proc = run_role(host, role_vars, registry_users=[new_alice])
    assert proc.returncode == 0, failures(report, host.name)
    assert changed_tasks(report, host.name) == ["Registry | Write the htpasswd file"]
    assert get_v2(host, "alice", "alice-Secret-2", cafile=test_ca.cert) == 200
    assert get_v2(host, "alice", ALICE["password"], cafile=test_ca.cert) == 401
    assert get_v2(host, BOB["name"], BOB["password"], cafile=test_ca.cert) == 401
    # distribution re-reads htpasswd: no restart was needed.
    assert host.run(["systemctl", "show", "-p", "MainPID", "--value", "docker-registry"]).stdout == pid_before
    again = run_role(host, role_vars, registry_users=[new_alice])[0]
    assert changed_tasks(again, host.name) == []


def test_garbage_collection_frees_a_deleted_image(host, test_ca, image_layout):
    _layout, image = image_layout
    creds = "alice:alice-Secret-2"
    ref = "docker://%s:5000/xc-test/app:1.0" % host.address
    layer_digest = hashlib.sha256(image["layer"]).hexdigest()
    layer_blob = "/var/lib/docker-registry/docker/registry/v2/blobs/sha256/%s/%s/data" % (
        layer_digest[:2], layer_digest)
    assert host.run(["test", "-f", layer_blob], check=False).returncode == 0, layer_blob
    # storage.delete is on: the manifest can be deleted through the API.
    deleted = skopeo("delete", "--cert-dir", test_ca.cert_dir, "--creds", creds, ref)
    assert deleted.returncode == 0, deleted.stderr
    # The timer's service: registry stopped, garbage-collect, registry started again.
    host.run(["systemctl", "start", "docker-registry-gc.service"], timeout=300)
    assert host.run(["test", "-f", layer_blob], check=False).returncode != 0
    assert host.run(["systemctl", "is-active", "docker-registry"]).stdout.strip() == "active"
    log = host.run(["journalctl", "-u", "docker-registry-gc.service", "--no-pager"]).stdout
    assert "blob eligible for deletion" in log or "Deleting blob" in log, log[-2000:]


def test_registry_playbook_runs_the_layer_on_the_registry_group(host, role_vars):
    new_alice = {"name": "alice", "password": "alice-Secret-2"}
    report, proc = run_play([host], playbook=os.path.join(ROOT, "playbooks", "registry.yml"),
                            groups=["registry"], extra_vars=dict(role_vars, registry_users=[new_alice]))
    assert proc.returncode == 0, failures(report, host.name) or proc.stderr[-2000:]
    plays = [p["play"]["name"] for p in report["plays"]]
    assert "Registry | CNCF distribution on the registry group" in plays
    # The registry is the one the role made above: only the preflight role's facts are new.
    assert [t for t in changed_tasks(report, host.name) if t.startswith("Registry |")] == []
    assert host.run(["systemctl", "is-active", "docker-registry"]).stdout.strip() == "active"
