# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What xinchuang.cloud.host_files decides: which of a host's files and directories differ from
the wanted ones, and how. Pure (but for host_id, which asks the user and group databases):
the module reads the host, the action plugin reads the
controller, both hand plain dicts here.

A wanted file is ``{dest, checksum, mode, owner, group}`` (checksum: SHA1 of the wanted
content, mode an octal string or None, owner/group a name, a number or None); what the host
has is ``{exists, is_file, checksum, mode, uid, gid}`` with uid/gid numbers and mode an int.
Owners are compared as numbers: the module resolves names on the host before asking.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import posixpath
import pwd
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

# New files and directories without a mode get the modes Ansible's own defaults give.
DEFAULT_FILE_MODE = 0o644
DEFAULT_DIR_MODE = 0o755
# Texts up to this size are shown whole in a diff (on both sides: the host's and the wanted).
DIFF_LIMIT = 64 * 1024
_OCTAL = re.compile(r"0?[0-7]{3,4}")


class HostFilesError(XinchuangError, ValueError):
    """A files or directories entry that cannot be applied as given."""


def parse_mode(mode, where):
    """The int of an octal mode string ("0644"); None stays None.

    YAML reads 0644 unquoted as the int 420 and 644 as 644: both are refused, as Ansible's
    own file modules warn, because they rarely mean what was written."""
    if mode is None:
        return None
    # fullmatch, not match with $: "0644\n" is no mode either.
    if isinstance(mode, str) and _OCTAL.fullmatch(mode):
        return int(mode, 8)
    if isinstance(mode, int) and not isinstance(mode, bool):
        raise HostFilesError(
            "%s: mode %r is a number, not an octal string (YAML reads an unquoted 0644 as 420); "
            "quote it, for example mode: \"0644\"" % (where, mode))
    raise HostFilesError(
        "%s: mode %r is not an octal string; quote it in YAML, for example mode: \"0644\"" % (where, mode))


def _ancestors(path):
    parent = posixpath.dirname(path)
    while parent != path:
        yield parent
        path, parent = parent, posixpath.dirname(parent)


def entry_problems(files, directories):
    """Every reason an entry cannot be applied, each naming the entry and the fix; nothing is read."""
    problems = []
    seen = {}
    file_dests = {}
    for kind, entries, key in (("directories", directories, "path"), ("files", files, "dest")):
        for index, entry in enumerate(entries):
            where = "%s[%d]" % (kind, index)
            path = entry.get(key)
            if not path or not isinstance(path, str) or not posixpath.isabs(path):
                problems.append("%s: %s %r is not an absolute path; give the full path on the host" % (where, key, path))
                continue
            norm = posixpath.normpath(path)
            if norm in seen:
                problems.append("%s: %s %s is also %s; list each path once" % (where, key, path, seen[norm]))
            else:
                seen[norm] = where
                if kind == "files":
                    file_dests[norm] = where
            try:
                parse_mode(entry.get("mode"), where)
            except HostFilesError as err:
                problems.append(str(err))
    # A file cannot also be the directory of another path: the write would fail half done.
    for norm, where in seen.items():
        for parent in _ancestors(norm):
            if parent in file_dests:
                problems.append("%s: %s is inside %s, which %s makes a file; fix one of the two paths"
                                % (where, norm, parent, file_dests[parent]))
                break
    return problems


def check_entries(files, directories):
    """Raise HostFilesError naming every entry that cannot be applied; nothing is read yet."""
    problems = entry_problems(files, directories)
    if problems:
        raise HostFilesError("; ".join(problems) + " (nothing was changed)")


def attribute_changes(wanted, current, default_mode):
    """[(name, before, after)] of the mode and owners that differ (new paths: all given ones)."""
    changes = []
    mode = parse_mode(wanted.get("mode"), wanted.get("dest") or wanted.get("path"))
    if not current.get("exists"):
        changes.append(("mode", None, "%04o" % (default_mode if mode is None else mode)))
    elif mode is not None and current["mode"] & 0o7777 != mode:
        changes.append(("mode", "%04o" % (current["mode"] & 0o7777), "%04o" % mode))
    for name, key in (("owner", "uid"), ("group", "gid")):
        want = wanted.get(key)
        if want is not None and (not current.get("exists") or current[key] != want):
            changes.append((name, current.get(key), want))
    return changes


def file_plan(wanted, current):
    """What one file needs: {'dest', 'create', 'content', 'attributes': [(name, before, after)]}.

    A symbolic link at dest is replaced by the file, as the copy module does (current is what
    lstat saw, so the link's own mode and owner say nothing of the file): a create. Any other
    path that exists but is not a regular file (a directory, a socket) is an error: replacing
    it could lose data, so the user decides."""
    dest = wanted["dest"]
    if current.get("exists") and current.get("kind") == "symbolic link":
        current = {"exists": False}
    elif current.get("exists") and not current.get("is_file"):
        raise HostFilesError(
            "%s exists and is not a regular file (%s); remove it or choose another dest" % (dest, current.get("kind", "other")))
    return {
        "dest": dest,
        "create": not current.get("exists"),
        "content": not current.get("exists") or current.get("checksum") != wanted["checksum"],
        "attributes": attribute_changes(wanted, current, DEFAULT_FILE_MODE),
    }


def dir_plan(wanted, current):
    """What one directory needs: {'path', 'create', 'attributes'}; a file in its place is an error."""
    path = wanted["path"]
    if current.get("exists") and not current.get("is_dir"):
        raise HostFilesError("%s exists and is not a directory (%s); remove it or choose another path" % (path, current.get("kind", "other")))
    return {"path": path, "create": not current.get("exists"),
            "attributes": attribute_changes(wanted, current, DEFAULT_DIR_MODE)}


def plan_changes(plan):
    """True when an entry of the plan (file or directory) changes anything."""
    return bool(plan.get("create") or plan.get("content") or plan.get("attributes"))


def describe(plan):
    """One line per change, for the diff and the task's result: 'create', 'content', 'mode 0644 -> 0600'."""
    words = []
    if plan.get("create"):
        words.append("create")
    elif plan.get("content"):
        words.append("content")
    for name, before, after in plan.get("attributes", []):
        words.append("%s %s -> %s" % (name, "-" if before is None else before, after))
    return words


def _items(value, function, name):
    """value as a list; a string, a mapping or None (a variable that is not a list) is refused."""
    if isinstance(value, str):
        raise HostFilesError("%s: %s must be a list, got the string %r" % (function, name, value))
    if value is None or isinstance(value, dict) or not hasattr(value, "__iter__"):
        raise HostFilesError("%s: %s must be a list, got %r" % (function, name, value))
    return list(value)


def file_entries(names, src_dir, dest_dir, mode=None):
    """host_files entries installing each of names from src_dir to dest_dir (a role's binaries)."""
    names = _items(names, "file_entries", "names (file names)")
    extra = {} if mode is None else {"mode": mode}
    return [dict({"src": posixpath.join(src_dir, n), "dest": posixpath.join(dest_dir, n)}, **extra) for n in names]


def dir_entries(paths, mode=None):
    """host_files directory entries for paths, all with one mode."""
    paths = _items(paths, "dir_entries", "paths")
    return [dict({"path": p}, **({} if mode is None else {"mode": mode})) for p in paths]


def template_entries(items, template, dest, var, mode=None):
    """host_files entries rendering template once per item, with the item as variable var;
    '{item}' in dest is replaced by the item (certs.d/{item}/hosts.toml)."""
    items = _items(items, "template_entries", "items")
    if "{item}" not in dest:
        raise HostFilesError("template_entries: dest %r has no {item}; every item would write the same file" % dest)
    extra = {} if mode is None else {"mode": mode}
    return [dict({"template": template, "vars": {var: item}, "dest": dest.replace("{item}", str(item))}, **extra)
            for item in items]


def host_id(value, kind, where):
    """A user (kind "owner") or group name or number as this host's number; None stays None.
    Asks the host's user and group databases (the one part of this file that reads the host)."""
    if value is None or value == "":
        return None
    if value.isdigit():
        return int(value)
    try:
        return pwd.getpwnam(value).pw_uid if kind == "owner" else grp.getgrnam(value).gr_gid
    except KeyError:
        raise HostFilesError("%s: %s %r does not exist on this host; create it first or give a number" % (where, kind, value))
