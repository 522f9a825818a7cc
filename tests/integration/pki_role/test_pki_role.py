"""xinchuang.cloud.pki on this machine: two inventory hosts over the local connection, ``ca-host``
(the CAs, made by the ``ca`` entry point) and ``node`` (keys and certificates, ``issue``), and a
CA on the controller (``localhost``, made by hack/pki.py as a site's CA would be given). Each
case runs as community.crypto's integration targets do: check mode, real, check mode again,
real again. Certificates are verified with the cryptography library, not with the role."""

import os
import stat
import sys

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from hack import pki
from tests.integration.ansible_run import ansible_playbook


def load(path):
    with open(path, "rb") as fh:
        return x509.load_pem_x509_certificate(fh.read())


def verify_server(ca_path, cert_path, dns_name):
    verifier = PolicyBuilder().store(Store([load(ca_path)])).build_server_verifier(x509.DNSName(dns_name))
    return verifier.verify(load(cert_path), [])


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


class Site(object):
    """A temporary tree: ca/ on ca-host, node/ on node, the inventory, the playbook."""

    def __init__(self, root):
        self.root = root
        self.ca_dir = os.path.join(root, "ca")
        self.node_dir = os.path.join(root, "node")
        os.makedirs(self.ca_dir)
        os.makedirs(self.node_dir)
        self.inventory = os.path.join(root, "hosts.yml")
        local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        with open(self.inventory, "w") as fh:
            yaml.safe_dump({"all": {"hosts": {"ca-host": dict(local), "node": dict(local)}}}, fh)
        self.playbook = os.path.join(root, "play.yml")
        with open(self.playbook, "w") as fh:
            yaml.safe_dump([{
                "hosts": "node",
                "gather_facts": False,
                "tasks": [
                    {"name": "Make the CAs",
                     "ansible.builtin.include_role": {"name": "xinchuang.cloud.pki", "tasks_from": "ca"},
                     "when": "pki_cas | default([]) | length > 0"},
                    {"name": "Issue the certificates",
                     "ansible.builtin.include_role": {"name": "xinchuang.cloud.pki", "tasks_from": "issue"}},
                ],
            }], fh)

    def run(self, check=False, **role_vars):
        report, proc = ansible_playbook(["-i", self.inventory, self.playbook], check=check,
                                        extra_vars=role_vars)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        return report

    def ca(self, name):
        return {"name": name, "key_path": os.path.join(self.ca_dir, name + ".key"),
                "cert_path": os.path.join(self.ca_dir, name + ".crt"),
                "common_name": "test-" + name}

    def cert(self, name, ca, **more):
        item = {"name": name, "key_path": os.path.join(self.node_dir, name + ".key"),
                "cert_path": os.path.join(self.node_dir, name + ".crt"), "common_name": name,
                "ca_cert": ca["cert_path"], "ca_key": ca["key_path"]}
        item.update(more)
        return item


def changed(report):
    """Names of the tasks that changed (or would) on any host, without the role prefix."""
    return [task["task"]["name"].split(" : ", 1)[-1]
            for play in report["plays"] for task in play["tasks"]
            if any(result.get("changed") for result in task["hosts"].values())]


def printed(report):
    return yaml.safe_dump(report)


@pytest.fixture
def site(tmp_path):
    return Site(str(tmp_path))


def test_cas_on_a_ca_host_issue_certificates_made_on_the_node_in_four_passes(site):
    ca, etcd_ca = site.ca("ca"), site.ca("etcd-ca")
    certs = [
        site.cert("apiserver", ca, subject_alt_names=["DNS:kubernetes", "DNS:localhost", "IP:127.0.0.1"],
                  extended_key_usage=["serverAuth"]),
        site.cert("admin", ca, common_name="kubernetes-admin", organization="system:masters",
                  extended_key_usage=["clientAuth"]),
        site.cert("etcd-server", etcd_ca, subject_alt_names=["DNS:localhost"],
                  extended_key_usage=["serverAuth", "clientAuth"]),
    ]
    role_vars = {"pki_ca_host": "ca-host", "pki_cas": [ca, etcd_ca], "pki_certificates": certs}

    dry = site.run(check=True, **role_vars)
    assert {"PKI | Create the CA keys", "PKI | Create the keys"} <= set(changed(dry)), changed(dry)
    assert os.listdir(site.ca_dir) == [] and os.listdir(site.node_dir) == []

    first = site.run(**role_vars)
    assert {"PKI | Create the CA keys", "PKI | Self-sign the CAs", "PKI | Create the keys",
            "PKI | Sign the requests on the CA host", "PKI | Write the issued certificates"} <= set(changed(first))
    for item in certs:
        assert stat.S_IMODE(os.stat(item["key_path"]).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(item["cert_path"]).st_mode) == 0o644
        assert b"PRIVATE KEY" not in printed(first).encode()
    assert verify_server(ca["cert_path"], certs[0]["cert_path"], "kubernetes")
    assert verify_server(etcd_ca["cert_path"], certs[2]["cert_path"], "localhost")
    admin = load(certs[1]["cert_path"])
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert pki.signed_by(admin, load(ca["cert_path"]))
    assert load(ca["cert_path"]).extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    files = {p: read(p) for d in (site.ca_dir, site.node_dir)
             for p in (os.path.join(d, n) for n in os.listdir(d))}
    assert changed(site.run(check=True, **role_vars)) == []
    assert changed(site.run(**role_vars)) == []
    assert {p: read(p) for p in files} == files


def test_changed_names_issue_the_certificate_again_with_the_same_key(site):
    ca = site.ca("ca")
    role_vars = {"pki_ca_host": "ca-host", "pki_cas": [ca],
                 "pki_certificates": [site.cert("server", ca, subject_alt_names=["DNS:a.example"])]}
    site.run(**role_vars)
    key = read(os.path.join(site.node_dir, "server.key"))
    role_vars["pki_certificates"] = [site.cert("server", ca, subject_alt_names=["DNS:a.example", "DNS:b.example"])]
    reissue = ["PKI | Sign the requests on the CA host", "PKI | Write the issued certificates"]
    assert changed(site.run(check=True, **role_vars)) == reissue
    assert read(os.path.join(site.node_dir, "server.key")) == key
    assert changed(site.run(**role_vars)) == reissue
    assert read(os.path.join(site.node_dir, "server.key")) == key
    assert verify_server(ca["cert_path"], os.path.join(site.node_dir, "server.crt"), "b.example")
    assert changed(site.run(**role_vars)) == []


def test_a_certificate_within_the_renewal_window_is_issued_again(site):
    ca = site.ca("ca")
    role_vars = {"pki_ca_host": "ca-host", "pki_cas": [ca], "pki_valid_days": 20,
                 "pki_certificates": [site.cert("server", ca, subject_alt_names=["DNS:a.example"])]}
    site.run(**role_vars)
    serial = load(os.path.join(site.node_dir, "server.crt")).serial_number
    # 20 days of validity are within 30 days of the end: every run issues it again.
    assert "PKI | Write the issued certificates" in changed(site.run(**role_vars))
    assert load(os.path.join(site.node_dir, "server.crt")).serial_number != serial
    assert changed(site.run(**dict(role_vars, pki_renew_days=10))) == []


def test_a_replaced_ca_or_a_loosened_key_mode_is_not_skipped_by_the_quick_check(site):
    # The role's first step (issued_certificates_info) skips the issuing steps for a current
    # certificate: a CA of the same name but another key, and a key readable by others, are not.
    ca = site.ca("ca")
    role_vars = {"pki_ca_host": "ca-host", "pki_cas": [ca],
                 "pki_certificates": [site.cert("server", ca, subject_alt_names=["DNS:a.example"])]}
    site.run(**role_vars)
    key_path = os.path.join(site.node_dir, "server.key")
    os.chmod(key_path, 0o644)
    assert changed(site.run(**role_vars)) == ["PKI | Create the keys"]
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    os.remove(ca["cert_path"])
    os.remove(ca["key_path"])
    assert "PKI | Write the issued certificates" in changed(site.run(**role_vars))
    assert verify_server(ca["cert_path"], os.path.join(site.node_dir, "server.crt"), "a.example")
    assert changed(site.run(**role_vars)) == []


def test_a_ca_on_the_controller_signs_a_key_made_on_the_node(site):
    # The CA a site gives (files on the controller, RSA, encrypted key): made here by hack/pki.py.
    made = pki.ensure_ca(os.path.join(site.root, "controller"), "site CA", key_type="rsa")
    encrypted = os.path.join(site.root, "controller", "ca-encrypted.key")
    key = serialization.load_pem_private_key(read(made.key), None)
    with open(encrypted, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.BestAvailableEncryption(b"ca-Secret-1")))
    ca = {"cert_path": made.cert, "key_path": encrypted}
    role_vars = {"pki_ca_host": "localhost", "pki_ca_key_passphrase": "ca-Secret-1",
                 "pki_certificates": [site.cert("registry", ca, subject_alt_names=["DNS:registry.lab"])]}
    report = site.run(**role_vars)
    assert "ca-Secret-1" not in printed(report)
    assert verify_server(made.cert, os.path.join(site.node_dir, "registry.crt"), "registry.lab")
    assert changed(site.run(check=True, **role_vars)) == []
    assert changed(site.run(**role_vars)) == []


def test_check_mode_on_a_host_that_cannot_make_keys_yet_says_what_it_would_make(site):
    ca = site.ca("ca")
    site.run(pki_ca_host="ca-host", pki_cas=[ca])
    role_vars = {"pki_ca_host": "ca-host", "pki_host_ready": False,
                 "pki_certificates": [site.cert("server", ca, subject_alt_names=["DNS:a.example"])]}
    report = site.run(check=True, **role_vars)
    assert changed(report) == ["PKI | Report the certificates a fresh host would get (check mode)"]
    assert os.listdir(site.node_dir) == []
