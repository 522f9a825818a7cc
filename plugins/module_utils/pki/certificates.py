# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates and keys, as the pki, registry and harbor roles check them (no I/O).

The names a certificate must carry (``san_entries``, ``names_missing``), whether a given
certificate, key and CA fit together (``tls_problems``, ``ca_problems``), whether a certificate
the pki role issued still matches what it would issue now (``issued_problems``, which the module
issued_certificates_info runs on each host), and the days a certificate has left. Every error
names the value and the fix; no message ever carries a key.

The checks read PEM with the Python library ``cryptography``, which every Ansible controller
has (ansible-core depends on it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - every controller has it
    HAS_CRYPTOGRAPHY = False


class CertificateError(XinchuangError, ValueError):
    """A certificate check that cannot run as asked."""


# --- certificate names --------------------------------------------------------------------------

def ip_or_none(value):
    """The IP address value is, or None when it is a host name."""
    try:
        return ipaddress.ip_address(u"%s" % (value,))
    except ValueError:
        return None


def san_entries(names):
    """Host names and addresses -> subjectAltName entries (DNS:name / IP:address), unique, in
    order: what an issued certificate carries."""
    out = []
    for name in names or []:
        name = u"%s" % (name,)
        if not name:
            continue
        address = ip_or_none(name)
        entry = "IP:%s" % address if address else "DNS:%s" % name.lower()
        if entry not in out:
            out.append(entry)
    return out


def _dns_matches(pattern, name):
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        # A wildcard covers exactly one leftmost label (RFC 6125).
        head, _dot, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def names_missing(sans, names):
    """The names (host names or addresses) that none of the certificate's subjectAltName
    entries (``DNS:x`` / ``IP:y``) covers."""
    dns = [s[4:] for s in sans if s.startswith("DNS:")]
    ips = [ip_or_none(s[3:]) for s in sans if s.startswith("IP:")]
    missing = []
    for name in names or []:
        address = ip_or_none(name)
        if address is not None:
            covered = address in ips
        else:
            covered = any(_dns_matches(p, u"%s" % name) for p in dns)
        if not covered:
            missing.append(name)
    return missing


# --- certificates and keys ----------------------------------------------------------------------

def _need_cryptography():
    if not HAS_CRYPTOGRAPHY:  # pragma: no cover
        raise CertificateError(
            "the controller's Python lacks the library 'cryptography' (pip install cryptography)")


def _load_certs(pem, what):
    data = (pem or "").encode("utf-8") if not isinstance(pem, bytes) else pem
    blocks = re.findall(br"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", data, re.S)
    if not blocks:
        raise ValueError("%s holds no PEM certificate" % what)
    return [x509.load_pem_x509_certificate(b) for b in blocks]


def _load_key(pem, what, passphrase=None):
    data = (pem or "").encode("utf-8") if not isinstance(pem, bytes) else pem
    secret = passphrase.encode("utf-8") if passphrase else None
    try:
        return serialization.load_pem_private_key(data, password=secret)
    except TypeError:
        if secret is None:
            raise ValueError("%s is encrypted: %s" % (what, "give %s_passphrase" % what
                                                      if what.endswith("_ca_key") else
                                                      "the server reads an unencrypted key only"))
        raise ValueError("%s is not encrypted: leave registry_tls_ca_key_passphrase empty" % what)
    except ValueError:
        raise ValueError("%s is not a PEM private key%s"
                         % (what, ", or the passphrase is wrong" if secret else ""))


def _spki(public_key):
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def _not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:  # cryptography < 42
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _issued_by(cert, issuer):
    if cert.issuer != issuer.subject:
        return False
    verify = getattr(cert, "verify_directly_issued_by", None)
    try:
        if verify is not None:
            verify(issuer)
            return True
        # cryptography < 40 (Debian 12 has 38): the signature by hand, for RSA and EC issuers.
        public = issuer.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:  # another key type: the names agree, the signature is not checked
            return True
        return True
    # InvalidSignature, or ValueError/TypeError for a key type that cannot have signed it.
    except Exception:  # pylint: disable=broad-except
        return False


def subject_alt_names(cert):
    """A certificate's ``DNS:`` and ``IP:`` subjectAltName entries, as the pki role writes them."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return (["DNS:%s" % n for n in ext.get_values_for_type(x509.DNSName)]
            + ["IP:%s" % a for a in ext.get_values_for_type(x509.IPAddress)])


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def tls_problems(cert_pem, key_pem, names, ca_pem="", now=None, min_days=1, prefix="registry"):
    """A server certificate (PEM, leaf first, optional chain after it) and its key, as given to
    a role -> the list of what is wrong with them (empty: fit to serve ``names``).

    Checked: both parse, the key is unencrypted and belongs to the leaf, the leaf is valid for
    ``min_days`` more days and names every one of ``names`` (host name or address) in its
    subjectAltName, and, when ``ca_pem`` is given, the chain leads to that CA. Messages name the
    role's variables: ``<prefix>_tls_cert``, ``<prefix>_hostname``, ... (the registry and harbor
    roles share this check).
    """
    _need_cryptography()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    problems = []
    try:
        chain = _load_certs(cert_pem, prefix + "_tls_cert")
    except ValueError as err:
        return ["%s" % err]
    leaf = chain[0]
    try:
        key = _load_key(key_pem, prefix + "_tls_key")
        if _spki(key.public_key()) != _spki(leaf.public_key()):
            problems.append("the key does not belong to the certificate (their public keys differ): "
                            "give the key the certificate was issued for")
    except ValueError as err:
        problems.append("%s" % err)
    days_left = (_not_after(leaf) - now).total_seconds() / 86400.0
    if days_left < min_days:
        problems.append("the certificate expires %s (%s): issue a new one"
                        % (_not_after(leaf).strftime("%Y-%m-%d"),
                           "already expired" if days_left < 0 else "within %d days" % min_days))
    missing = names_missing(subject_alt_names(leaf), names)
    if missing:
        problems.append("the certificate does not name %s (its subjectAltName: %s): issue one that "
                        "does, or change %s_hostname / %s_tls_extra_names"
                        % (", ".join(missing), ", ".join(subject_alt_names(leaf)) or "none", prefix, prefix))
    if ca_pem:
        try:
            cas = _load_certs(ca_pem, prefix + "_tls_ca_cert")
        except ValueError as err:
            problems.append("%s" % err)
        else:
            if not _chain_reaches(chain, cas):
                problems.append("the certificate is not issued by the CA of %s_tls_ca_cert "
                                "(issuer %s): give that CA, or a chain to it after the certificate"
                                % (prefix, leaf.issuer.rfc4514_string()))
    return problems


_EKU_NAMES = {"serverAuth": "1.3.6.1.5.5.7.3.1", "clientAuth": "1.3.6.1.5.5.7.3.2"}


def _made_pair(key_pem, cert_pem, key_what, cert_what):
    """(key, cert, problems) of a key the pki role made (RSA 2048) and its certificate; cert is
    None when one of them cannot be read, and problems then says which."""
    _need_cryptography()
    try:
        key = _load_key(key_pem, key_what)
    except ValueError as err:
        return None, None, ["key: %s" % err]
    problems = [] if isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048 else ["key: not RSA 2048"]
    try:
        cert = _load_certs(cert_pem, cert_what)[0]
    except ValueError as err:
        return key, None, problems + ["certificate: %s" % err]
    return key, cert, problems


def issued_problems(cert_pem, key_pem, ca_pem, want, renew_days=0, now=None):
    """Why the certificate in cert_pem is not the one the pki role's issue entry point would keep
    (empty: it is current). ``want`` is a pki_certificates item: common_name, organization,
    subject_alt_names, extended_key_usage. The checks are those of the community.crypto modules
    the role runs: an RSA 2048 key that the certificate carries, a certificate signed by the CA
    with the subject, names and usage of the request, and more than renew_days left (the role's
    renewal window; 0: until it ends)."""
    key, cert, problems = _made_pair(key_pem, cert_pem, "the key", "the certificate")
    if cert is None:
        return problems
    try:
        ca = _load_certs(ca_pem, "the CA certificate")[0]
    except ValueError as err:
        return problems + ["CA: %s" % err]
    if _spki(cert.public_key()) != _spki(key.public_key()):
        problems.append("certificate: made for another key")
    if not _issued_by(cert, ca):
        problems.append("certificate: not signed by the CA")
    subject = sorted((a.oid.dotted_string, a.value) for a in cert.subject)
    wanted = [(NameOID.COMMON_NAME.dotted_string, want.get("common_name") or "")]
    if want.get("organization"):
        wanted.append((NameOID.ORGANIZATION_NAME.dotted_string, want["organization"]))
    if subject != sorted(wanted):
        problems.append("certificate: subject %s" % cert.subject.rfc4514_string())
    if sorted(subject_alt_names(cert)) != sorted(san_canonical(want.get("subject_alt_names") or [])):
        problems.append("certificate: names %s" % ", ".join(subject_alt_names(cert)))
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
        if not (usage.critical and usage.value.digital_signature and usage.value.key_encipherment
                and not usage.value.key_cert_sign and not usage.value.crl_sign):
            problems.append("certificate: key usage")
    except x509.ExtensionNotFound:
        problems.append("certificate: no key usage")
    try:
        eku = sorted(o.dotted_string for o in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        eku = []
    want_eku = sorted(_EKU_NAMES.get(u, u) for u in (want.get("extended_key_usage") or ["serverAuth"]))
    if eku != want_eku:
        problems.append("certificate: extended key usage")
    if _is_ca(cert):
        problems.append("certificate: is a CA")
    if cert_days_left(cert_pem, now) < int(renew_days):
        problems.append("certificate: ends within %s days" % renew_days)
    return problems


def made_ca_problems(cert_pem, key_pem, common_name):
    """Why the self-signed CA the pki role's ca entry point made is not one it would keep as it is
    (empty: kept): an RSA 2048 key, a certificate of that key, signed by itself, a CA, with that
    common name. Its end is not checked: the role never makes an existing CA again."""
    key, cert, problems = _made_pair(key_pem, cert_pem, "the CA key", "the CA certificate")
    if cert is None:
        return problems
    if _spki(cert.public_key()) != _spki(key.public_key()):
        problems.append("certificate: made for another key")
    if not _issued_by(cert, cert):
        problems.append("certificate: not self-signed")
    if not _is_ca(cert):
        problems.append("certificate: not a CA")
    if [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] != [common_name]:
        problems.append("certificate: subject %s" % cert.subject.rfc4514_string())
    return problems


def san_canonical(entries):
    """subjectAltName entries as subject_alt_names reads them back (IP addresses normalised)."""
    out = []
    for entry in entries:
        kind, _sep, value = (u"%s" % (entry,)).partition(":")
        if kind.upper() == "IP" and ip_or_none(value):
            out.append("IP:%s" % ip_or_none(value))
        else:
            out.append("%s:%s" % (kind.upper(), value))
    return out


def cert_days_left(cert_pem, now=None):
    """Whole days until the (first) certificate of cert_pem expires; negative once expired,
    -1 when there is no certificate to read (so a renewal is due)."""
    _need_cryptography()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        leaf = _load_certs(cert_pem, "the certificate")[0]
    except ValueError:
        return -1
    return int((_not_after(leaf) - now).total_seconds() // 86400)


def _chain_reaches(chain, cas):
    current = chain[0]
    rest = list(chain[1:])
    for _step in range(len(chain) + 1):
        if any(_issued_by(current, ca) for ca in cas):
            return True
        nxt = [c for c in rest if _issued_by(current, c)]
        if not nxt:
            return False
        current = nxt[0]
        rest.remove(current)
    return False


def ca_problems(ca_cert_pem, ca_key_pem, passphrase="", now=None):
    """The CA the role issues server certificates from -> what is wrong with it: it must parse,
    be a CA (basicConstraints CA:TRUE), be valid, and the key must be its key."""
    _need_cryptography()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        ca = _load_certs(ca_cert_pem, "registry_tls_ca_cert")[0]
    except ValueError as err:
        return ["%s" % err]
    problems = []
    if not _is_ca(ca):
        problems.append("registry_tls_ca_cert (%s) is not a CA certificate (no basicConstraints "
                        "CA:TRUE)" % ca.subject.rfc4514_string())
    if _not_after(ca) < now:
        problems.append("registry_tls_ca_cert expired on %s" % _not_after(ca).strftime("%Y-%m-%d"))
    try:
        key = _load_key(ca_key_pem, "registry_tls_ca_key", passphrase)
    except ValueError as err:
        problems.append("%s" % err)
    else:
        if _spki(key.public_key()) != _spki(ca.public_key()):
            problems.append("registry_tls_ca_key is not the key of registry_tls_ca_cert (%s)"
                            % ca.subject.rfc4514_string())
    return problems
