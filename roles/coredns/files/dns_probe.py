# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask DNS servers one question each from this node; print JSON {server: "ok" | error}.

Run by the coredns role (ansible.builtin.script) before anything is deployed, so "no
upstream reachable" stops the run naming the node. Standard library only: the node has
Python (Ansible needs it), maybe no dig. Usage: dns_probe.py TIMEOUT NAME SERVER...
where SERVER is IP, IP:PORT, [IPv6]:PORT or tls://... (TLS: a TCP connect only).
"""

import json
import os
import socket
import struct
import sys


def parse(server):
    tls = server.startswith("tls://")
    text = server[len("tls://"):] if tls else server
    port = 853 if tls else 53
    if text.startswith("["):
        host, rest = text[1:].split("]", 1)
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, port = text.split(":")
        port = int(port)
    else:
        host = text
    return host, port, tls


def query(name, qtype=2):
    ident = struct.unpack("!H", os.urandom(2))[0]
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    labels = b"".join(struct.pack("!B", len(p)) + p.encode("ascii")
                      for p in name.strip(".").split(".") if p)
    return ident, header + labels + b"\x00" + struct.pack("!HH", qtype, 1)


def probe(server, name, timeout):
    host, port, tls = parse(server)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if tls:
        with socket.create_connection((host, port), timeout=timeout):
            return "ok (TCP connect only)"
    ident, packet = query(name)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.sendto(packet, (host, port))
        while True:
            data, _addr = sock.recvfrom(4096)
            if len(data) >= 4 and struct.unpack("!H", data[:2])[0] == ident:
                rcode = data[3] & 0x0F
                return "ok (rcode %d)" % rcode
    finally:
        sock.close()


def main(argv):
    timeout, name, servers = float(argv[1]), argv[2], argv[3:]
    out = {}
    for server in servers:
        try:
            out[server] = probe(server, name, timeout)
        except (OSError, ValueError) as exc:
            out[server] = "error: %s" % (exc.__class__.__name__ if not str(exc) else exc)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
