"""Certificates for the test bed, the lab and the tests: one maker, on the ``cryptography``
library of the project's venv (docs/development.md, "Certificates").

    python3 hack/pki.py ca DIR --cn CN [--org O] [--name ca] [--key-file PATH]
    python3 hack/pki.py cert DIR NAME --ca DIR [--ca-name ca] [--cn CN] [--org O]
        [--san DNS:x,IP:y] (--server | --client | --both)
    python3 hack/pki.py keypair DIR NAME

``ca`` writes DIR/NAME.crt and DIR/NAME.key, ``cert`` DIR/NAME.crt and DIR/NAME.key signed by
the CA's files, ``keypair`` DIR/NAME.key and DIR/NAME.pub (a service account key). Every
command is idempotent: files that still match what was asked are kept, untouched; a
certificate whose subject, names, usage or CA changed, or that is within --renew-days of its
end, is issued again (with its existing key). Each new file appears whole (written beside it,
then renamed), keys with mode 0600, the certificate last. One line per file issued goes to
stdout; nothing for a file kept.

The product issues its certificates with the ``xinchuang.cloud.pki`` role (community.crypto),
not with this: this serves the machine that runs the tests.

Tests import it as ``from hack import pki`` (the repository root is on their path).
"""

import argparse
import datetime
import ipaddress
import os
import sys
import tempfile

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_TYPES = ("ec", "rsa")
USAGES = {
    "server": (ExtendedKeyUsageOID.SERVER_AUTH,),
    "client": (ExtendedKeyUsageOID.CLIENT_AUTH,),
    "both": (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
}
CA_DAYS = 3650
CERT_DAYS = 825
RENEW_DAYS = 30
# Hosts' clocks differ by a little: a certificate issued here must already be valid there.
BACKDATE = datetime.timedelta(minutes=5)

# What kubeadm and the test bed have always put there (the test bed's control plane reads it).
_CA_KEY_USAGE = dict(digital_signature=True, content_commitment=False, key_encipherment=False,
                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                     encipher_only=False, decipher_only=False)
_LEAF_KEY_USAGE = dict(_CA_KEY_USAGE, key_encipherment=True, key_cert_sign=False, crl_sign=False)


class PKIError(ValueError):
    """A request the helper cannot carry out; the message names the value and the fix."""


# --- in memory --------------------------------------------------------------------------------

def new_key(key_type="ec"):
    """A new private key: ``ec`` (P-256, made in milliseconds) or ``rsa`` (2048 bits)."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise PKIError("key type %r: use one of %s" % (key_type, ", ".join(KEY_TYPES)))


def key_type_of(key):
    return "ec" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa"


def parse_sans(sans):
    """``DNS:name`` / ``IP:address`` entries (a list, or one comma-separated string) ->
    subjectAltName general names, in order."""
    if isinstance(sans, str):
        sans = [s for s in sans.split(",") if s.strip()]
    names = []
    for entry in sans or ():
        kind, sep, value = entry.strip().partition(":")
        value = value.strip()
        if not sep or not value:
            raise PKIError("subjectAltName entry %r: write DNS:name or IP:address" % entry)
        if kind.upper() == "DNS":
            names.append(x509.DNSName(value))
        elif kind.upper() == "IP":
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(value)))
            except ValueError:
                raise PKIError("subjectAltName entry %r: %r is not an IP address" % (entry, value))
        else:
            raise PKIError("subjectAltName entry %r: unknown type %r, write DNS:name or IP:address"
                           % (entry, kind))
    return names


def subject(cn, org=None):
    """O before CN, as ``openssl -subj /O=.../CN=...`` orders them."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(key, name, issuer_cert, days, now):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE)
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_cert is not None:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value \
            if _has(issuer_cert, x509.SubjectKeyIdentifier) else None
        aki = (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski) if ski
               else x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()))
        builder = builder.add_extension(aki, critical=False)
    return builder


def _has(cert, ext_class):
    try:
        cert.extensions.get_extension_for_class(ext_class)
        return True
    except x509.ExtensionNotFound:
        return False


def build_ca(key, cn, org=None, days=CA_DAYS, now=None, issuer=None):
    """A CA certificate for ``key``: self-signed, or signed by ``issuer`` = (cert, key) of a
    parent CA (an intermediate)."""
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (_builder(key, subject(cn, org), issuer_cert, days, now)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(**_CA_KEY_USAGE), critical=True))
    return builder.sign(issuer_key, hashes.SHA256())


def build_cert(key, ca_cert, ca_key, cn, org=None, sans=(), usage="server", days=CERT_DAYS, now=None):
    """A leaf certificate for ``key`` signed by the CA: ``usage`` server, client or both,
    ``sans`` as parse_sans reads them."""
    if usage not in USAGES:
        raise PKIError("usage %r: use one of %s" % (usage, ", ".join(sorted(USAGES))))
    names = parse_sans(sans)
    builder = (_builder(key, subject(cn, org), ca_cert, days, now)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(**_LEAF_KEY_USAGE), critical=True)
               .add_extension(x509.ExtendedKeyUsage(list(USAGES[usage])), critical=False))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _ext(cert, ext_class):
    try:
        return cert.extensions.get_extension_for_class(ext_class).value
    except x509.ExtensionNotFound:
        return None


def _spki(public_key):
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def signed_by(cert, ca_cert):
    """Whether ``cert`` names ``ca_cert`` as its issuer and carries its signature."""
    if cert.issuer != ca_cert.subject:
        return False
    public = ca_cert.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                          cert.signature_hash_algorithm)
        else:
            public.verify(cert.signature, cert.tbs_certificate_bytes,
                          ec.ECDSA(cert.signature_hash_algorithm))
    except InvalidSignature:
        return False
    return True


def _expiry_reason(cert, renew_days, now):
    left = cert.not_valid_after_utc - (now or datetime.datetime.now(datetime.timezone.utc))
    if left < datetime.timedelta(days=renew_days):
        return "expires %s, within %d days" % (cert.not_valid_after_utc.strftime("%Y-%m-%d"), renew_days)
    return None


def ca_differences(cert, key, cn, org=None, renew_days=RENEW_DAYS, now=None):
    """Why a CA certificate on disk no longer serves (empty: keep it). Only what makes it
    another CA counts (key, subject, CA flag, expiry): issuing a CA again takes every
    certificate it signed with it."""
    found = []
    if _spki(cert.public_key()) != _spki(key.public_key()):
        found.append("the key is not the certificate's")
    if cert.subject != subject(cn, org):
        found.append("subject %s, asked %s" % (cert.subject.rfc4514_string(), subject(cn, org).rfc4514_string()))
    constraints = _ext(cert, x509.BasicConstraints)
    if not (constraints and constraints.ca):
        found.append("not a CA")
    found += [r for r in [_expiry_reason(cert, renew_days, now)] if r]
    return found


def cert_differences(cert, key, ca_cert, cn, org=None, sans=(), usage="server", renew_days=RENEW_DAYS,
                     now=None):
    """Why a leaf certificate on disk no longer is what was asked (empty: keep it)."""
    found = []
    if _spki(cert.public_key()) != _spki(key.public_key()):
        found.append("the key is not the certificate's")
    if not signed_by(cert, ca_cert):
        found.append("not signed by the CA %s" % ca_cert.subject.rfc4514_string())
    if cert.subject != subject(cn, org):
        found.append("subject %s, asked %s" % (cert.subject.rfc4514_string(), subject(cn, org).rfc4514_string()))
    has = set(_ext(cert, x509.SubjectAlternativeName) or [])
    want = set(parse_sans(sans))
    if has != want:
        found.append("subjectAltName %s, asked %s" % (_sans_text(has), _sans_text(want)))
    eku = set(_ext(cert, x509.ExtendedKeyUsage) or [])
    if eku != set(USAGES[usage]):
        found.append("extended key usage %s, asked %s" % (sorted(o.dotted_string for o in eku), usage))
    if _ext(cert, x509.KeyUsage) != x509.KeyUsage(**_LEAF_KEY_USAGE):
        found.append("key usage differs")
    constraints = _ext(cert, x509.BasicConstraints)
    if constraints is None or constraints.ca:
        found.append("not marked CA:FALSE")
    found += [r for r in [_expiry_reason(cert, renew_days, now)] if r]
    return found


def _sans_text(names):
    return ",".join(sorted(("IP:%s" if isinstance(n, x509.IPAddress) else "DNS:%s") % n.value
                           for n in names)) or "(none)"


# --- files ------------------------------------------------------------------------------------

def pem(obj):
    """PEM text of a certificate or a private key (unencrypted PKCS#8)."""
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path, data, mode):
    """Write ``data`` whole: into a file beside ``path`` made with ``mode``, then renamed."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_key(path):
    try:
        with open(path, "rb") as fh:
            return serialization.load_pem_private_key(fh.read(), password=None)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as err:
        raise PKIError("%s is not an unencrypted PEM private key (%s): remove it to have a new one made"
                       % (path, err))


def _read_cert(path):
    try:
        with open(path, "rb") as fh:
            return x509.load_pem_x509_certificate(fh.read())
    except FileNotFoundError:
        return None
    except ValueError:
        return None  # unreadable: issued again


def _key_for(path, key_type):
    """The key at ``path`` when it is of ``key_type``, else a new one written there (0600)."""
    if key_type not in KEY_TYPES:
        raise PKIError("key type %r: use one of %s" % (key_type, ", ".join(KEY_TYPES)))
    key = _read_key(path)
    if key is None or key_type_of(key) != key_type:
        key = new_key(key_type)
        _write(path, pem(key), 0o600)
    return key


def _missing(cert, key, key_type):
    if cert is None:
        return "new"
    if key is None:
        return "no key"
    return "the key is %s, asked %s" % (key_type_of(key), key_type)


class Issued(object):
    """What an ensure_* call left: the paths, and why it issued (empty: it kept the files)."""

    def __init__(self, cert, key, reasons):
        self.cert, self.key, self.reasons = cert, key, reasons

    @property
    def issued(self):
        return bool(self.reasons)


def ensure_ca(directory, cn, name="ca", org=None, days=CA_DAYS, key_type="ec", key_file=None,
              renew_days=RENEW_DAYS, now=None):
    """directory/name.crt, a self-signed CA, and its key (directory/name.key or key_file)."""
    cert_path = os.path.join(directory, name + ".crt")
    key_path = key_file or os.path.join(directory, name + ".key")
    cert, key = _read_cert(cert_path), _read_key(key_path)
    if cert is not None and key is not None and key_type_of(key) == key_type:
        reasons = ca_differences(cert, key, cn, org, renew_days, now)
        if not reasons:
            return Issued(cert_path, key_path, [])
    else:
        reasons = [_missing(cert, key, key_type)]
    key = _key_for(key_path, key_type)
    _write(cert_path, pem(build_ca(key, cn, org, days, now)), 0o644)
    return Issued(cert_path, key_path, reasons)


def ensure_cert(directory, name, ca_dir, cn=None, sans=(), usage="server", org=None, ca_name="ca",
                ca_key_file=None, days=CERT_DAYS, key_type="ec", renew_days=RENEW_DAYS, now=None):
    """directory/name.crt signed by the CA ca_dir/ca_name.crt (key ca_dir/ca_name.key or
    ca_key_file), and its key directory/name.key. ``cn`` defaults to ``name``."""
    cn = cn or name
    if usage not in USAGES:
        raise PKIError("usage %r: use one of %s" % (usage, ", ".join(sorted(USAGES))))
    parse_sans(sans)  # bad entries fail before any file is touched
    ca_cert_path = os.path.join(ca_dir, ca_name + ".crt")
    ca_key_path = ca_key_file or os.path.join(ca_dir, ca_name + ".key")
    ca_cert, ca_key = _read_cert(ca_cert_path), _read_key(ca_key_path)
    if ca_cert is None or ca_key is None:
        raise PKIError("no CA %s with its key %s: make it first (hack/pki.py ca %s --cn ...)"
                       % (ca_cert_path, ca_key_path, ca_dir))
    cert_path = os.path.join(directory, name + ".crt")
    key_path = os.path.join(directory, name + ".key")
    cert, key = _read_cert(cert_path), _read_key(key_path)
    if cert is not None and key is not None and key_type_of(key) == key_type:
        reasons = cert_differences(cert, key, ca_cert, cn, org, sans, usage, renew_days, now)
        if not reasons:
            return Issued(cert_path, key_path, [])
    else:
        reasons = [_missing(cert, key, key_type)]
    key = _key_for(key_path, key_type)
    _write(cert_path, pem(build_cert(key, ca_cert, ca_key, cn, org, sans, usage, days, now)), 0o644)
    return Issued(cert_path, key_path, reasons)


def ensure_keypair(directory, name, key_type="ec"):
    """directory/name.key and its public key directory/name.pub (e.g. service account
    signing): kept while they belong together."""
    key_path = os.path.join(directory, name + ".key")
    pub_path = os.path.join(directory, name + ".pub")
    before = _read_key(key_path)
    key = _key_for(key_path, key_type)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        with open(pub_path, "rb") as fh:
            current = fh.read()
    except FileNotFoundError:
        current = None
    reasons = [] if before is not None and _spki(before.public_key()) == _spki(key.public_key()) else ["new key"]
    if current != public:
        _write(pub_path, public, 0o644)
        reasons = reasons or ["public key rewritten"]
    return Issued(pub_path, key_path, reasons)


# --- command line ------------------------------------------------------------------------------

def _parser():
    parser = argparse.ArgumentParser(prog="hack/pki.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, days):
        p.add_argument("--org", help="organization (O), before the CN in the subject")
        p.add_argument("--days", type=int, default=days, help="validity (default %(default)s)")
        p.add_argument("--renew-days", type=int, default=RENEW_DAYS,
                       help="issue again this many days before the end (default %(default)s)")
        p.add_argument("--key-type", choices=KEY_TYPES, default="ec", help="default %(default)s")

    ca = sub.add_parser("ca", help="a self-signed CA: DIR/NAME.crt and its key")
    ca.add_argument("dir")
    ca.add_argument("--cn", required=True)
    ca.add_argument("--name", default="ca", help="file name without extension (default ca)")
    ca.add_argument("--key-file", help="where the key lives (default DIR/NAME.key)")
    common(ca, CA_DAYS)

    cert = sub.add_parser("cert", help="a certificate signed by a CA: DIR/NAME.crt and DIR/NAME.key")
    cert.add_argument("dir")
    cert.add_argument("name")
    cert.add_argument("--ca", required=True, metavar="DIR", help="directory of the CA's files")
    cert.add_argument("--ca-name", default="ca", help="the CA's file name without extension (default ca)")
    cert.add_argument("--ca-key-file", help="the CA's key (default DIR/CA-NAME.key)")
    cert.add_argument("--cn", help="common name (default NAME)")
    cert.add_argument("--san", default="", help="subjectAltName entries: DNS:name,IP:address,...")
    usage = cert.add_mutually_exclusive_group(required=True)
    for choice in sorted(USAGES):
        usage.add_argument("--" + choice, dest="usage", action="store_const", const=choice)
    common(cert, CERT_DAYS)

    pair = sub.add_parser("keypair", help="a key and its public key: DIR/NAME.key, DIR/NAME.pub")
    pair.add_argument("dir")
    pair.add_argument("name")
    pair.add_argument("--key-type", choices=KEY_TYPES, default="ec", help="default %(default)s")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "ca":
            result = ensure_ca(args.dir, args.cn, args.name, args.org, args.days, args.key_type,
                               args.key_file, args.renew_days)
        elif args.command == "cert":
            result = ensure_cert(args.dir, args.name, args.ca, args.cn, args.san, args.usage, args.org,
                                 args.ca_name, args.ca_key_file, args.days, args.key_type, args.renew_days)
        else:
            result = ensure_keypair(args.dir, args.name, args.key_type)
    except (PKIError, OSError) as err:
        print("hack/pki.py: %s" % err, file=sys.stderr)
        return 1
    if result.issued:
        print("%s: issued (%s)" % (result.cert, "; ".join(result.reasons)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
