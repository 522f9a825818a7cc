# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of xinchuang.cloud.host_files: checksums here, one module call there.

Unchanged files cost no transfer and no second call: on a rerun the whole list is one module
start on the host, where copy/template tasks cost two per file (a stat, then the file module).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible import constants as C

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

try:  # ansible-core >= 2.19: render as the template action does
    from ansible._internal._templating._template_vars import generate_ansible_template_vars as _template_vars
    from ansible.template import trust_as_template as _trust_as_template
except ImportError:
    _template_vars = _trust_as_template = None
from ansible.utils.hashing import checksum as file_checksum
from ansible.utils.hashing import checksum_s
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.host_files import DIFF_LIMIT, HostFilesError, entry_problems

MODULE = "xinchuang.cloud.host_files"
ENTRY_KEYS = {"dest", "src", "content", "template", "vars", "mode", "owner", "group", "backup"}
DIR_KEYS = {"path", "mode", "owner", "group"}


def _entries(value, name, keys):
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise AnsibleActionFail("%s must be a list of dicts, got %r" % (name, value))
    for index, entry in enumerate(value):
        unknown = sorted(set(entry) - keys)
        if unknown:
            raise AnsibleActionFail("%s[%d]: unknown key(s) %s; known: %s" % (name, index, ", ".join(unknown), ", ".join(sorted(keys))))
    return value


def cached_checksum(path):
    """(SHA1, size) of a controller file, the SHA1 kept across runs under Ansible's local temporary directory by
    the file's identity and times (size, mtime and ctime in ns: any write changes ctime): every
    host of every run would otherwise hash the same bundle binaries again."""
    st = os.stat(path)
    key = "%s\0%d\0%d\0%d\0%d\0%d" % (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    cache = os.path.join(os.path.dirname(os.path.expanduser(C.DEFAULT_LOCAL_TMP)), "xinchuang-checksums")
    entry = os.path.join(cache, checksum_s(key))
    try:
        with open(entry) as fh:
            value = fh.read().strip()
        if len(value) == 40 and all(c in "0123456789abcdef" for c in value):
            return value, st.st_size
    except (IOError, OSError):
        pass
    value = file_checksum(path)
    try:
        os.makedirs(cache, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        os.rename(tmp, entry)
    except (IOError, OSError):
        pass  # a cache that cannot be written only costs the hashing next time
    return value, st.st_size


class ActionModule(ActionBase):
    # The remote temporary directory is made only when a file is sent (see run).
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self._task.args
        unknown = sorted(set(args) - {"files", "directories", "record"})
        if unknown:
            raise AnsibleActionFail("unknown option(s) %s; host_files takes files, directories and record" % ", ".join(unknown))
        files = _entries(args.get("files"), "files", ENTRY_KEYS)
        directories = _entries(args.get("directories"), "directories", DIR_KEYS)
        # Every problem of every entry, reported together before the host is asked anything.
        problems = entry_problems(files, directories)
        local = []  # (remote entry, local path or None, content bytes or None)
        for index, entry in enumerate(files):
            try:
                local.append(self._local_entry(index, entry, task_vars))
            except HostFilesError as err:
                problems.append(str(err))
        if problems:
            raise AnsibleActionFail("; ".join(problems) + " (nothing was changed)")

        module_args = {"files": [r for r, _p, _d in local], "directories": directories}
        if args.get("record"):
            record = "".join("%s  %s\n" % (r["checksum"], r["dest"]) for r in sorted(module_args["files"], key=lambda r: r["dest"]))
            module_args.update(record=args["record"], record_checksum=checksum_s(record))
            result["record"] = record
        try:
            return self._plan_and_apply(result, module_args, local, task_vars)
        finally:
            # A module call without pipelining makes the temporary directory too.
            if self._connection._shell.tmpdir:
                self._remove_tmp_path(self._connection._shell.tmpdir)

    def _local_entry(self, index, entry, task_vars):
        """(remote entry, local path, content bytes) of files[index]: the SHA1 of its content."""
        given = [k for k in ("src", "content", "template") if entry.get(k) is not None]
        if len(given) != 1:
            raise HostFilesError("files[%d] (%s): give exactly one of src, content or template (got %s)"
                                 % (index, entry.get("dest"), ", ".join(given) or "none"))
        if entry.get("vars") is not None and given != ["template"]:
            raise HostFilesError("files[%d] (%s): vars is for template entries only" % (index, entry.get("dest")))
        remote = {k: entry[k] for k in ("dest", "mode", "owner", "group", "backup") if entry.get(k) is not None}
        if given == ["src"]:
            try:
                path = self._find_needle("files", entry["src"])
            except AnsibleError as err:
                raise HostFilesError("files[%d]: src %s not found on the controller (%s)" % (index, entry["src"], err))
            if not os.path.isfile(path):
                raise HostFilesError("files[%d]: src %s is not a regular file" % (index, path))
            remote["checksum"], remote["size"] = cached_checksum(path)
            return remote, path, None
        if given == ["template"]:
            text = self._render(entry["template"], entry.get("vars") or {}, task_vars, index)
        else:
            text = entry["content"]
        data = to_bytes(text, errors="surrogate_or_strict")
        remote["checksum"], remote["size"] = checksum_s(data), len(data)
        return remote, None, data

    def _plan_and_apply(self, result, module_args, local, task_vars):
        plan = self._execute_module(MODULE, module_args=dict(module_args, stage="plan"), task_vars=task_vars)
        if plan.get("failed"):
            return dict(result, **plan)
        if self._task.diff and plan.get("changed"):
            result["diff"] = self._diffs(plan, local)
        if not plan.get("changed") or self._task.check_mode:
            for key in ("changed", "changed_files", "changed_directories", "files", "verified"):
                if key in plan:
                    result[key] = plan[key]
            return result

        need = set(plan.get("need_content", []))
        if need:
            if self._connection._shell.tmpdir is None:
                self._make_tmp_path()
            tmpdir = self._connection._shell.tmpdir
            sent = []
            for index, (remote, path, data) in enumerate(local):
                if remote["dest"] not in need:
                    continue
                remote["upload"] = self._connection._shell.join_path(tmpdir, "file-%d" % index)
                if path is not None:
                    self._transfer_file(path, remote["upload"])
                else:
                    self._transfer_data(remote["upload"], data)
                sent.append(remote["upload"])
            self._fixup_perms2([tmpdir] + sent)
        applied = self._execute_module(MODULE, module_args=dict(module_args, stage="apply"), task_vars=task_vars)
        applied.pop("need_content", None)
        applied.pop("before_text", None)
        result.update(applied)
        return result

    def _render(self, template, variables, task_vars, index):
        """A template of the role's templates directory, rendered as the template action renders it."""
        try:
            if _trust_as_template is None:  # ansible-core < 2.19: its template lookup
                lookup = self._shared_loader_obj.lookup_loader.get("ansible.builtin.template", loader=self._loader, templar=self._templar)
                return lookup.run([template], variables=task_vars, template_vars=variables)[0]
            # The template action's own steps: a shallow copy of the variables, where the template
            # lookup deep-copies every host variable per file (more than the rendering costs,
            # py-spy on a rerun of site.yml).
            source = self._find_needle("templates", template)
            data = _trust_as_template(self._loader.get_text_file_contents(source))
            searchpath = [os.path.dirname(source)]
            for path in task_vars.get("ansible_search_path", []):
                searchpath += [os.path.join(path, "templates"), path]
            temp_vars = task_vars.copy()
            temp_vars.update(_template_vars(template, fullpath=source, include_ansible_managed="ansible_managed" not in temp_vars))
            temp_vars.update(variables)
            templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=temp_vars)
            return templar.template(data, escape_backslashes=False)
        except AnsibleError as err:
            raise HostFilesError("files[%d]: template %s: %s" % (index, template, err))

    def _diffs(self, plan, local):
        """One diff per changed file: the text before and after, or the checksums of other files."""
        before_text = plan.get("before_text") or {}
        changes = {f["dest"]: f["changes"] for f in plan.get("files", [])}
        out = []
        for d in plan.get("directory_changes", []):
            out.append({"before_header": d["path"], "after_header": d["path"], "before": "", "after": "directory: %s\n" % ", ".join(d["changes"])})
        for remote, path, data in local:
            dest = remote["dest"]
            if not changes.get(dest):
                continue
            text = None
            if data is not None and len(data) <= DIFF_LIMIT:
                try:
                    text = to_text(data, errors="strict")
                except UnicodeDecodeError:
                    text = None
            summary = "SHA1 %s (%s)\n" % (remote["checksum"], path or "content")
            before, after = "", ""
            if "create" in changes[dest]:
                after = summary if text is None else text
            elif "content" in changes[dest]:
                before = before_text.get(dest)
                if before is None or text is None:
                    before, after = "SHA1 of the file on the host differs\n", summary
                else:
                    after = text
            attributes = [c for c in changes[dest] if c not in ("create", "content")]
            if attributes:
                after += "# %s\n" % ", ".join(attributes)
            out.append({"before_header": dest, "after_header": dest, "before": before, "after": after})
        return out
