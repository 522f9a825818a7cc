# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operating-system model: THE table of the OS classes the roles know, and the
classification of a host's facts into one of them.

Ansible's own facts are wrong or unhelpful for several domestic systems (UOS Server E is
reported as Debian, UnionTech and Anolis as their own os_family, Kylin's major version is the
string "V10"), so roles ask this model (filter ``xinchuang.cloud.os_family``) instead of
branching on ``ansible_os_family``. The CPU side is ``arch.py``; the two models are
independent: any OS class may run on any family.

Sources for each correction: ``docs/references.md`` (operating systems as Ansible reports
them).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import UnsupportedOSError
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.host_facts import fact

OSClass = namedtuple(
    "OSClass", ["name", "title", "package_family", "pkg_mgr", "service_mgr", "vars_name"])

# name -> (title, package family, package manager, vars file name)
_OS_TABLE = {
    "kylin": ("Kylin Linux Advanced Server", "rpm", "dnf", "kylin"),
    "kylin_desktop": ("Kylin Desktop", "deb", "apt", "debian"),
    "uos_server": ("UOS / UnionTech Server", "rpm", "dnf", "uos_server"),
    "uos_desktop": ("UOS / Deepin desktop", "deb", "apt", "debian"),
    "openeuler": ("openEuler", "rpm", "dnf", "openeuler"),
    "anolis": ("Anolis OS", "rpm", "dnf", "anolis"),
    "debian": ("Debian", "deb", "apt", "debian"),
    "ubuntu": ("Ubuntu", "deb", "apt", "debian"),
    "redhat": ("RHEL family", "rpm", "dnf", "redhat"),
}

# ansible_distribution values (lower case) -> class name, when the value alone decides.
_DISTRIBUTIONS = {
    "kylin linux advanced server": "kylin",
    "kylin": "kylin",  # refined by os_family below: the desktop edition is Debian-like
    "openeuler": "openeuler",
    "euleros": "openeuler",
    "anolis": "anolis",
    "uniontech": "uos_server",
    "uniontechos": "uos_server",
    "uos": "uos",  # server or desktop: decided by release codename / package manager
    "deepin": "uos_desktop",
    "debian": "debian",
    "ubuntu": "ubuntu",
    "redhat": "redhat",
    "centos": "redhat",
    "rocky": "redhat",
    "almalinux": "redhat",
    "oraclelinux": "redhat",
    "fedora": "redhat",
    "tencentos": "redhat",
    "alibaba": "redhat",
}

# UOS server editions: kongzi (A, Anolis-based), fuyu (E, openEuler-based).
_UOS_SERVER_RELEASES = ("kongzi", "fuyu")


def supported_os():
    """Every OS class name, sorted (the choices of the preflight role's preflight_allowed_os)."""
    return sorted(_OS_TABLE)


def classify_os(facts):
    """Host facts -> OSClass(name, title, package_family, pkg_mgr, service_mgr, vars_name).

    Corrects what Ansible gets wrong for domestic systems: UOS Server without a
    redhat-release file reports os_family Debian; UnionTech and Anolis report their own
    name as os_family; Kylin's major version is the string "V10".
    """
    if not isinstance(facts, dict):
        raise UnsupportedOSError(
            "os_family expects host facts (ansible_facts or hostvars[host]), got %r"
            % (type(facts).__name__,))
    dist = fact(facts, "ansible_distribution")
    if not dist:
        raise UnsupportedOSError(
            "os_family: the facts have no ansible_distribution; gather facts first")
    name = _DISTRIBUTIONS.get(str(dist).lower())
    os_family = str(fact(facts, "ansible_os_family") or "").lower()
    release = str(fact(facts, "ansible_distribution_release") or "").lower()
    pkg_mgr = str(fact(facts, "ansible_pkg_mgr") or "").lower()

    if name is None and os_family in ("redhat", "anolis", "uniontech"):
        name = "redhat"
    if name is None and os_family == "debian":
        name = "debian"
    if name == "kylin" and os_family == "debian":
        name = "kylin_desktop"
    if name == "uos":
        if release in _UOS_SERVER_RELEASES or pkg_mgr in ("dnf", "yum"):
            name = "uos_server"
        else:
            name = "uos_desktop"
    if name is None:
        raise UnsupportedOSError(
            "operating system %r (os_family %r) is not supported; supported: Kylin V10, UOS / "
            "UnionTech, openEuler, Anolis, Debian, Ubuntu and the RHEL family. Add a row to "
            "_OS_TABLE in plugins/plugin_utils/model/os_model.py and a vars file to the roles"
            % (dist, fact(facts, "ansible_os_family")))
    title, package_family, manager, vars_name = _OS_TABLE[name]
    if package_family == "rpm":
        major = str(fact(facts, "ansible_distribution_major_version") or "")
        # Kylin's major is "V10": never int() it. Old RHEL-likes (7) only have yum.
        if major.isdigit() and int(major) < 8 and name in ("redhat", "anolis"):
            manager = "yum"
    return OSClass(name, title, package_family, manager, "systemd", vars_name)
