"""The kingbase role's kubernetes form (engine postgresql) on a node that runs containers
(kubelet_node.py: containerd and the kubelet of the offline bundle on this machine, joined to a
test bed of their own), with the app store's PostgreSQL image (the recipe postgresql of
plugins/module_utils/images/app_images.py, XC_IMAGES_SET=apps hack/images.sh: the application images'
children for this machine's architecture, built when missing - the gate's binaries stage builds
them - and pushed to the session's registry).

In order, on one StatefulSet whose data sits on a local PV of that node:
check mode makes nothing; the first run brings the Pod to Ready (its probe: select 1 through psql
on the socket), the server answers select 1 and a password login over TCP; a rerun and check
mode change nothing; a user and its database are made through the client in the Pod; a row
survives the Pod's deletion; a reload key (work_mem) is reloaded without a restart; a start-only
key (shared_buffers) rolls the Pod and its rerun changes nothing; a new superuser password is set through SQL; the StatefulSet
and the claim deleted, the PV is kept (Released, Retain) with the cluster's files in it.
Every run's output is searched for the passwords it was given (no_log). The objects the role
makes (image, Services, ConfigMap, Secret) are checked after the first run.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.storage import local as storage_local
from tests.integration.ansible_run import ROOT, run_playbook
from tests.integration.fixtures_containerd import host_goarch
from tests.integration.kingbase.kubelet_node import NODE, KubeletNode

pytestmark = pytest.mark.slow

NAMESPACE = "kb-node"
VOLUME = "db"
TIMES = {}


@pytest.fixture(scope="module")
def pg_image(registry, tmp_path_factory):
    """The postgresql image's child for this machine and an index of it in the session's registry; its tag.
    hack/images.sh pushes every application image of this GOARCH (it builds no single one)."""
    pwfile = tmp_path_factory.mktemp("pg-image") / "password"
    pwfile.write_text(registry.password + "\n")
    started = time.time()
    proc = subprocess.run([os.path.join(ROOT, "hack", "images.sh"), "push", registry.host, "--ca", registry.ca,
                           "--username", registry.username, "--password-file", str(pwfile), host_goarch()],
                          capture_output=True, text=True, cwd=ROOT, timeout=5400, check=False,
                          env=dict(os.environ, XC_IMAGES_SET="apps"))
    TIMES["postgresql image (build when missing, push)"] = time.time() - started
    assert proc.returncode == 0, proc.stderr[-4000:]
    index = [line for line in proc.stderr.splitlines() if line.startswith("INDEX ") and "/appstore/postgresql:" in line]
    assert index, proc.stderr[-2000:]
    return index[0].split()[1].rsplit(":", 1)[1]


@pytest.fixture(scope="module")
def node(testbed, registry):  # testbed: the control plane's binaries are built
    workdir = os.path.realpath("/var/tmp/xc-kb-node")
    if os.path.isdir(workdir):
        from tests.integration.kingbase.kubelet_node import unmount_under
        unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    made = KubeletNode(workdir, registry)
    try:
        made.start()
        TIMES.update(made.timings)
        yield made
    finally:
        made.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        sys.stderr.write("\nkingbase node timings: %s\n" % ", ".join("%s %.0f s" % kv for kv in TIMES.items()))


@pytest.fixture(scope="module")
def volume(node):
    """local-storage and a local PV on the node (storage_local's objects), as the role's docs ask."""
    path = os.path.join(node.workdir, "pv", VOLUME)
    os.makedirs(path)
    node.bed.apply({"apiVersion": "v1", "kind": "List",
                    "items": storage_local.cluster_objects({NODE: [{"name": VOLUME, "path": path, "capacity": "2Gi"}]})})
    return {"path": path, "pv": storage_local.pv_name(NODE, VOLUME)}


def role_vars(node, registry, tag, **extra):
    out = {"kingbase_deploy": "kubernetes", "kingbase_engine": "postgresql", "kingbase_name": "pg",
           "kingbase_namespace": NAMESPACE, "kingbase_families": [arch.family_of(host_goarch())],
           "kingbase_registry": registry.host, "kingbase_image": "appstore/postgresql:" + tag,
           "kingbase_registry_auth": {"ca_file": registry.ca, "username": registry.username,
                                      "password": registry.password},
           "kingbase_storage_size": "1Gi", "kingbase_kubeconfig": node.bed.kubeconfig,
           "kingbase_system_password": "Pg-first-s3cret", "kingbase_rollout_timeout": 300,
           "kingbase_resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
           "ansible_python_interpreter": sys.executable}
    out.update(extra)
    return out


def passwords(value, key=""):
    """Every string under a key ending in "password", at any depth of the role's variables."""
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in passwords(v, k)]
    if isinstance(value, list):
        return [found for v in value for found in passwords(v, key)]
    return [value] if key.endswith("password") and isinstance(value, str) and value else []


def run_role(vars_, check=False):
    tasks = [{"name": "kingbase", "ansible.builtin.include_role": {"name": "xinchuang.cloud.kingbase"}}]
    started = time.time()
    report, proc = run_playbook(tasks, check=check, extra_vars=vars_)
    results = [t["hosts"].get("localhost", {}) for t in report["plays"][0]["tasks"]]
    failures = ["%s: %s" % (t["task"]["name"], t["hosts"].get("localhost", {}).get("msg"))
                for t in report["plays"][0]["tasks"] if t["hosts"].get("localhost", {}).get("failed")]
    assert not failures, "\n".join(failures) + "\n" + proc.stdout[-3000:]
    # no_log: no password the role was given is in its output.
    leaked = [secret for secret in passwords(vars_) if secret in proc.stdout]
    assert not leaked, "in the role's output: %s" % leaked
    # Task names without the role's prefix ("xinchuang.cloud.kingbase : ").
    changed = [t["task"]["name"].split(" : ", 1)[-1] for t in report["plays"][0]["tasks"]
               if t["hosts"].get("localhost", {}).get("changed")]
    return report["stats"]["localhost"], changed, results, time.time() - started


def kubectl_json(node, *args):
    proc = node.bed.kubectl("get", "-o", "json", *args)
    return None if proc.returncode else json.loads(proc.stdout)


def psql(node, sql, password=None, tcp=False):
    """psql of the image in the Pod: on the socket as the container's user, or over TCP with a password."""
    if tcp:
        argv = ["sh", "-c", "PGPASSWORD=\"$1\" psql -X -A -t -h 127.0.0.1 -U postgres -d postgres -c \"$2\"",
                "sh", password, sql]
    else:
        argv = ["psql", "-X", "-A", "-t", "-h", "/tmp", "-U", "postgres", "-d", "postgres", "-c", sql]
    return node.bed.kubectl("exec", "-n", NAMESPACE, "pg-0", "-c", "database", "--", *argv, timeout=60)


def wait_ready(node, old_uid=None, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        pod = kubectl_json(node, "pod", "-n", NAMESPACE, "pg-0")
        if pod and pod["metadata"]["uid"] != old_uid and any(
                c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or []):
            return pod
        time.sleep(2)
    raise AssertionError("pg-0 not Ready again in %ss: %s" % (timeout, node.bed.kubectl(
        "describe", "pod", "-n", NAMESPACE, "pg-0").stdout[-3000:]))


def test_the_statefulset_runs_postgresql_and_keeps_its_data(node, registry, pg_image, volume):
    vars_ = role_vars(node, registry, pg_image)

    stats, changed, _results, _secs = run_role(vars_, check=True)
    assert stats["failures"] == 0 and changed
    assert kubectl_json(node, "namespace", NAMESPACE) is None

    stats, changed, _results, secs = run_role(vars_)
    TIMES["first run (pull, initdb, Ready)"] = secs
    pod = kubectl_json(node, "pod", "-n", NAMESPACE, "pg-0")
    assert pod["spec"]["nodeName"] == NODE and pod["status"]["phase"] == "Running"
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])
    assert psql(node, "select 1").stdout.strip() == "1"
    login = psql(node, "select current_user", password="Pg-first-s3cret", tcp=True)
    assert login.stdout.strip() == "postgres", login.stderr
    assert psql(node, "select 1", password="wrong", tcp=True).returncode != 0
    assert kubectl_json(node, "pvc", "-n", NAMESPACE, "data-pg-0")["spec"]["volumeName"] == volume["pv"]
    assert os.path.exists(os.path.join(volume["path"], "pgdata", "PG_VERSION"))
    sts = kubectl_json(node, "statefulset", "-n", NAMESPACE, "pg")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "%s/appstore/postgresql:%s" % (
        registry.host, pg_image)
    assert kubectl_json(node, "service", "-n", NAMESPACE, "pg-headless")["spec"]["clusterIP"] == "None"
    assert kubectl_json(node, "service", "-n", NAMESPACE, "pg")["spec"]["ports"][0]["port"] == 5432
    assert "hba_file = '/etc/xinchuang-db/pg_hba.conf'" in kubectl_json(
        node, "configmap", "-n", NAMESPACE, "pg-conf")["data"]["postgresql.conf"]
    assert set(kubectl_json(node, "secret", "-n", NAMESPACE, "pg-auth")["data"]) == {"password"}

    stats, changed, _results, secs = run_role(vars_)
    TIMES["rerun"] = secs
    assert stats["changed"] == 0, changed
    stats, changed, _results, _secs = run_role(vars_, check=True)
    assert stats["changed"] == 0, changed

    # Users and databases through the client in the Pod; a rerun writes nothing.
    with_app = dict(vars_, kingbase_users=[{"name": "app", "password": "App-s3cret"}],
                    kingbase_databases=[{"name": "appdb", "owner": "app"}])
    stats, changed, results, _secs = run_role(with_app)
    assert any("create database appdb" in str(r.get("msg")) for r in results), changed
    assert psql(node, "select pg_get_userbyid(datdba) from pg_database where datname = 'appdb'").stdout.strip() == "app"
    stats, changed, _results, _secs = run_role(with_app)
    assert stats["changed"] == 0, changed

    # A row survives the Pod's deletion (the claim and its local PV stay).
    assert psql(node, "create table kept (v text); insert into kept values ('still here')").returncode == 0
    uid = pod["metadata"]["uid"]
    node.bed.kubectl("delete", "pod", "-n", NAMESPACE, "pg-0", "--wait=true", timeout=180)
    pod = wait_ready(node, uid)
    assert psql(node, "select v from kept").stdout.strip() == "still here"

    # A reload key: the server reloads (same start time, same Pod) and has the new value.
    started_at = psql(node, "select pg_postmaster_start_time()").stdout.strip()
    reload_vars = dict(with_app, kingbase_conf={"work_mem": "8MB"})
    stats, changed, _results, secs = run_role(reload_vars)
    TIMES["reload run (ConfigMap seen, pg_reload_conf)"] = secs
    assert "Kingbase | Reload the server" in changed, changed
    assert psql(node, "show work_mem").stdout.strip() == "8MB"
    assert psql(node, "select pg_postmaster_start_time()").stdout.strip() == started_at
    assert kubectl_json(node, "pod", "-n", NAMESPACE, "pg-0")["metadata"]["uid"] == pod["metadata"]["uid"]
    stats, changed, _results, _secs = run_role(reload_vars)
    assert stats["changed"] == 0, changed

    # A key read at start only: the Pod rolls and the server starts with it; the data stays.
    restart_vars = dict(with_app, kingbase_conf={"work_mem": "8MB", "shared_buffers": "64MB"})
    stats, changed, _results, secs = run_role(restart_vars)
    TIMES["restart run (Pod rolled, Ready)"] = secs
    assert "Kingbase | Reload the server" not in changed
    pod = wait_ready(node, pod["metadata"]["uid"])
    assert psql(node, "show shared_buffers").stdout.strip() == "64MB"
    assert "shared_buffers = '64MB'" in kubectl_json(node, "configmap", "-n", NAMESPACE, "pg-conf")["data"][
        "postgresql.conf"]
    assert psql(node, "select v from kept").stdout.strip() == "still here"
    stats, changed, _results, _secs = run_role(restart_vars)
    assert stats["changed"] == 0, changed

    # A new superuser password: the Secret and the server (through SQL), no restart.
    new_password = dict(restart_vars, kingbase_system_password="Pg-second-s3cret")
    stats, changed, _results, _secs = run_role(new_password)
    assert psql(node, "select 1", password="Pg-second-s3cret", tcp=True).stdout.strip() == "1"
    assert psql(node, "select 1", password="Pg-first-s3cret", tcp=True).returncode != 0
    assert kubectl_json(node, "pod", "-n", NAMESPACE, "pg-0")["metadata"]["uid"] == pod["metadata"]["uid"]

    # The StatefulSet and its claim deleted: the PV stays, Released, and so do the cluster's files.
    node.bed.kubectl("delete", "statefulset", "-n", NAMESPACE, "pg", "--wait=true", timeout=180, check=True)
    assert kubectl_json(node, "pvc", "-n", NAMESPACE, "data-pg-0")["status"]["phase"] == "Bound"
    node.bed.kubectl("delete", "pvc", "-n", NAMESPACE, "data-pg-0", "--wait=true", timeout=180, check=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        pv = kubectl_json(node, "pv", volume["pv"])
        if pv["status"]["phase"] == "Released":
            break
        time.sleep(1)
    assert (pv["status"]["phase"], pv["spec"]["persistentVolumeReclaimPolicy"]) == ("Released", "Retain")
    assert os.path.exists(os.path.join(volume["path"], "pgdata", "PG_VERSION"))
