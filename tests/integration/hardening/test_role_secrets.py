"""The kubernetes role's Secrets-at-rest tasks (roles/kubernetes/tasks/encryption_key.yml,
encryption_config.yml, secrets_rewrite.yml) run through ansible-playbook against the testbed's
real API server and etcd: a Secret stored before encryption (plain in etcd) is still read
through the identity fallback, the role's rewrite stores it aescbc-encrypted, a rerun changes
nothing, the key is made once, and neither the key nor the Secret's value reaches Ansible's output.

The testbed's API server reads its own encryption configuration (the same builder); the role's
configuration is written to a temporary directory and compared with it in form only.
"""

import base64
import json
import os
import stat
import subprocess
import uuid

import pytest
import yaml

from ..ansible_run import run_playbook
from ..testbed.helpers import unique_namespace
from .test_hardening import etcd_value, port, pki

pytestmark = pytest.mark.slow


def role_tasks(testbed, tmp):
    """The role's three task files, with its defaults and vars (include_role), on localhost as the
    CA host, kubectl and the admin kubeconfig of the testbed."""
    config_dir = os.path.join(tmp, "etc")
    os.makedirs(config_dir, exist_ok=True)
    admin_conf = os.path.join(config_dir, "admin.conf")
    if not os.path.exists(admin_conf):
        os.symlink(testbed.kubeconfig, admin_conf)
    role_vars = {
        "kubernetes_config_dir": config_dir, "kubernetes_ca_dir": os.path.join(tmp, "ca"),
        "kubernetes_bin_dir": os.path.dirname(testbed.kubectl_path),
        "_kubernetes_ca_host": "localhost",
        # No service of this host is the role's: its handlers restart nothing here.
        "__kubernetes_services_managed": False, "__kubernetes_joins": False, "_kubernetes_services_to_restart": [],
    }
    ca_dir = {"path": role_vars["kubernetes_ca_dir"], "state": "directory", "mode": "0700"}
    tasks = [{"name": "CA directory", "ansible.builtin.file": ca_dir}]
    for name in ("encryption_key", "encryption_config", "secrets_rewrite"):
        tasks.append({"name": "Role " + name, "ansible.builtin.include_role": {
            "name": "xinchuang.cloud.kubernetes", "tasks_from": name}, "vars": role_vars})
    return tasks, role_vars


def changed_names(report):
    """The changed tasks' names, without the role's prefix."""
    return [t["task"]["name"].split(" : ", 1)[-1] for play in report["plays"] for t in play["tasks"]
            if any(h.get("changed") for h in t["hosts"].values())]


def run(testbed, tmp):
    tasks, role_vars = role_tasks(testbed, tmp)
    report, proc = run_playbook(tasks)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return report, proc, role_vars


def test_the_roles_rewrite_encrypts_a_secret_stored_before_and_a_rerun_changes_nothing(testbed, tmp_path):
    ns = unique_namespace(testbed, "rewrite")
    value = "before-" + uuid.uuid4().hex
    try:
        # A Secret as an API server without encryption stored it: plain JSON in etcd.
        old = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": "old", "namespace": ns, "uid": str(uuid.uuid4()),
                            "creationTimestamp": "2026-01-01T00:00:00Z"},
               "data": {"password": base64.b64encode(value.encode()).decode()}}
        etcdctl = os.path.join(os.path.dirname(os.path.realpath(os.path.join(testbed.state_dir, "bin", "etcd"))),
                               "etcdctl")
        subprocess.run([etcdctl, "--endpoints", "https://127.0.0.1:%d" % port("ETCD", 12379),
                        "--cacert", pki(testbed, "etcd-ca.crt"), "--cert", pki(testbed, "apiserver-etcd-client.crt"),
                        "--key", pki(testbed, "apiserver-etcd-client.key"), "put", "/registry/secrets/%s/old" % ns,
                        json.dumps(old)], check=True, capture_output=True, timeout=30)
        assert etcd_value(testbed, "/registry/secrets/%s/old" % ns).startswith(b"{")
        # Read through the identity provider, the encryption configuration's fallback.
        assert testbed.get_json("secret", "old", "-n", ns)["data"]["password"] == old["data"]["password"]

        report, proc, role_vars = run(testbed, str(tmp_path))
        assert "Kubernetes | Make the Secrets encryption key once on the first control plane host" in changed_names(report)
        assert "Kubernetes | Rewrite every Secret with the current encryption configuration, once" in changed_names(report)
        stored = etcd_value(testbed, "/registry/secrets/%s/old" % ns)
        assert stored.startswith(b"k8s:enc:aescbc:v1:key1:") and value.encode() not in stored
        assert testbed.get_json("secret", "old", "-n", ns)["data"]["password"] == old["data"]["password"]

        key_file = os.path.join(role_vars["kubernetes_ca_dir"], "encryption-aescbc.key")
        config_file = os.path.join(role_vars["kubernetes_config_dir"], "encryption-config.yaml")
        with open(key_file) as fh:
            key = fh.read().strip()
        assert len(base64.b64decode(key)) == 32
        for path in (key_file, config_file):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        with open(config_file) as fh:
            config = yaml.safe_load(fh)
        with open(os.path.join(testbed.state_dir, "encryption-config.yaml")) as fh:
            testbeds = yaml.safe_load(fh)
        providers = config["resources"][0]["providers"]
        assert providers[0]["aescbc"]["keys"] == [{"name": "key1", "secret": key}]
        assert [list(p) for p in providers] == [list(p) for p in testbeds["resources"][0]["providers"]]
        for text in (proc.stdout, proc.stderr):
            assert key not in text and value not in text

        # Again: the key is kept, the configuration and the Secrets are left alone.
        mtime = os.stat(key_file).st_mtime_ns
        report, proc, role_vars = run(testbed, str(tmp_path))
        assert changed_names(report) == [], changed_names(report)
        assert os.stat(key_file).st_mtime_ns == mtime
        assert key not in proc.stdout + proc.stderr
    finally:
        testbed.kubectl("delete", "namespace", ns, "--wait=false")
