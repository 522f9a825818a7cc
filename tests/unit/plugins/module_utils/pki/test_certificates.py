# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate checks (plugins/module_utils/pki/certificates.py): the names a certificate
must carry, and whether a certificate, its key and its CA fit together. Certificates are made in
memory by hack/pki.py (the tests' one certificate maker)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest
from cryptography.hazmat.primitives import serialization

from ansible_collections.xinchuang.cloud.plugins.module_utils.pki import certificates as rc
from hack import pki as certs

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)


# --- names -------------------------------------------------------------------------------------

def test_san_entries_tell_addresses_from_names_and_drop_duplicates():
    assert rc.san_entries(["Reg.Example", "10.0.0.5", "reg.example", "::1", ""]) == \
        ["DNS:reg.example", "IP:10.0.0.5", "IP:::1"]


@pytest.mark.parametrize("sans, names, missing", [
    (["DNS:reg.example"], ["REG.example"], []),
    (["DNS:*.example"], ["reg.example"], []),
    (["DNS:*.example"], ["a.reg.example", "example"], ["a.reg.example", "example"]),
    (["IP:10.0.0.5"], ["10.0.0.5", "10.0.0.6"], ["10.0.0.6"]),
    (["DNS:10.0.0.5"], ["10.0.0.5"], ["10.0.0.5"]),  # an address must be an IP entry
    (["IP:::1"], ["0:0::1"], []),
])
def test_names_missing(sans, names, missing):
    assert rc.names_missing(sans, names) == missing


# --- certificates -------------------------------------------------------------------------------

def _key():
    return certs.new_key()


def _pem(obj):
    return certs.pem(obj).decode()


@pytest.fixture(scope="module")
def pki():
    ca_key, other_ca_key, server_key = _key(), _key(), _key()
    ca = certs.build_ca(ca_key, "test CA", days=3650, now=NOW)
    other_ca = certs.build_ca(other_ca_key, "other CA", days=30, now=NOW)
    server = certs.build_cert(server_key, ca, ca_key, "reg", sans=["DNS:reg.example", "IP:10.0.0.5"],
                              days=30, now=NOW)
    return {"ca": ca, "ca_key": ca_key, "other_ca": other_ca, "server": server,
            "server_key": server_key}


def test_a_fitting_certificate_has_no_problems(pki):
    assert rc.tls_problems(_pem(pki["server"]), _pem(pki["server_key"]), ["reg.example", "10.0.0.5"],
                           ca_pem=_pem(pki["ca"]), now=NOW) == []


def test_a_key_of_another_certificate_is_named_as_such(pki):
    problems = rc.tls_problems(_pem(pki["server"]), _pem(_key()), ["reg.example"], now=NOW)
    assert len(problems) == 1 and "the key does not belong to the certificate" in problems[0]


def test_names_the_certificate_lacks_are_listed_with_what_it_has(pki):
    problems = rc.tls_problems(_pem(pki["server"]), _pem(pki["server_key"]),
                               ["reg.example", "registry.lab", "10.0.0.6"], now=NOW)
    assert problems == ["the certificate does not name registry.lab, 10.0.0.6 (its subjectAltName: "
                        "DNS:reg.example, IP:10.0.0.5): issue one that does, or change "
                        "registry_hostname / registry_tls_extra_names"]


def test_a_certificate_of_another_ca_is_refused(pki):
    problems = rc.tls_problems(_pem(pki["server"]), _pem(pki["server_key"]), ["reg.example"],
                               ca_pem=_pem(pki["other_ca"]), now=NOW)
    assert len(problems) == 1 and "not issued by the CA of registry_tls_ca_cert" in problems[0]


def test_a_chain_after_the_leaf_leads_to_the_root(pki):
    inter_key = _key()
    inter = certs.build_ca(inter_key, "intermediate", issuer=(pki["ca"], pki["ca_key"]), days=30, now=NOW)
    leaf_key = _key()
    leaf = certs.build_cert(leaf_key, inter, inter_key, "reg", sans=["DNS:reg.example"], days=30, now=NOW)
    chain = _pem(leaf) + _pem(inter)
    assert rc.tls_problems(chain, _pem(leaf_key), ["reg.example"], ca_pem=_pem(pki["ca"]), now=NOW) == []
    assert rc.tls_problems(_pem(leaf), _pem(leaf_key), ["reg.example"], ca_pem=_pem(pki["ca"]),
                           now=NOW) != []


def test_expired_or_expiring_certificates_are_refused(pki):
    later = NOW + datetime.timedelta(days=30)
    problems = rc.tls_problems(_pem(pki["server"]), _pem(pki["server_key"]), ["reg.example"], now=later)
    assert any("within 1 days" in p or "already expired" in p for p in problems)
    assert rc.cert_days_left(_pem(pki["server"]), now=NOW) == 30
    assert rc.cert_days_left(_pem(pki["server"]), now=later + datetime.timedelta(hours=1)) == -1
    assert rc.cert_days_left("", now=NOW) == -1


def test_unreadable_inputs_are_named(pki):
    assert rc.tls_problems("not a pem", "", ["x"]) == ["registry_tls_cert holds no PEM certificate"]
    problems = rc.tls_problems(_pem(pki["server"]), "junk", ["reg.example"], now=NOW)
    assert problems == ["registry_tls_key is not a PEM private key"]
    encrypted = pki["server_key"].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")).decode()
    problems = rc.tls_problems(_pem(pki["server"]), encrypted, ["reg.example"], now=NOW)
    assert problems == ["registry_tls_key is encrypted: the server reads an unencrypted key only"]


def test_ca_checks(pki):
    assert rc.ca_problems(_pem(pki["ca"]), _pem(pki["ca_key"]), now=NOW) == []
    assert "is not the key of registry_tls_ca_cert" in rc.ca_problems(_pem(pki["ca"]), _pem(_key()), now=NOW)[0]
    not_a_ca = rc.ca_problems(_pem(pki["server"]), _pem(pki["server_key"]), now=NOW)
    assert "is not a CA certificate" in not_a_ca[0]
    encrypted = pki["ca_key"].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")).decode()
    assert rc.ca_problems(_pem(pki["ca"]), encrypted, now=NOW) == \
        ["registry_tls_ca_key is encrypted: give registry_tls_ca_key_passphrase"]
    assert rc.ca_problems(_pem(pki["ca"]), encrypted, "pw", now=NOW) == []
    assert "or the passphrase is wrong" in rc.ca_problems(_pem(pki["ca"]), encrypted, "no", now=NOW)[0]
