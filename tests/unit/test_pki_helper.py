# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hack/pki.py: the one certificate maker of the test bed, the lab and the tests.

The chain is checked with the cryptography library's own verifier (an oracle independent of
the helper's ``signed_by``), and with the file modes and contents a second call must keep."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import os
import stat
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from hack import pki

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANS = "DNS:reg.example,IP:10.0.0.5,DNS:localhost"


def load(path):
    with open(path, "rb") as fh:
        return x509.load_pem_x509_certificate(fh.read())


def snapshot(*paths):
    return {p: (os.stat(p).st_mtime_ns, open(p, "rb").read()) for p in paths}


def verify_server(ca_path, cert_path, name):
    """The cryptography library's verifier: the chain leads to the CA and the leaf serves
    ``name`` (a DNS name or an IP address)."""
    try:
        subject = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        subject = x509.DNSName(name)
    verifier = PolicyBuilder().store(Store([load(ca_path)])).build_server_verifier(subject)
    return verifier.verify(load(cert_path), [])


@pytest.fixture
def ca(tmp_path):
    return pki.ensure_ca(str(tmp_path), "test CA", org="xinchuang tests")


def test_a_ca_is_a_self_signed_ca_with_a_private_key(ca):
    cert = load(ca.cert)
    assert ca.issued and ca.reasons == ["new"]
    assert cert.subject.rfc4514_string() == "CN=test CA,O=xinchuang tests"
    assert cert.issuer == cert.subject and pki.signed_by(cert, cert)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert stat.S_IMODE(os.stat(ca.key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(ca.cert).st_mode) == 0o644


def test_a_server_certificate_chains_to_its_ca_and_names_its_hosts(ca, tmp_path):
    leaf = pki.ensure_cert(str(tmp_path), "server", str(tmp_path), cn="reg.example", sans=SANS,
                           usage="server")
    for name in ("reg.example", "10.0.0.5", "localhost"):
        assert verify_server(ca.cert, leaf.cert, name)
    cert = load(leaf.cert)
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == \
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_encipherment
    assert not usage.value.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE(os.stat(leaf.key).st_mode) == 0o600
    with open(leaf.key, "rb") as fh:
        key = serialization.load_pem_private_key(fh.read(), None)
    assert pki._spki(key.public_key()) == pki._spki(cert.public_key())


def test_a_client_certificate_carries_its_organization_before_its_name(ca, tmp_path):
    leaf = pki.ensure_cert(str(tmp_path), "admin", str(tmp_path), cn="testbed-admin",
                           org="system:masters", usage="client")
    cert = load(leaf.cert)
    assert [a.oid for a in cert.subject] == [NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME]
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == \
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert pki.signed_by(cert, load(ca.cert))


def test_both_usages_and_rsa_keys(ca, tmp_path):
    leaf = pki.ensure_cert(str(tmp_path), "etcd", str(tmp_path), sans="IP:127.0.0.1", usage="both",
                           key_type="rsa")
    cert = load(leaf.cert)
    assert set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == \
        {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.public_key().key_size == 2048
    assert cert.subject.rfc4514_string() == "CN=etcd"  # the name when no CN is given
    assert verify_server(ca.cert, leaf.cert, "127.0.0.1")


def test_a_second_call_keeps_every_file(ca, tmp_path):
    leaf = pki.ensure_cert(str(tmp_path), "server", str(tmp_path), sans=SANS)
    pair = pki.ensure_keypair(str(tmp_path), "sa")
    before = snapshot(ca.cert, ca.key, leaf.cert, leaf.key, pair.cert, pair.key)
    again = [pki.ensure_ca(str(tmp_path), "test CA", org="xinchuang tests"),
             pki.ensure_cert(str(tmp_path), "server", str(tmp_path), sans=SANS),
             pki.ensure_keypair(str(tmp_path), "sa")]
    assert [r.issued for r in again] == [False, False, False]
    assert snapshot(ca.cert, ca.key, leaf.cert, leaf.key, pair.cert, pair.key) == before
    # The same names in another order and case of the type are the same request.
    assert not pki.ensure_cert(str(tmp_path), "server", str(tmp_path),
                               sans="dns:localhost,IP:10.0.0.5,DNS:reg.example").issued


def test_changed_names_issue_the_certificate_again_with_its_key(ca, tmp_path):
    leaf = pki.ensure_cert(str(tmp_path), "server", str(tmp_path), sans=SANS)
    key_before = snapshot(leaf.key)
    again = pki.ensure_cert(str(tmp_path), "server", str(tmp_path), sans=SANS + ",DNS:registry.lab")
    assert again.issued
    assert again.reasons == ["subjectAltName DNS:localhost,DNS:reg.example,IP:10.0.0.5, asked "
                             "DNS:localhost,DNS:reg.example,DNS:registry.lab,IP:10.0.0.5"]
    assert verify_server(ca.cert, again.cert, "registry.lab")
    assert snapshot(leaf.key) == key_before


@pytest.mark.parametrize("change, reason", [
    ({"usage": "client"}, "extended key usage"),
    ({"org": "system:masters"}, "subject CN=server, asked CN=server,O=system:masters"),
    ({"cn": "other"}, "subject CN=server, asked CN=other"),
])
def test_a_changed_request_is_issued_again_saying_why(ca, tmp_path, change, reason):
    pki.ensure_cert(str(tmp_path), "server", str(tmp_path), sans=SANS)
    args = dict({"sans": SANS}, **change)
    again = pki.ensure_cert(str(tmp_path), "server", str(tmp_path), **args)
    assert again.issued and any(r.startswith(reason) for r in again.reasons), again.reasons


def test_a_new_ca_issues_its_certificates_again(tmp_path):
    first = pki.ensure_ca(str(tmp_path / "a"), "CA one")
    pki.ensure_cert(str(tmp_path), "server", first.cert.rsplit("/", 1)[0], sans=SANS)
    other = pki.ensure_ca(str(tmp_path / "b"), "CA two")
    again = pki.ensure_cert(str(tmp_path), "server", other.cert.rsplit("/", 1)[0], sans=SANS)
    assert any(r.startswith("not signed by the CA CN=CA two") for r in again.reasons), again.reasons
    assert verify_server(other.cert, again.cert, "reg.example")


def test_certificates_near_their_end_are_issued_again(ca, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    pki.ensure_cert(str(tmp_path), "server", str(tmp_path), sans=SANS, days=40)
    assert not pki.ensure_cert(str(tmp_path), "server", str(tmp_path), sans=SANS).issued
    later = pki.ensure_cert(str(tmp_path), "server", str(tmp_path), sans=SANS,
                            now=now + datetime.timedelta(days=11))
    assert later.issued and "within 30 days" in later.reasons[0]
    # A CA near its end is made again with the key it has: what it signed still verifies.
    key_before = snapshot(ca.key)
    renewed = pki.ensure_ca(str(tmp_path), "test CA", org="xinchuang tests",
                            now=now + datetime.timedelta(days=pki.CA_DAYS - 10))
    assert renewed.issued and snapshot(ca.key) == key_before


def test_a_changed_ca_key_usage_keeps_the_ca(tmp_path):
    # The lab's CA (keyCertSign, cRLSign only) stays: a new CA would take every certificate it signed.
    key = pki.new_key("rsa")
    cert = pki.build_ca(key, "xinchuang lab registry CA", org="xinchuang lab")
    assert pki.ca_differences(cert, key, "xinchuang lab registry CA", org="xinchuang lab") == []
    assert pki.ca_differences(cert, key, "another CA", org="xinchuang lab") != []


def test_in_memory_certificates_take_the_time_they_are_given():
    now = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
    ca_key, key = pki.new_key(), pki.new_key()
    root = pki.build_ca(ca_key, "root", now=now)
    inter_key = pki.new_key()
    inter = pki.build_ca(inter_key, "intermediate", issuer=(root, ca_key), now=now)
    leaf = pki.build_cert(key, inter, inter_key, "reg", sans=["DNS:reg.example"], days=30, now=now)
    assert leaf.not_valid_after_utc == now + datetime.timedelta(days=30)
    assert pki.signed_by(leaf, inter) and pki.signed_by(inter, root) and not pki.signed_by(leaf, root)


@pytest.mark.parametrize("sans, named", [
    ("DNS:a,URI:https://x", "'URI:https://x': unknown type 'URI'"),
    ("IP:10.0.0.300", "'10.0.0.300' is not an IP address"),
    ("reg.example", "'reg.example': write DNS:name or IP:address"),
    ("DNS:", "'DNS:': write DNS:name or IP:address"),
])
def test_bad_names_are_refused_naming_the_value_before_any_file(tmp_path, sans, named):
    pki.ensure_ca(str(tmp_path), "test CA")
    with pytest.raises(pki.PKIError) as err:
        pki.ensure_cert(str(tmp_path), "server", str(tmp_path), sans=sans)
    assert named in str(err.value)
    assert not os.path.exists(str(tmp_path / "server.key"))


def test_a_missing_ca_is_named(tmp_path):
    with pytest.raises(pki.PKIError) as err:
        pki.ensure_cert(str(tmp_path), "server", str(tmp_path / "nowhere"))
    assert "no CA %s" % (tmp_path / "nowhere" / "ca.crt") in str(err.value)


def cli(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "hack", "pki.py")] + list(args),
                          capture_output=True, text=True, check=False)


def test_the_command_line_issues_once_and_names_bad_input(tmp_path):
    d = str(tmp_path / "pki")
    made = cli("ca", d, "--cn", "lab CA", "--org", "xinchuang lab", "--key-type", "rsa",
               "--key-file", str(tmp_path / "private.key"))
    assert made.returncode == 0 and made.stdout == "%s/ca.crt: issued (new)\n" % d
    assert stat.S_IMODE(os.stat(str(tmp_path / "private.key")).st_mode) == 0o600
    server = cli("cert", d, "srv", "--ca", d, "--ca-key-file", str(tmp_path / "private.key"),
                 "--san", "DNS:x,IP:127.0.0.1", "--server")
    assert server.returncode == 0, server.stderr
    before = snapshot(d + "/srv.crt", d + "/srv.key", d + "/ca.crt")
    assert cli("ca", d, "--cn", "lab CA", "--org", "xinchuang lab", "--key-type", "rsa",
               "--key-file", str(tmp_path / "private.key")).stdout == ""
    assert cli("cert", d, "srv", "--ca", d, "--ca-key-file", str(tmp_path / "private.key"),
               "--san", "DNS:x,IP:127.0.0.1", "--server").stdout == ""
    assert snapshot(d + "/srv.crt", d + "/srv.key", d + "/ca.crt") == before
    assert verify_server(d + "/ca.crt", d + "/srv.crt", "127.0.0.1")
    bad = cli("cert", str(tmp_path / "new"), "srv", "--ca", d, "--san", "DNS:x,email:a@b", "--client")
    assert bad.returncode == 1
    assert "'email:a@b': unknown type 'email'" in bad.stderr
    assert not os.path.exists(str(tmp_path / "new"))
