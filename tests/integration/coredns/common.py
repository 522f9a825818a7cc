"""Helpers of the CoreDNS tests: free ports, a CoreDNS process, dig."""

import os
import socket
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def matrix_version(component):
    """Version of a component in the offline bundle's component table."""
    from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy

    return bundle_policy.component(component).version


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (DNS listens on both)."""
    for _attempt in range(50):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            udp.close()
            tcp.close()
        return port
    raise AssertionError("no free port pair found")


def listeners():
    """Options for render_corefile that put every listener on a free loopback port."""
    return {
        "port": free_port(),
        "bind": ["127.0.0.1"],
        "health": "127.0.0.1:%d" % free_port(),
        "ready": "127.0.0.1:%d" % free_port(),
        "prometheus": "127.0.0.1:%d" % free_port(),
    }


def corefile_port(text):
    first = text.splitlines()[0]
    return int(first.split(":")[1].split()[0])


class CoreDNS:
    """One CoreDNS process on a Corefile written to ``workdir``; output in workdir/coredns.log."""

    def __init__(self, binary, workdir, corefile, files=None):
        self.binary = binary
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.corefile = corefile
        self.port = corefile_port(corefile)
        self.conf = os.path.join(self.workdir, "Corefile")
        with open(self.conf, "w") as fh:
            fh.write(corefile)
        for name, text in (files or {}).items():
            with open(os.path.join(self.workdir, name), "w") as fh:
                fh.write(text)
        self.log_path = os.path.join(self.workdir, "coredns.log")
        self.proc = None

    def start(self, wait=True):
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([self.binary, "-conf", self.conf], cwd=self.workdir,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_listening()
        return self

    def log(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_listening(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.alive():
                raise AssertionError("CoreDNS exited (%s) before listening:\n%s"
                                     % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("CoreDNS did not listen on 127.0.0.1:%d in %ds:\n%s"
                             % (self.port, timeout, self.log()))

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()


def http_status(address, path):
    try:
        with urllib.request.urlopen("http://%s%s" % (address, path), timeout=5) as resp:
            return resp.status
    except OSError as exc:
        return getattr(exc, "code", None) or str(exc)


def dig(dig_path, port, name, qtype="A"):
    """Ask 127.0.0.1:port; return (status, [answer rdata], [authority records])."""
    out = subprocess.run(
        [dig_path, "@127.0.0.1", "-p", str(port), name, qtype, "+time=3", "+tries=2",
         "+noall", "+comments", "+answer", "+authority"],
        capture_output=True, text=True, timeout=30, check=False).stdout
    status = None
    answers, authority = [], []
    section = None
    for line in out.splitlines():
        if "status:" in line:
            status = line.split("status:", 1)[1].split(",", 1)[0].strip()
        elif line.startswith(";; ANSWER SECTION"):
            section = answers
        elif line.startswith(";; AUTHORITY SECTION"):
            section = authority
        elif line.startswith(";") or not line.strip():
            continue
        elif section is not None:
            section.append(line.split())
    return status, [a[-1] for a in answers], authority
