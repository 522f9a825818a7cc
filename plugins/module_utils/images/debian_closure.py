# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Programs of Debian packages with the shared libraries they need, as pure rules: which
packages a set of programs pulls in (the closure of their library packages over the Depends
fields), and where each file of those packages goes in a merged-/usr image tree.

The I/O (fetching each package of an architecture, unpacking it) is
``bundle_build.DebianPackages``; ``images/builder.py`` (``debian_tree``) puts the two together
for the images (the NFS node plugin's ``mount`` and ``mount.nfs``).

Why a closure of *library* packages only: a program package's Depends name daemons, scripts
and their interpreters (nfs-common wants adduser, ucf, python3, rpcbind ...) that a program run
by a container never starts; the libraries it is linked with are what it needs. So a
:class:`Take` names the files wanted of a package and the library packages they link
(``follow``, matched by name prefix, so ``libtirpc3`` also finds sid's ``libtirpc3t64``), and
from there every ``lib*`` package of the Depends and Pre-Depends fields is followed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re
from collections import namedtuple

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class DebianClosureError(XinchuangError, ValueError):
    """A package's control data or the closure cannot be used as asked; the message says why."""


# package: Debian package name; paths: the files wanted, as merged-/usr paths ("usr/sbin/
# mount.nfs"; "etc/" for a whole directory); follow: name prefixes of the library packages
# of its Depends that those files link.
Take = namedtuple("Take", ["package", "paths", "follow"])


def parse_take(text):
    """A Take of ``PACKAGE:PATH[,PATH...][:LIBRARY[,LIBRARY...]]`` (builder.debian_tree's argument,
    the recipes' ``takes``)."""
    parts = str(text).split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise DebianClosureError("%r: give PACKAGE:PATH[,PATH...][:LIBRARY[,LIBRARY...]]" % (text,))
    follow = tuple(p for p in parts[2].split(",") if p) if len(parts) == 3 else ()
    return Take(parts[0], tuple(parts[1].split(",")), follow)


# Where library packages put files an image never uses.
_UNUSED_PREFIXES = ("usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/lintian/",
                    "usr/share/bug/", "usr/share/locale/", "usr/share/gcc/", "usr/share/gdb/")
# The top directories merged /usr folds into /usr (Debian since bookworm's usrmerge).
_MERGED = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def parse_control(text):
    """{field: value} of one Debian control paragraph (``dpkg-deb -f``); continuation lines
    are joined to their field with a newline."""
    fields, last = {}, None
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        if line[0] in " \t":
            if last is None:
                raise DebianClosureError("control data starts with a continuation line: %r" % line)
            fields[last] += "\n" + line.strip()
            continue
        if ":" not in line:
            raise DebianClosureError("control line without a field name: %r" % line)
        name, value = line.split(":", 1)
        last = name.strip()
        fields[last] = value.strip()
    return fields


def depends(fields):
    """Package names of the Pre-Depends and Depends of a control paragraph, in order, each
    once: the first of each alternative, without version constraint or architecture."""
    out = []
    for key in ("Pre-Depends", "Depends"):
        for item in (fields.get(key) or "").replace("\n", " ").split(","):
            first = item.split("|", 1)[0].strip()
            if not first:
                continue
            name = first.split("(", 1)[0].split("[", 1)[0].strip().split(":", 1)[0]
            if not _NAME.match(name):
                raise DebianClosureError("cannot read the dependency %r of %s" % (
                    item.strip(), fields.get("Package", "a package")))
            if name not in out:
                out.append(name)
    return out


# Library packages named before Debian's lib<soname> policy (zlib1g: sid's libssl3t64 links
# libz.so.1). The NEEDED check of tests/integration/images finds any other one.
_OLD_LIBRARY_NAMES = ("zlib1g",)


def is_library(name):
    """A shared library package (or its -common data, libtirpc-common's /etc/netconfig), by
    Debian's naming policy."""
    return name.startswith("lib") or name in _OLD_LIBRARY_NAMES


def closure(takes, control_of):
    """The packages a list of :class:`Take` needs, in a stable order: the takes' packages,
    then the library packages their ``follow`` prefixes pick out of their Depends, then every
    library package those depend on, breadth first. ``control_of(name)`` returns a package's
    control fields (a dict) or None when the archive has no such package.

    Returns [(package, fields)]. Raises when a take's package or a followed library is
    missing, or when a ``follow`` prefix matches none of its package's dependencies (the
    files would then lack a library: the take is out of date for that suite)."""
    out, seen, queue = [], set(), []

    def fields_of(name, why):
        fields = control_of(name)
        if fields is None:
            raise DebianClosureError("the archive has no package %s (%s)" % (name, why))
        return fields

    for take in takes:
        fields = fields_of(take.package, "taken for %s" % ", ".join(take.paths))
        if take.package not in seen:
            seen.add(take.package)
            out.append((take.package, fields))
        deps = depends(fields)
        for prefix in take.follow:
            hits = [d for d in deps if d.startswith(prefix)]
            if not hits:
                raise DebianClosureError(
                    "%s depends on no package named %s*: its dependencies are %s; update the "
                    "libraries followed for it" % (take.package, prefix, ", ".join(deps) or "none"))
            queue += [(d, "a library of %s" % take.package) for d in hits]
    while queue:
        name, why = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        fields = fields_of(name, why)
        out.append((name, fields))
        queue += [(d, "a library of %s" % name) for d in depends(fields) if is_library(d)]
    return out


def merged_path(path):
    """A package's file path in a merged-/usr tree: ``sbin/mount.nfs`` -> ``usr/sbin/
    mount.nfs``, ``lib/ld-linux-aarch64.so.1`` -> ``usr/lib/ld-linux-aarch64.so.1``."""
    if path.startswith("./"):
        path = path[2:]
    path = path.lstrip("/")
    top = path.split("/", 1)[0]
    return "usr/" + path if top in _MERGED else path


def merged_link_target(path, target):
    """The target of a package's symbolic link ``path`` once both are moved by
    :func:`merged_path`: absolute targets stay (the tree's top-level links resolve them),
    relative ones are recomputed from the link's new directory."""
    if target.startswith("/"):
        return target
    source_dir = posixpath.dirname(path)
    resolved = posixpath.normpath(posixpath.join(source_dir, target))
    if resolved.startswith("../"):
        raise DebianClosureError("the link %s -> %s leaves the package's tree" % (path, target))
    return posixpath.relpath(merged_path(resolved), posixpath.dirname(merged_path(path)))


def merged_links(paths):
    """The top-level links of a merged-/usr tree (``lib`` -> ``usr/lib``) for the folded
    directories that hold anything, so programs find /lib/ld-linux-*.so.1 and /sbin/mount.nfs."""
    tops = set()
    for path in paths:
        parts = path.split("/")
        if len(parts) > 2 and parts[0] == "usr" and parts[1] in _MERGED:
            tops.add(parts[1])
    return [(top, "usr/" + top) for top in sorted(tops)]


def _matches(path, want):
    return path == want or (want.endswith("/") and path.startswith(want))


def wanted(path, take):
    """Whether a merged-/usr ``path`` of a package is one of the files a take asks for
    (``take`` None: a library package, everything but documentation). A path of the take that
    starts with ``!`` leaves that file or directory out of what the others take."""
    if take is None:
        return not path.startswith(_UNUSED_PREFIXES)
    if any(_matches(path, want[1:]) for want in take.paths if want.startswith("!")):
        return False
    return any(_matches(path, want) for want in take.paths if not want.startswith("!"))
