"""Real hosts for the role tests: systemd lab containers of their own, a Debian repository
standing for a site's local mirror, and ansible-playbook runs of a role on them.

- ``LabHost``: a container of a lab image (``hack/lab.sh images``) named ``xc-reg-<arch>``,
  booted with systemd as PID 1 with the flags of the lab's base profile (docs/lab.md), on the
  internal docker network ``xc-reg`` (no route out of the machine; this machine reaches it at
  its address). Never one of the lead's ``xc-lab-*`` hosts.
- ``debian_repository``: the Debian packages a role installs that the lab image lacks, fetched
  once with apt-get from the Debian mirror (against the image's own dpkg status, so exactly the
  missing ones) into ``$XC_CACHE/role-tests/debs/<suite>-<arch>``, indexed with
  dpkg-scanpackages. The host mounts it read-only and uses it as its only apt source: the role
  installs from the "site's mirror" with the host offline.
- ``run_play``: one play through the project's ansible-playbook, results read through the
  ansible.posix.json callback.
"""

import fcntl
import json
import os
import subprocess
import tempfile
import time

from tests.integration.ansible_run import ansible_playbook

CACHE = os.environ.get("XC_CACHE", "/var/cache/xinchuang")
NETWORK = "xc-reg"
LABEL = "xinchuang.test=role-hosts"
MIRROR = os.environ.get("XC_DEBIAN_MIRROR", "http://deb.debian.org/debian")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
REPO_IN_HOST = "/srv/xc-debs"
# The lab images (hack/lab/archs.sh): Debian architecture -> (suite, image, docker platform).
IMAGES = {
    "amd64": ("bookworm", "xinchuang-lab:bookworm-amd64", "linux/amd64"),
    "arm64": ("bookworm", "xinchuang-lab:bookworm-arm64", "linux/arm64"),
}


def sh(argv, check=True, timeout=600, **kwargs):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (exit %d):\n%s\n%s" % (
            " ".join(argv), proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
    return proc


def _apt(state, suite, arch, status, *args):
    """apt-get under a configuration of its own for Debian ``suite``/``arch``: the machine's
    apt sources and state are never touched."""
    for d in ("lists/partial", "cache/archives/partial", "etc"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    sources = os.path.join(state, "etc", "sources.list")
    with open(sources, "w") as fh:
        fh.write("deb [signed-by=%s] %s %s main\n" % (KEYRING, MIRROR, suite))
    return sh(["apt-get", "-q",
               "-o", "Dir::Etc::SourceList=" + sources,
               "-o", "Dir::Etc::SourceParts=" + os.path.join(state, "etc"),
               "-o", "Dir::Etc::Parts=" + os.path.join(state, "etc"),
               "-o", "Dir::Etc::Preferences=" + os.path.join(state, "etc", "preferences"),
               "-o", "Dir::Etc::PreferencesParts=" + os.path.join(state, "etc"),
               "-o", "Dir::State::Lists=" + os.path.join(state, "lists"),
               "-o", "Dir::State::status=" + status,
               "-o", "Dir::Cache=" + os.path.join(state, "cache"),
               "-o", "APT::Architecture=" + arch, "-o", "APT::Architectures::=" + arch,
               "-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=true"] + list(args),
              timeout=900)


def debian_repository(arch, packages, status_text=None, flavour="image"):
    """A directory holding the .deb files ``packages`` need on the lab image of ``arch``
    (beyond what the image has) and their Packages index; built once, kept in the cache.
    ``status_text``: the dpkg status of another host of that suite and architecture (a lab
    machine, whose image differs from the container image: name it by ``flavour``).
    Test modules in other xdist workers share the apt state: one builds at a time."""
    suite = IMAGES[arch][0]
    where = "%s-%s" % (suite, arch) + ("" if flavour == "image" else "-" + flavour)
    repo = os.path.join(CACHE, "role-tests", "debs", where, "-".join(sorted(packages)))
    state = os.path.join(CACHE, "role-tests", "apt", where)
    os.makedirs(state, exist_ok=True)
    with open(state + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(os.path.join(repo, "Packages")):
            _build_repository(arch, packages, status_text, state, repo)
    return repo


def _build_repository(arch, packages, status_text, state, repo):
    suite, image, platform = IMAGES[arch]
    status = os.path.join(state, "image-status")
    if status_text is None:
        status_text = sh(["docker", "run", "--rm", "--network", "none", "--platform", platform,
                          image, "cat", "/var/lib/dpkg/status"]).stdout
    with open(status, "w") as fh:
        fh.write(status_text)
    _apt(state, suite, arch, status, "update")
    tmp = repo + ".tmp"
    sh(["rm", "-rf", tmp])
    os.makedirs(os.path.join(tmp, "partial"))
    _apt(state, suite, arch, status, "install", "--download-only", "-y", "--no-install-recommends",
         "-o", "Dir::Cache::archives=" + tmp, *packages)
    os.rmdir(os.path.join(tmp, "partial"))
    index = sh(["dpkg-scanpackages", "--multiversion", "."], cwd=tmp).stdout
    with open(os.path.join(tmp, "Packages"), "w") as fh:
        fh.write(index)
    os.rename(tmp, repo)


def network():
    """The tests' own internal docker network (created once, kept: hosts come and go)."""
    if sh(["docker", "network", "inspect", NETWORK], check=False).returncode != 0:
        made = sh(["docker", "network", "create", "--driver", "bridge", "--internal", "--label", LABEL,
                   NETWORK], check=False)
        # Another test module (another xdist worker) may have made it meanwhile.
        if made.returncode != 0 and sh(["docker", "network", "inspect", NETWORK], check=False).returncode != 0:
            raise AssertionError("docker network create %s failed: %s" % (NETWORK, made.stderr))
    return NETWORK


class LabHost(object):
    """A systemd lab container reached by Ansible with `docker exec`."""

    def __init__(self, name, arch, repository=None, extra_args=()):
        self.name, self.arch = name, arch
        self.extra_args = list(extra_args)  # more docker run flags (a capability a server needs)
        self.suite, self.image, self.platform = IMAGES[arch]
        self.repository = repository
        self.address = None

    def start(self, boot_timeout=300):
        if sh(["docker", "image", "inspect", self.image], check=False).returncode != 0:
            raise AssertionError("lab image %s is not loaded: run hack/lab.sh images %s"
                                 % (self.image, self.arch))
        self.remove()
        argv = ["docker", "run", "-d", "--name", self.name, "--hostname", self.name,
                "--label", LABEL, "--platform", self.platform, "--network", network(),
                "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined",
                "--security-opt", "apparmor=unconfined", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
                "--tmpfs", "/run", "--tmpfs", "/run/lock"]
        if self.repository:
            argv += ["-v", "%s:%s:ro" % (self.repository, REPO_IN_HOST)]
        sh(argv + self.extra_args + [self.image, "/sbin/init"])
        deadline = time.time() + boot_timeout
        state = ""
        while time.time() < deadline:
            state = self.run(["systemctl", "is-system-running"], check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(2)
        else:
            raise AssertionError("%s did not boot within %d s (systemd: %r)"
                                 % (self.name, boot_timeout, state))
        self.address = sh(["docker", "inspect", "-f",
                           "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                           self.name]).stdout.strip()
        if self.repository:
            # The site's mirror: the host's only apt source (it has no route out anyway).
            self.run(["sh", "-c", "echo 'deb [trusted=yes] file:%s ./' >/etc/apt/sources.list "
                      "&& rm -f /etc/apt/sources.list.d/* && apt-get -qq update" % REPO_IN_HOST])
        return self

    def run(self, argv, check=True, stdin=None, timeout=300):
        flags = ["-i"] if stdin is not None else []
        return sh(["docker", "exec"] + flags + [self.name] + argv, check=check, timeout=timeout,
                  input=stdin)

    def remove(self):
        sh(["docker", "rm", "-f", "-v", self.name], check=False)


def run_play(hosts, play=None, check=False, diff=False, extra_vars=None, timeout=1800,
             playbook=None, groups=()):
    """Run one play (a dict without ``hosts``) or a playbook file of the repository on lab
    hosts -> (report of the ansible.posix.json callback, process). The hosts are members of
    ``groups`` too."""
    host_vars = {h.name: {
        "ansible_connection": "community.docker.docker",
        "ansible_python_interpreter": "/usr/bin/python3",
        # Emulated hosts need seconds just to start Python.
        "ansible_docker_timeout": 120,
    } for h in hosts}
    inventory = {"all": {"hosts": host_vars, "children": {
        g: {"hosts": {h.name: {} for h in hosts}} for g in groups}}}
    with tempfile.TemporaryDirectory() as tmp:
        inv_path = os.path.join(tmp, "inventory.json")
        with open(inv_path, "w") as fh:
            json.dump(inventory, fh)
        if playbook is None:
            playbook = os.path.join(tmp, "play.yml")
            with open(playbook, "w") as fh:
                json.dump([dict({"hosts": "all", "gather_facts": False}, **play)], fh)
        return ansible_playbook(["-i", inv_path, playbook], check=check, diff=diff,
                                extra_env={"ANSIBLE_PIPELINING": "true"}, extra_vars=extra_vars,
                                timeout=timeout)


def run_role(role, host, role_vars, check=False):
    """Run one role of the collection (by FQCN) on one lab host."""
    return run_play([host], {"roles": [{"role": role}]}, check=check, extra_vars=role_vars)


def task_results(report, host):
    """[(task name, result)] of one host, in order, over every play of the report; a role's
    task without the ``<role> : `` ansible-playbook puts before its name."""
    out = []
    for play in report["plays"]:
        for task in play["tasks"]:
            if host in task["hosts"]:
                out.append((task["task"]["name"].split(" : ", 1)[-1], task["hosts"][host]))
    return out


def changed_tasks(report, host):
    return [name for name, result in task_results(report, host) if result.get("changed")]


def failures(report, host):
    return [(name, result.get("msg", "")) for name, result in task_results(report, host)
            if result.get("failed") and not result.get("ignore_errors")]
