# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the registry role decides before it changes a host (controller side, no I/O).

The xinchuang.cloud.registry role asks these through the filters of plugins/filter/registry.py:
its htpasswd users, the names a certificate must carry, whether a given certificate, key and CA
fit together, whether the host's port and storage are free for it, and the CNCF distribution
configuration it writes. Every error names the value and the fix; no message ever carries a
password or a key.

The TLS checks read PEM with the Python library ``cryptography``, which every Ansible controller
has (ansible-core depends on it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import ipaddress
import posixpath
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.errors import XinchuangError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - every controller has it
    HAS_CRYPTOGRAPHY = False


class RegistrySettingsError(XinchuangError, ValueError):
    """A registry role variable that cannot work as given."""


# htpasswd's user names: no ':' (the separator), no blanks; the role passes them as arguments.
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
# bcrypt reads the first 72 bytes of a password only: a longer one would be accepted by prefix.
BCRYPT_MAX_BYTES = 72


# --- users ---------------------------------------------------------------------------------------

def check_users(users):
    """registry_users -> their names, in order. Refuses, naming the user (never the password):
    a user without a name or password, a name htpasswd cannot hold, a name given twice, a
    password with a line break or longer than bcrypt reads."""
    if users is None:
        users = []
    if not isinstance(users, list):
        raise RegistrySettingsError(
            "registry_users must be a list of {name, password}, got %s" % type(users).__name__)
    names, problems = [], []
    for number, user in enumerate(users, 1):
        if not isinstance(user, dict):
            problems.append("entry %d is not a {name, password} mapping" % number)
            continue
        name = user.get("name")
        label = "user %r" % (name,) if name else "entry %d" % number
        if not name or not isinstance(name, str) or not _USER_NAME.match(name):
            problems.append("%s: name must be 1-128 of letters, digits and . _ @ + - "
                            "(starting with a letter or digit)" % label)
        elif name in names:
            problems.append("user %r is listed twice" % name)
        password = user.get("password")
        if password is None or password == "":
            problems.append("%s has no password: set its password (from a vault) or remove the "
                            "user from registry_users" % label)
        elif not isinstance(password, str):
            problems.append("%s: password must be a string" % label)
        else:
            if "\n" in password or "\r" in password:
                problems.append("%s: the password holds a line break" % label)
            if len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
                problems.append("%s: the password is longer than %d bytes, of which bcrypt reads "
                                "only the first %d" % (label, BCRYPT_MAX_BYTES, BCRYPT_MAX_BYTES))
        if name and isinstance(name, str):
            names.append(name)
    if problems:
        raise RegistrySettingsError("registry_users: " + "; ".join(problems))
    return names


def htpasswd_input(users):
    """The passwords of registry_users, one per line in list order: the standard input of the
    role's htpasswd step (which takes the names as arguments, never the passwords)."""
    check_users(users)
    return "".join(u["password"] + "\n" for u in users or [])


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
        raise RegistrySettingsError(
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


# --- the host -----------------------------------------------------------------------------------

def parse_probe(text):
    """The role's host probe output (``key<TAB>value`` lines) -> dict: ``listen`` (the lines of
    ``ss -Hltnpe`` for the port), ``main_pid`` (of the registry unit, 0 when not running),
    ``user_uid`` (of the registry's account, None before it exists),
    ``storage_real`` and ``storage_mount`` (the storage path resolved, and the mount point that
    holds it), ``foreign_mounts`` ({other service's existing directory: its mount point}),
    ``candidate`` (the OS repository's version of the package, '' when none),
    ``has_ss``, ``has_htpasswd``, ``systemd`` (PID 1), ``calendar_ok`` (systemd accepts the
    garbage collection schedule), ``unit_file`` (the role's unit file exists)."""
    out = {"listen": [], "main_pid": 0, "user_uid": None, "storage_real": "", "storage_mount": "", "candidate": "",
           "foreign_mounts": {}, "installed": [], "has_ss": False, "has_htpasswd": False, "systemd": False,
           "calendar_ok": False, "unit_file": False}
    for line in (text or "").splitlines():
        key, _tab, value = line.partition("\t")
        value = value.strip()
        if key == "listen":
            out["listen"].append(value)
        elif key == "main_pid":
            out["main_pid"] = int(value) if value.isdigit() else 0
        elif key == "user_uid":
            out["user_uid"] = int(value) if value.isdigit() else None
        elif key in ("storage_real", "storage_mount"):
            out[key] = value
        elif key == "installed":
            out["installed"].append(value)
        elif key == "foreign_mount":
            path, _tab, mount = value.partition("\t")
            if path and mount:
                out["foreign_mounts"][path] = mount.strip()
        elif key == "candidate":
            # apt-cache policy: "  Candidate: 2.8.2+ds1-1"; "(none)" when the repository lacks it.
            match = re.search(r"Candidate:\s*(\S+)", value)
            if match and match.group(1) != "(none)":
                out["candidate"] = match.group(1)
            elif value and not value.startswith(("Candidate", "(none)")) and ":" not in value:
                out["candidate"] = value
        elif key in ("has_ss", "has_htpasswd", "systemd", "calendar_ok", "unit_file"):
            out[key] = value == "yes"
    return out


_SS_USER = re.compile(r'\("([^"]*)",pid=(\d+)')
_SS_CGROUP = re.compile(r"\bcgroup:(\S+)")
_SS_UID = re.compile(r"\buid:(\d+)")


def port_conflicts(listen_lines, port, own_pids=(), own_unit="", own_uid=None):
    """Listeners of ``ss -Hltnpe`` on the port that are not the registry's own:
    ["python3 (pid 123) of xc-web.service on 0.0.0.0:5000", ...].

    A listener is the registry's own, by the best evidence ss gives:
    - every process holding it is one of ``own_pids`` (the unit's MainPID; ss names processes
      where root may trace them);
    - else its socket belongs to the cgroup of the registry's unit (``cgroup:.../<unit>``,
      cgroup v2; root in a container without CAP_SYS_PTRACE sees this but no process);
    - else, when ss can name neither (it read /proc/net/tcp: QEMU user emulation has no
      sock_diag), the socket's owner is ``own_uid`` (the registry's account, given only while
      its unit runs).
    """
    own = set(int(p) for p in own_pids if p)
    found = []
    for line in listen_lines or []:
        fields = line.split()
        local = next((f for f in fields if re.search(r":%d$" % int(port), f)), None)
        if local is None:
            continue
        users = _SS_USER.findall(line)
        cgroup = _SS_CGROUP.search(line)
        uid = _SS_UID.search(line)
        if users:
            if all(int(pid) in own for _name, pid in users):
                continue
        elif cgroup:
            if own_unit and cgroup.group(1).rstrip("/").endswith("/" + own_unit):
                continue
        elif uid and own_uid is not None and str(own_uid) != "" and int(uid.group(1)) == int(own_uid):
            continue
        who = ", ".join("%s (pid %s)" % u for u in users) or (
            "a process of uid %s" % uid.group(1) if uid else "a process ss cannot name")
        if cgroup:
            # The unit (or scope) that started it: what to stop.
            who += " of %s" % cgroup.group(1).rstrip("/").rsplit("/", 1)[-1]
        found.append("%s on %s" % (who, local))
    return found


# Where other services of a cluster node keep their data: a registry filling one of these
# filesystems stops that service.
DEFAULT_FOREIGN_PATHS = ["/var/lib/etcd", "/var/lib/containerd", "/var/lib/docker",
                         "/var/lib/kubelet", "/var/lib/postgresql", "/var/lib/mysql",
                         "/var/lib/ceph", "/var/lib/rook", "/var/lib/nfs", "/var/log"]


def _inside(path, parent):
    path, parent = posixpath.normpath(path), posixpath.normpath(parent)
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def storage_conflict(storage_path, real_path, mount_point, foreign_paths=None, foreign_mounts=None):
    """'' when the registry may keep its data at storage_path, else why not: the path (or what
    it resolves to, ``real_path``) lies in another service's directory or holds one, or the
    filesystem that holds it (mounted at ``mount_point``) also holds another service's data
    (``foreign_mounts``: {that service's path: its mount point}). The root filesystem is shared
    by everything on a small host and is accepted."""
    foreign = DEFAULT_FOREIGN_PATHS if foreign_paths is None else foreign_paths
    if not storage_path or not posixpath.isabs(storage_path):
        return "registry_storage_path %r is not an absolute path" % (storage_path,)
    for path in [storage_path] + ([real_path] if real_path and real_path != storage_path else []):
        for other in foreign:
            if _inside(path, other):
                return ("%s lies in %s, another service's data: choose a path of the registry's "
                        "own (registry_storage_path)" % (path, other))
            if _inside(other, path):
                return ("%s holds %s, another service's data: choose a directory of the "
                        "registry's own (registry_storage_path)" % (path, other))
    if mount_point and mount_point != "/":
        for other in sorted(foreign_mounts or {}):
            if other in foreign and (foreign_mounts or {})[other] == mount_point:
                return ("%s is on the filesystem mounted at %s, which also holds %s (another "
                        "service's data): a full registry would stop that service; give the "
                        "registry a filesystem of its own or another registry_storage_path"
                        % (storage_path, mount_point, other))
    return ""


# --- distribution's config.yml ------------------------------------------------------------------

def merge_extra(base, extra):
    """A role's ``*_config_extra`` merged into the configuration it builds, recursively; a null
    removes that key (the registry and harbor roles share it)."""
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_extra(base[key], value)
        elif value is None:
            base.pop(key, None)
        else:
            base[key] = copy.deepcopy(value)
    return base


def distribution_config(settings):
    """The role's settings -> the CNCF distribution configuration (config.yml) as a dict.

    settings: storage_path, delete_enabled, listen_address, port, cert_path, key_path,
    htpasswd_path ('' = no authentication), realm, http_secret ('' = the registry draws one at
    start), log_level, upload_purging_age, extra (merged last, recursively; a null removes a key).
    """
    port = int(settings["port"])
    if not 0 < port < 65536:
        raise RegistrySettingsError("registry_port %r is not a TCP port (1-65535)" % (port,))
    listen = settings.get("listen_address") or ""
    if listen and ip_or_none(listen) is None:
        raise RegistrySettingsError(
            "registry_listen_address %r is not an IP address: give one of the host's addresses, "
            "or '' for all of them" % (listen,))
    host = "[%s]" % listen if listen and ":" in listen else listen
    config = {
        "version": 0.1,
        "log": {"level": settings.get("log_level") or "info", "fields": {"service": "registry"}},
        "storage": {
            "filesystem": {"rootdirectory": settings["storage_path"]},
            "delete": {"enabled": bool(settings.get("delete_enabled"))},
            "cache": {"blobdescriptor": "inmemory"},
            "maintenance": {"uploadpurging": {
                "enabled": True, "age": settings.get("upload_purging_age") or "168h",
                "interval": "24h", "dryrun": False}},
        },
        "http": {
            "addr": "%s:%d" % (host, port),
            "tls": {"certificate": settings["cert_path"], "key": settings["key_path"]},
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }
    if settings.get("http_secret"):
        config["http"]["secret"] = settings["http_secret"]
    if settings.get("htpasswd_path"):
        config["auth"] = {"htpasswd": {"realm": settings.get("realm") or "registry",
                                       "path": settings["htpasswd_path"]}}
    return merge_extra(config, settings.get("extra"))


def host_problems(probe, port, storage_path, foreign_paths=None, unit=""):
    """The parsed host probe -> what stops the role on this host: the port held by another
    process than the registry's own unit, or a storage path of another service."""
    problems = []
    if not probe.get("has_ss"):
        problems.append("the host has no 'ss' (package iproute2), so the role cannot see who "
                        "holds port %d: install iproute2" % int(port))
    running = bool(probe.get("main_pid"))
    held = port_conflicts(probe.get("listen"), port, [probe.get("main_pid")], unit,
                          probe.get("user_uid") if running else None)
    if held:
        problems.append("port %d is held by %s: stop that service or set registry_port"
                        % (int(port), "; ".join(held)))
    conflict = storage_conflict(storage_path, probe.get("storage_real"), probe.get("storage_mount"),
                                foreign_paths, probe.get("foreign_mounts"))
    if conflict:
        problems.append(conflict)
    return problems
