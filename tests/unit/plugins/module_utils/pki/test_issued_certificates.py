# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""registry_config.issued_problems: when the pki role may skip issuing a certificate (the check of
xinchuang.cloud.issued_certificates_info). Certificates made with hack/pki.py, RSA 2048 as the
role makes them; each case changes one thing and must be reported."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.pki import certificates as model
from hack import pki

WANT = {"common_name": "kube-apiserver", "organization": None,
        "subject_alt_names": ["DNS:kubernetes", "IP:10.96.0.1"], "extended_key_usage": ["serverAuth"]}


@pytest.fixture(scope="module")
def ca():
    key = pki.new_key("rsa")
    return pki.build_ca(key, "kubernetes-ca"), key


@pytest.fixture(scope="module")
def leaf_key():
    return pki.new_key("rsa")


def issue(ca, key, **kw):
    args = dict(cn="kube-apiserver", sans="DNS:kubernetes,IP:10.96.0.1", usage="server")
    args.update(kw)
    return pki.build_cert(key, ca[0], ca[1], args.pop("cn"), **args)


def problems(cert, key, ca_cert, want=None, **kw):
    return model.issued_problems(pki.pem(cert), pki.pem(key), pki.pem(ca_cert), want or WANT, **kw)


def test_a_certificate_as_issued_is_current(ca, leaf_key):
    assert problems(issue(ca, leaf_key), leaf_key, ca[0]) == []


def test_names_in_another_order_and_spelling_are_still_current(ca, leaf_key):
    want = dict(WANT, subject_alt_names=["IP:10.96.0.1", "dns:kubernetes"])
    assert problems(issue(ca, leaf_key), leaf_key, ca[0], want) == []


def test_a_missing_name_is_reported(ca, leaf_key):
    want = dict(WANT, subject_alt_names=WANT["subject_alt_names"] + ["DNS:kubernetes.default"])
    assert problems(issue(ca, leaf_key), leaf_key, ca[0], want) == ["certificate: names DNS:kubernetes, IP:10.96.0.1"]


def test_a_ca_with_the_same_name_but_another_key_did_not_sign_it(ca, leaf_key):
    other_key = pki.new_key("rsa")
    other = pki.build_ca(other_key, "kubernetes-ca")
    assert problems(issue(ca, leaf_key), leaf_key, other) == ["certificate: not signed by the CA"]


def test_a_certificate_of_another_key_is_reported(ca, leaf_key):
    other = pki.new_key("rsa")
    assert problems(issue(ca, other), leaf_key, ca[0]) == ["certificate: made for another key"]


def test_an_ec_key_is_not_what_the_role_makes(ca):
    key = pki.new_key("ec")
    assert problems(issue(ca, key), key, ca[0]) == ["key: not RSA 2048"]


def test_subject_organization_and_usage_are_compared(ca, leaf_key):
    cert = issue(ca, leaf_key, org="system:masters", usage="client")
    found = problems(cert, leaf_key, ca[0])
    assert found == ["certificate: subject CN=kube-apiserver,O=system:masters", "certificate: extended key usage"]
    want = dict(WANT, organization="system:masters", extended_key_usage=["clientAuth"])
    assert problems(cert, leaf_key, ca[0], want) == []


def test_the_renewal_window_counts_whole_days_left(ca, leaf_key):
    cert = issue(ca, leaf_key, days=20)
    assert problems(cert, leaf_key, ca[0], renew_days=19) == []
    assert problems(cert, leaf_key, ca[0], renew_days=21) == ["certificate: ends within 21 days"]
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=25)
    assert problems(cert, leaf_key, ca[0], now=later) == ["certificate: ends within 0 days"]


def test_a_ca_certificate_as_leaf_is_reported(ca, leaf_key):
    cert = pki.build_ca(leaf_key, "kube-apiserver", issuer=ca)
    found = problems(cert, leaf_key, ca[0])
    assert "certificate: is a CA" in found and "certificate: key usage" in found


def test_unreadable_inputs_name_what_is_wrong(ca, leaf_key):
    assert model.issued_problems(pki.pem(issue(ca, leaf_key)), "junk", pki.pem(ca[0]), WANT)[0].startswith("key: ")
    assert model.issued_problems("junk", pki.pem(leaf_key), pki.pem(ca[0]), WANT) == [
        "certificate: the certificate holds no PEM certificate"]


class _BeforeCryptography40(object):
    """A certificate as cryptography < 40 (Debian 12's 38) shows it: no verify_directly_issued_by."""

    def __init__(self, cert):
        self._cert = cert

    def __getattr__(self, name):
        if name == "verify_directly_issued_by":
            raise AttributeError(name)
        return getattr(self._cert, name)


def test_the_signature_is_verified_with_an_older_cryptography_too(ca, leaf_key):
    cert = _BeforeCryptography40(issue(ca, leaf_key))
    assert model._issued_by(cert, ca[0]) is True
    impostor = pki.build_ca(pki.new_key("rsa"), "kubernetes-ca")
    assert model._issued_by(cert, impostor) is False
    ec_key = pki.new_key("ec")
    ec_ca = pki.build_ca(ec_key, "ec-ca")
    assert model._issued_by(_BeforeCryptography40(pki.build_cert(leaf_key, ec_ca, ec_key, "x")), ec_ca) is True
    assert model._issued_by(_BeforeCryptography40(pki.build_cert(leaf_key, ec_ca, ec_key, "x")), impostor) is False


def test_a_ca_as_the_role_makes_it_is_kept(ca):
    assert model.made_ca_problems(pki.pem(ca[0]), pki.pem(ca[1]), "kubernetes-ca") == []


def test_a_ca_that_is_not_what_the_role_made_is_reported(ca, leaf_key):
    assert model.made_ca_problems(pki.pem(ca[0]), pki.pem(ca[1]), "etcd-ca") == [
        "certificate: subject CN=kubernetes-ca"]
    assert model.made_ca_problems(pki.pem(ca[0]), pki.pem(leaf_key), "kubernetes-ca") == [
        "certificate: made for another key"]
    leaf = issue(ca, leaf_key)
    assert model.made_ca_problems(pki.pem(leaf), pki.pem(leaf_key), "kube-apiserver") == [
        "certificate: not self-signed", "certificate: not a CA"]
    ec_key = pki.new_key("ec")
    assert model.made_ca_problems(pki.pem(pki.build_ca(ec_key, "x")), pki.pem(ec_key), "x") == ["key: not RSA 2048"]
