# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster DNS logic of the coredns role: the Corefile, and what a node's resolv.conf means.

Pure: no I/O. The role reads files on the nodes and hands their text here (through the
filters in plugins/filter/coredns.py); the integration tests run the real CoreDNS binary
on what ``render_corefile`` returns.

Sources: docs/references.md, "Cluster DNS" (kubeadm's default Corefile,
the loop plugin's README and its three fixes) and the paper's Table 4.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class CorefileError(XinchuangError, ValueError):
    """A cluster DNS setting that cannot produce a working Corefile."""


# Where the real upstream servers live when /etc/resolv.conf points at a local stub:
# systemd-resolved, NetworkManager (its dnsmasq or resolved mode), Debian's dnsmasq package.
STUB_RESOLV_CANDIDATES = (
    "/run/systemd/resolve/resolv.conf",
    "/run/NetworkManager/no-stub-resolv.conf",
    "/run/dnsmasq/resolv.conf",
)
HOST_RESOLV_CONF = "/etc/resolv.conf"
REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")
POD_MODES = ("insecure", "verified", "disabled")

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")

DEFAULTS = {
    "cluster_domain": "cluster.local",
    "port": 53,
    "bind": [],
    "upstreams": [],
    "air_gapped": False,
    "resolv_conf": HOST_RESOLV_CONF,
    "max_concurrent": 1000,
    "kubernetes": True,
    "kubeconfig": None,
    "kube_context": None,
    "reverse_zones": list(REVERSE_ZONES),
    "pods": "insecure",
    "kubernetes_ttl": 30,
    "health": "",
    "lameduck": "5s",
    "ready": "",
    "prometheus": ":9153",
    "cache_ttl": 30,
    "cache_disable_cluster": True,
    "errors": True,
    "log": False,
    "loop": True,
    "reload": True,
    "loadbalance": True,
    "hosts": [],
    "hosts_ttl": 60,
    "stub_zones": [],
    "root_zone_file": "/etc/coredns/db.root",
}


# ---------------------------------------------------------------------------
# resolv.conf
# ---------------------------------------------------------------------------

def is_loopback(address):
    """True for addresses that reach the host itself: 127.0.0.0/8, ::1, 0.0.0.0 and ::.

    glibc treats the unspecified address as "this host" too, so a resolver on it is a
    local stub just like 127.0.0.53. Anything that is not an IP address is False.
    """
    try:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


def parse_resolv_conf(text):
    """resolv.conf text -> {'nameservers', 'search', 'options', 'invalid'}.

    Follows glibc: comments start with ``#`` or ``;``; the last ``search``/``domain`` line
    wins; nameserver values that are not IP addresses are ignored (listed in ``invalid``).
    """
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise CorefileError("resolv.conf content must be text, got %s" % type(text).__name__)
    nameservers, search, options, invalid = [], [], [], []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        key, values = fields[0], fields[1:]
        if key == "nameserver" and values:
            try:
                ipaddress.ip_address(values[0].split("%", 1)[0])
            except ValueError:
                invalid.append(values[0])
                continue
            nameservers.append(values[0])
        elif key in ("search", "domain"):
            search = list(values)
        elif key == "options":
            options.extend(values)
    return {"nameservers": nameservers, "search": search, "options": options,
            "invalid": invalid}


def classify_resolv_conf(text):
    """resolv.conf text -> parse_resolv_conf() plus 'loopback', 'upstream', 'loopback_only'.

    ``loopback_only`` is True when every nameserver is a loopback address (systemd-resolved's
    127.0.0.53, dnsmasq's 127.0.0.1, ::1), and also when there is no nameserver at all:
    glibc then asks 127.0.0.1. A CoreDNS Pod forwarding to such a file forwards to itself.
    """
    info = parse_resolv_conf(text)
    info["loopback"] = [ns for ns in info["nameservers"] if is_loopback(ns)]
    info["upstream"] = [ns for ns in info["nameservers"] if not is_loopback(ns)]
    info["loopback_only"] = not info["upstream"]
    return info


# ---------------------------------------------------------------------------
# Upstreams
# ---------------------------------------------------------------------------

def parse_upstream(value):
    """One forwarder -> {'scheme', 'address', 'port', 'text'} (text = as the forward plugin
    wants it). Accepts ``IP``, ``IP:PORT``, ``[IPv6]:PORT``, ``dns://...`` and ``tls://...``.
    Names are refused: the forward plugin takes addresses only.
    """
    if not isinstance(value, str) or not value.strip():
        raise CorefileError("upstream %r is empty: give an IP address such as 10.0.0.2 or "
                            "10.0.0.2:53 in coredns_upstreams" % (value,))
    text = value.strip()
    scheme = "dns"
    if "://" in text:
        scheme, text = text.split("://", 1)
        if scheme not in ("dns", "tls"):
            raise CorefileError("upstream %r: scheme %r is not supported by the forward "
                                "plugin; use dns:// or tls://" % (value, scheme))
    port = 853 if scheme == "tls" else 53
    address = text
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise CorefileError("upstream %r: unclosed '['" % value)
        address, rest = text[1:end], text[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise CorefileError("upstream %r: expected ':PORT' after ']'" % value)
            port = rest[1:]
    elif text.count(":") == 1:
        address, port = text.split(":", 1)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise CorefileError("upstream %r is not an IP address: the forward plugin needs "
                            "addresses (resolve the name yourself and list its IPs)" % value)
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise CorefileError("upstream %r: port %r is not a number" % (value, port))
    if not 0 < port < 65536:
        raise CorefileError("upstream %r: port %d out of range 1-65535" % (value, port))
    default_port = 853 if scheme == "tls" else 53
    host = "[%s]" % ip if ip.version == 6 else str(ip)
    out = host if port == default_port else "%s:%d" % (host, port)
    if scheme == "tls":
        out = "tls://" + out
    return {"scheme": scheme, "address": str(ip), "port": port, "text": out}


def normalize_upstreams(values):
    """List of forwarders -> their canonical texts, order kept, duplicates dropped."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        text = parse_upstream(value)["text"]
        if text not in out:
            out.append(text)
    return out


def loopback_upstreams(values):
    """The forwarders of ``values`` that point at the host (or Pod) itself."""
    return [v for v in normalize_upstreams(values) if is_loopback(parse_upstream(v)["address"])]


# ---------------------------------------------------------------------------
# The node resolver plan (the stub-resolver fix)
# ---------------------------------------------------------------------------

def resolver_plan(files, upstreams=None, air_gapped=False, resolv_conf=HOST_RESOLV_CONF,
                  candidates=STUB_RESOLV_CANDIDATES, generated_path="/etc/kubernetes/resolv.conf",
                  host=None):
    """Decide which resolv.conf kubelet gets and where CoreDNS forwards, for one node.

    ``files`` maps a path to its text, or to None when the file does not exist; it should
    hold ``resolv_conf`` and every path of ``candidates``.

    Returns a dict:
      kubelet_resolv_conf   the file for kubelet's ``resolvConf`` (what Pods with
                            ``dnsPolicy: Default``, CoreDNS among them, get as resolv.conf)
      generated_resolv_conf text to write to ``generated_path`` first, or None
      forward               'resolv_conf', 'upstreams' or 'none'
      nameservers           the servers CoreDNS will really forward to (for reachability)
      stub                  the loopback servers found in ``resolv_conf`` ([] if none)
      reason                one sentence saying what was found and chosen
      error                 None, or a message naming the node, the problem and the fixes
    """
    where = "host %s: " % host if host else ""
    files = dict(files or {})
    upstreams = normalize_upstreams(upstreams)
    if air_gapped and upstreams:
        raise CorefileError(
            "%scoredns_air_gapped is true and coredns_upstreams is set (%s): an air-gapped "
            "Corefile has no forward plugin; empty one of the two" % (where, ", ".join(upstreams)))
    forward = "none" if air_gapped else ("upstreams" if upstreams else "resolv_conf")
    explicit = [parse_upstream(u)["address"] for u in upstreams]
    plan = {"kubelet_resolv_conf": resolv_conf, "generated_resolv_conf": None,
            "forward": forward, "nameservers": [], "stub": [], "reason": "", "error": None}

    if files.get(resolv_conf) is None:
        host_info = classify_resolv_conf("")
        missing = " (missing)"
    else:
        host_info = classify_resolv_conf(files[resolv_conf])
        missing = ""

    if not host_info["loopback_only"]:
        plan["nameservers"] = explicit or host_info["upstream"]
        plan["reason"] = "%s lists real nameservers (%s)" % (
            resolv_conf, ", ".join(host_info["upstream"]))
        if forward == "none":
            plan["nameservers"] = []
        return plan

    stub = host_info["loopback"] or ["127.0.0.1 (no nameserver line: glibc's default)"]
    plan["stub"] = host_info["loopback"]
    found = None
    for path in candidates:
        if path == resolv_conf or files.get(path) is None:
            continue
        info = classify_resolv_conf(files[path])
        if not info["loopback_only"]:
            found = (path, info)
            break
    if found:
        path, info = found
        plan["kubelet_resolv_conf"] = path
        plan["nameservers"] = [] if forward == "none" else (explicit or info["upstream"])
        plan["reason"] = ("%s%s points at a local stub resolver (%s); kubelet gets %s, which "
                          "lists the real upstreams (%s)" % (
                              resolv_conf, missing, ", ".join(stub), path,
                              ", ".join(info["upstream"])))
        return plan

    if upstreams:
        # resolv.conf has no port syntax: only plain DNS on port 53 can go there.
        plain = [parse_upstream(u) for u in upstreams]
        plain = [u["address"] for u in plain if u["scheme"] == "dns" and u["port"] == 53
                 and not is_loopback(u["address"])]
        plan["nameservers"] = explicit
        if plain:
            lines = ["# Written by the xinchuang.cloud.coredns role: %s points at a local stub"
                     % resolv_conf, "# resolver, so kubelet hands Pods these upstreams instead."]
            lines += ["nameserver %s" % ns for ns in plain[:3]]
            if host_info["search"]:
                lines.append("search %s" % " ".join(host_info["search"]))
            plan["generated_resolv_conf"] = "\n".join(lines) + "\n"
            plan["kubelet_resolv_conf"] = generated_path
            plan["reason"] = ("%s%s points at a local stub resolver (%s) and no real upstream "
                              "file exists; CoreDNS forwards to coredns_upstreams and kubelet "
                              "gets %s written from them" % (
                                  resolv_conf, missing, ", ".join(stub), generated_path))
        else:
            plan["error"] = (
                "%s%s points at a local stub resolver (%s) and coredns_upstreams (%s) has no "
                "plain DNS server on port 53 to write into a resolv.conf for kubelet: Pods "
                "with dnsPolicy Default would get the stub. Add such a server to "
                "coredns_upstreams or set coredns_kubelet_resolv_conf to a file with real "
                "nameservers" % (where, resolv_conf, ", ".join(stub), ", ".join(upstreams)))
        return plan

    if forward == "none":
        plan["reason"] = ("%s%s points at a local stub resolver (%s); air-gapped: CoreDNS has "
                          "no forward plugin, so no loop is possible; kubelet keeps it" % (
                              resolv_conf, missing, ", ".join(stub)))
        return plan

    plan["error"] = (
        "%s%s%s points at a local stub resolver (%s) and none of %s lists a real upstream: "
        "CoreDNS would forward to itself and its loop plugin would stop it (CrashLoopBackOff). "
        "Fix one of: set coredns_upstreams to your DNS servers; set coredns_kubelet_resolv_conf "
        "to a file with the real nameservers; or set coredns_air_gapped: true for a site "
        "without upstream DNS" % (
            where, resolv_conf, missing, ", ".join(stub),
            ", ".join(c for c in candidates if c != resolv_conf)))
    return plan


# ---------------------------------------------------------------------------
# The Corefile
# ---------------------------------------------------------------------------

def _check_domain(name, option):
    if not isinstance(name, str):
        raise CorefileError("%s %r is not a DNS name" % (option, name))
    stripped = name.strip().rstrip(".")
    if not stripped or not all(_LABEL.match(part) for part in stripped.split(".")):
        raise CorefileError("%s %r is not a DNS name (letters, digits, '-' and '_' in dot-"
                            "separated labels, e.g. cluster.local)" % (option, name))
    return stripped.lower()


def _check_port(value, option):
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise CorefileError("%s %r is not a port number" % (option, value))
    if not 0 < port < 65536:
        raise CorefileError("%s %r is out of range 1-65535" % (option, value))
    return port


def _check_int(value, option, minimum=0):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise CorefileError("%s %r is not a whole number" % (option, value))
    if number < minimum:
        raise CorefileError("%s %r must be at least %d" % (option, value, minimum))
    return number


def _check_listen(value, option):
    """'' (plugin default), ':PORT' or 'HOST:PORT'."""
    if value in (None, ""):
        return ""
    text = str(value).strip()
    if ":" not in text:
        raise CorefileError("%s %r: give ':PORT' or 'ADDRESS:PORT' (e.g. :9153)" % (option, value))
    host, port = text.rsplit(":", 1)
    _check_port(port, option)
    if host:
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            if host != "localhost":
                raise CorefileError("%s %r: %r is not an address" % (option, value, host))
    return text


def _hosts_lines(entries):
    lines = []
    for entry in entries or []:
        if not isinstance(entry, dict) or "ip" not in entry or not entry.get("names"):
            raise CorefileError("coredns_hosts entry %r: give {ip: ADDRESS, names: [NAME, ...]}"
                                % (entry,))
        try:
            ip = ipaddress.ip_address(str(entry["ip"]))
        except ValueError:
            raise CorefileError("coredns_hosts entry %r: %r is not an IP address"
                                % (entry, entry["ip"]))
        names = entry["names"]
        if isinstance(names, str):
            names = [names]
        names = [_check_domain(n, "coredns_hosts name") for n in names]
        lines.append("%s %s" % (ip, " ".join(names)))
    return lines


def _options(options):
    opts = dict(DEFAULTS)
    unknown = sorted(set(options or {}) - set(DEFAULTS))
    if unknown:
        raise CorefileError("unknown Corefile option(s) %s; known: %s"
                            % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    # None means "the default", so a role can pass every option and omit none.
    opts.update(dict((k, v) for k, v in (options or {}).items() if v is not None))
    opts["cluster_domain"] = _check_domain(opts["cluster_domain"], "cluster_domain")
    opts["port"] = _check_port(opts["port"], "port")
    opts["upstreams"] = normalize_upstreams(opts["upstreams"])
    opts["air_gapped"] = bool(opts["air_gapped"])
    if opts["air_gapped"] and opts["upstreams"]:
        raise CorefileError(
            "air_gapped is true and upstreams are given (%s): an air-gapped Corefile has no "
            "forward plugin; empty coredns_upstreams or set coredns_air_gapped: false"
            % ", ".join(opts["upstreams"]))
    if opts["pods"] not in POD_MODES:
        raise CorefileError("pods %r: choose one of %s" % (opts["pods"], ", ".join(POD_MODES)))
    if opts["lameduck"] and not _DURATION.match(str(opts["lameduck"])):
        raise CorefileError("lameduck %r is not a duration such as 5s" % (opts["lameduck"],))
    for key in ("max_concurrent", "kubernetes_ttl", "cache_ttl", "hosts_ttl"):
        opts[key] = _check_int(opts[key], key)
    for key in ("health", "ready", "prometheus"):
        opts[key] = _check_listen(opts[key], key)
    bind = opts["bind"] or []
    if isinstance(bind, str):
        bind = [bind]
    for address in bind:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise CorefileError("bind address %r is not an IP address" % (address,))
    opts["bind"] = list(bind)
    opts["reverse_zones"] = [_check_domain(z, "reverse_zones") for z in opts["reverse_zones"] or []]
    if opts["kubeconfig"] and not opts["kube_context"]:
        raise CorefileError("kubeconfig %r needs kube_context as well (the kubernetes plugin "
                            "takes 'kubeconfig PATH CONTEXT')" % (opts["kubeconfig"],))
    return opts


def _block(name, lines, indent="    "):
    """``name {`` + indented lines + ``}``; ``name`` alone when there are no lines."""
    if not lines:
        return [indent + name]
    return [indent + name + " {"] + [indent + "   " + line for line in lines] + [indent + "}"]


def render_corefile(options=None):
    """Options (see DEFAULTS) -> Corefile text.

    The main server block follows kubeadm's default (plugin order of Table 4): errors,
    health { lameduck }, ready, kubernetes, prometheus, forward, cache with the
    ``disable success|denial <domain>`` lines of kubeadm since kubernetes #128359, loop,
    reload, loadbalance. Differences, all opt-in:
    - ``upstreams``: ``forward . <those>`` instead of ``/etc/resolv.conf``;
    - ``air_gapped``: no forward plugin; names outside the cluster get an authoritative
      NXDOMAIN from an empty root zone (``file <root_zone_file> .``, see ``root_zone``)
      instead of a timeout, and the loop probe has nowhere to loop;
    - ``hosts``: static names of the site (registry, NTP) answered before anything else;
    - ``stub_zones``: one extra server block per internal zone with its own forwarders.
    """
    o = _options(options)
    domain = o["cluster_domain"]
    lines = [".:%d {" % o["port"]]
    if o["bind"]:
        lines.append("    bind " + " ".join(o["bind"]))
    if o["errors"]:
        lines.append("    errors")
    if o["log"]:
        lines.append("    log")
    health = "health" + (" " + o["health"] if o["health"] else "")
    lines += _block(health, ["lameduck %s" % o["lameduck"]] if o["lameduck"] else [])
    lines.append("    ready" + (" " + o["ready"] if o["ready"] else ""))
    host_lines = _hosts_lines(o["hosts"])
    if host_lines:
        lines += _block("hosts", host_lines + ["ttl %d" % o["hosts_ttl"], "fallthrough"])
    if o["kubernetes"]:
        zones = [domain] + o["reverse_zones"]
        body = []
        if o["kubeconfig"]:
            body.append("kubeconfig %s %s" % (o["kubeconfig"], o["kube_context"]))
        body.append("pods %s" % o["pods"])
        if o["reverse_zones"]:
            body.append("fallthrough %s" % " ".join(o["reverse_zones"]))
        body.append("ttl %d" % o["kubernetes_ttl"])
        lines += _block("kubernetes " + " ".join(zones), body)
    if o["prometheus"]:
        lines.append("    prometheus %s" % o["prometheus"])
    if o["air_gapped"]:
        lines.append("    file %s ." % o["root_zone_file"])
    else:
        target = " ".join(o["upstreams"]) if o["upstreams"] else o["resolv_conf"]
        lines += _block("forward . %s" % target, ["max_concurrent %d" % o["max_concurrent"]])
    cache_body = []
    if o["cache_disable_cluster"] and o["kubernetes"]:
        cache_body = ["disable success %s" % domain, "disable denial %s" % domain]
    lines += _block("cache %d" % o["cache_ttl"], cache_body)
    for flag in ("loop", "reload", "loadbalance"):
        if o[flag]:
            lines.append("    " + flag)
    lines.append("}")

    for stub in o["stub_zones"] or []:
        if not isinstance(stub, dict) or not stub.get("zone") or not stub.get("upstreams"):
            raise CorefileError("stub zone %r: give {zone: NAME, upstreams: [IP, ...]}" % (stub,))
        zone = _check_domain(stub["zone"], "stub zone")
        if zone == domain or zone.endswith("." + domain):
            raise CorefileError("stub zone %r lies inside the cluster domain %r: the "
                                "kubernetes plugin answers it" % (stub["zone"], domain))
        lines.append("%s:%d {" % (zone, o["port"]))
        if o["bind"]:
            lines.append("    bind " + " ".join(o["bind"]))
        lines.append("    errors")
        lines.append("    cache %d" % o["cache_ttl"])
        lines.append("    forward . %s" % " ".join(normalize_upstreams(stub["upstreams"])))
        lines.append("}")
    return "\n".join(lines) + "\n"


def root_zone(cluster_domain="cluster.local", ttl=30):
    """Zone file of an empty root zone: the air-gapped Corefile answers every name outside
    the cluster with an authoritative NXDOMAIN (negative TTL ``ttl``) from it."""
    domain = _check_domain(cluster_domain, "cluster_domain")
    ttl = _check_int(ttl, "ttl", 1)
    return (
        "; Empty root zone of the air-gapped cluster DNS (xinchuang.cloud.coredns): names\n"
        "; outside %(d)s get NXDOMAIN at once instead of a timeout.\n"
        "$ORIGIN .\n"
        "$TTL %(t)d\n"
        "@ IN SOA ns.dns.%(d)s. hostmaster.%(d)s. 1 7200 1800 86400 %(t)d\n"
        "@ IN NS ns.dns.%(d)s.\n" % {"d": domain, "t": ttl})
