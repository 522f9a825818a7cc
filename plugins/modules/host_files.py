#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: host_files
short_description: Install many files and directories on a host in one pass
version_added: 0.3.0
description:
  - Makes a host's files and directories what a role wants, in one round trip when nothing
    differs, the way a role's many M(ansible.builtin.copy), M(ansible.builtin.template) and
    M(ansible.builtin.file) tasks would, each of which costs a module start per file (seconds on
    an emulated or slow domestic CPU).
  - The action plugin reads every O(files[].src) and O(files[].content) on the controller and
    computes its SHA1; the module reads the host's checksums, modes and owners in one call.
    Nothing differs, nothing is sent and the task reports no change. Otherwise only the files
    whose content differs are transferred, and a second call creates the directories, moves
    each file into place (an atomic rename per file) and sets modes and owners.
  - "Reads before it writes: an entry that cannot be applied (a relative path, a path listed
    twice, a mode that is not a quoted octal string, a file where a directory is wanted, an
    owner the host does not know) fails the task naming the entry and the fix, and nothing is
    changed."
  - Check mode reports what would change; with C(--diff) the text of O(files[].content) and
    O(files[].template) entries is shown before and after (up to 64 KiB each), and for
    O(files[].src) files and content that is not UTF-8 text their checksums. Use C(no_log) on
    tasks whose files hold secrets.
  - Templates (O(files[].template)) are rendered on the controller, from the role's templates
    directory and with the host's variables, as for the template module; O(files[].vars) gives
    one entry its own variables, so a loop of template tasks becomes one list.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.attributes
options:
  files:
    description: The files, each with O(files[].src) or O(files[].content).
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file on the host.
        type: path
        required: true
      src:
        description:
          - A file on the controller, found as M(ansible.builtin.copy) finds its C(src) (the role's
            C(files) directory, or an absolute path). Mutually exclusive with O(files[].content).
        type: path
      content:
        description: The file's text. Mutually exclusive with O(files[].src) and O(files[].template).
        type: str
      template:
        description:
          - A template rendered on the controller as the M(ansible.builtin.template) lookup renders
            it (the role's C(templates) directory, the host's variables, C(ansible_managed)).
            Mutually exclusive with O(files[].src) and O(files[].content).
        type: str
      vars:
        description: Variables for O(files[].template) only, over the host's (the lookup's C(template_vars)).
        type: dict
      mode:
        description:
          - Octal mode as a quoted string (C("0644")). New files without one get C(0644); existing
            files keep theirs.
        type: raw
      owner:
        description: User name or number that owns the file; unset keeps the owner (new files, the connecting user).
        type: str
      group:
        description: Group name or number of the file; unset keeps the group.
        type: str
      backup:
        description: Keep a timestamped copy of a file before its content is replaced.
        type: bool
        default: false
      checksum:
        description: Set by the action plugin (the SHA1 of the wanted content); do not set it.
        type: str
      size:
        description: Set by the action plugin (the size of the wanted content); do not set it.
        type: int
      upload:
        description: Set by the action plugin (where the new content was transferred); do not set it.
        type: path
  directories:
    description: Directories made before the files (parents too), with their modes and owners.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the directory.
        type: path
        required: true
      mode:
        description: Octal mode as a quoted string; new directories without one get C(0755).
        type: raw
      owner:
        description: User name or number that owns the directory.
        type: str
      group:
        description: Group name or number of the directory.
        type: str
  record:
    description:
      - A file on the host that records the checksums of O(files) once the role has proved them
        (for example by running each installed binary). The task returns RV(verified), true when
        the record lists exactly the wanted files and checksums, and RV(record), the text the
        record should hold; the role proves the files when RV(verified) is false and then
        writes RV(record) to this path with a second task. A rerun with nothing changed then
        skips the proof, and a run whose proof failed proves again on the next run.
      - The module only reads this path; it is never written by the same task.
    type: path
  record_checksum:
    description: Set by the action plugin (the SHA1 of RV(record)); do not set it.
    type: str
  stage:
    description: Set by the action plugin (C(plan) reads, C(apply) writes); do not set it.
    type: str
    choices: [plan, apply]
    default: plan
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.template
notes:
  - Files are compared by SHA1 (as M(ansible.builtin.copy) does), so an unchanged binary costs
    its checksum on the host, not a transfer.
  - "Does not follow a symbolic link at O(files[].dest): the link is replaced by the file. A
    O(directories[].path) that is a symbolic link to a directory is followed: the directory it
    points to gets the mode and owners."
"""

EXAMPLES = r"""
- name: Container runtime | Install the binaries, the configuration and the unit
  xinchuang.cloud.host_files:
    directories:
      - path: /usr/local/bin
      - path: /etc/containerd
    files:
      - src: /srv/bundle/arm64/bin/containerd
        dest: /usr/local/bin/containerd
        mode: "0755"
      - template: config.toml.j2
        dest: /etc/containerd/config.toml
        mode: "0644"
      - template: hosts.toml.j2
        vars:
          registry: docker.io
        dest: /etc/containerd/certs.d/docker.io/hosts.toml
        mode: "0644"
  register: runtime_files
  notify: restart containerd

- name: The unit changed, so systemd reloads
  ansible.builtin.systemd_service:
    daemon_reload: true
  when: "'/etc/systemd/system/containerd.service' in runtime_files.changed_files"

- name: Keys and certificates (their text is never shown)
  xinchuang.cloud.host_files:
    directories:
      - path: /etc/kubernetes/pki
        mode: "0700"
    files:
      - content: "{{ node_key }}"
        dest: /etc/kubernetes/pki/kubelet.key
        mode: "0600"
  no_log: true
"""

RETURN = r"""
verified:
  description: Whether O(record) lists exactly the wanted files and their checksums.
  returned: when O(record) is given
  type: bool
  sample: true
record:
  description: The text O(record) should hold (one C(<sha1>  <dest>) line per file, sorted by dest).
  returned: when O(record) is given
  type: str
  sample: "3f2a...  /usr/local/bin/kubelet\n"
changed_files:
  description: Files whose content, mode or owners changed (or would, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd/config.toml]
changed_directories:
  description: Directories made or whose mode or owners changed (or would).
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd]
files:
  description: One entry per file, what was (or would be) done.
  returned: always
  type: list
  elements: dict
  contains:
    dest:
      description: The file.
      type: str
      sample: /etc/containerd/config.toml
    changes:
      description: "What differed: C(create), C(content), C(mode 0644 -> 0600), C(owner 0 -> 1000)."
      type: list
      elements: str
      sample: ["content"]
    backup_file:
      description: The copy kept by O(files[].backup).
      type: str
      returned: when a backup was made
      sample: /etc/chrony/chrony.conf.1234.2026-11-30@10:00:00~
"""

import os
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.host_files import (
    DIFF_LIMIT,
    HostFilesError,
    check_entries,
    describe,
    dir_plan,
    file_plan,
    host_id,
    parse_mode,
    plan_changes,
)

FILE_OPTIONS = dict(
    dest=dict(type="path", required=True),
    src=dict(type="path"),
    content=dict(type="str"),
    template=dict(type="str"),
    vars=dict(type="dict"),
    mode=dict(type="raw"),
    owner=dict(type="str"),
    group=dict(type="str"),
    backup=dict(type="bool", default=False),
    checksum=dict(type="str"),
    size=dict(type="int"),
    upload=dict(type="path"),
)
DIR_OPTIONS = dict(
    path=dict(type="path", required=True),
    mode=dict(type="raw"),
    owner=dict(type="str"),
    group=dict(type="str"),
)


def wanted_ids(entry, where):
    return dict(entry, uid=host_id(entry.get("owner"), "owner", where), gid=host_id(entry.get("group"), "group", where))


def read_state(module, path, checksum, follow=False, trusted=None):
    """What the host has at path, with the SHA1 of a regular file. Files are read with lstat
    (a link at dest is replaced, not followed); directories with follow, so a directory that
    is a link to a directory (a data disk's /var/lib/kubelet) is the directory it points to."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError:
        if follow and os.path.lexists(path):
            return {"exists": True, "kind": "symbolic link", "is_file": False, "is_dir": False}
        return {"exists": False}
    kind = "file" if stat.S_ISREG(st.st_mode) else "directory" if stat.S_ISDIR(st.st_mode) else \
        "symbolic link" if stat.S_ISLNK(st.st_mode) else "other"
    state = {"exists": True, "kind": kind, "is_file": kind == "file", "is_dir": kind == "directory",
             "mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size}
    if kind == "file" and checksum:
        if trusted and st.st_size == trusted["size"] and st.st_ctime_ns < trusted["before_ns"]:
            # Unchanged since the record of its proof was written (ctime moves with every write
            # and cannot be set back): the checksum recorded then is its checksum.
            state["checksum"] = trusted["checksum"]
        else:
            state["checksum"] = module.sha1(path)
    return state


def record_time(module, path, checksum):
    """When the record was written (ns), if it lists exactly the wanted checksums; else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or module.sha1(path) != checksum:
        return None
    return st.st_mtime_ns


def peek_text(path, size):
    """The file's text for a diff, or None when it is too large or not UTF-8."""
    if size > DIFF_LIMIT:
        return None
    try:
        with open(path, "rb") as fh:
            return to_text(fh.read(), errors="strict")
    except (OSError, UnicodeDecodeError):
        return None


def set_attributes(path, wanted, new):
    """The wanted mode and owners on an existing path (a new directory without a mode: 0755)."""
    mode = parse_mode(wanted.get("mode"), path)
    if mode is None and new:
        mode = 0o755
    if wanted.get("uid") is not None or wanted.get("gid") is not None:
        # chown, not lchown: a directory may be a link to one, and its target is what was compared.
        os.chown(path, -1 if wanted.get("uid") is None else wanted["uid"], -1 if wanted.get("gid") is None else wanted["gid"])
    if mode is not None:
        os.chmod(path, mode)


def replace_file(module, upload, want, current):
    """Write the new content beside dest with its final mode and owners, then rename it over dest.

    The temporary file is made private (mkstemp: 0600) in dest's directory, so a key is never
    readable with a wider mode, not even for a moment, and the rename is atomic. current is
    {"exists": False} for a new file and for a symbolic link the file replaces."""
    dest = want["dest"]
    mode = parse_mode(want.get("mode"), dest)
    if mode is None:
        mode = current["mode"] & 0o7777 if current.get("exists") else 0o644
    uid = want.get("uid") if want.get("uid") is not None else current.get("uid", -1)
    gid = want.get("gid") if want.get("gid") is not None else current.get("gid", -1)
    context = None
    if module.selinux_enabled():
        context = module.selinux_context(dest) if current.get("exists") else module.selinux_default_context(dest)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".%s." % os.path.basename(dest))
    try:
        with os.fdopen(fd, "wb") as out, open(upload, "rb") as src:
            shutil.copyfileobj(src, out, 1024 * 1024)
            out.flush()
            os.fchown(out.fileno(), uid, gid)
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.rename(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if context is not None:
        module.set_context_if_different(dest, context, False)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", default=[], options=FILE_OPTIONS),
            directories=dict(type="list", elements="dict", default=[], options=DIR_OPTIONS),
            record=dict(type="path"),
            record_checksum=dict(type="str"),
            stage=dict(type="str", choices=["plan", "apply"], default="plan"),
        ),
        supports_check_mode=True,
    )
    files, directories = module.params["files"], module.params["directories"]
    try:
        check_entries(files, directories)
    except HostFilesError as err:
        module.fail_json(msg=str(err))
    # Every problem of every entry is collected before the first write and reported together.
    problems = []
    dirs, wanted = [], []
    for kind, entries, out in (("directories", directories, dirs), ("files", files, wanted)):
        for index, entry in enumerate(entries):
            try:
                out.append(wanted_ids(entry, "%s[%d]" % (kind, index)))
            except HostFilesError as err:
                problems.append(str(err))
                out.append(dict(entry, uid=None, gid=None))
    for index, entry in enumerate(wanted):
        if not entry.get("checksum"):
            problems.append("files[%d] (%s): no checksum; run the task through its action plugin "
                            "(xinchuang.cloud.host_files), not as a bare module" % (index, entry["dest"]))
    dir_plans, file_plans = [], []
    for index, d in enumerate(dirs):
        try:
            dir_plans.append(dir_plan(d, read_state(module, d["path"], False, follow=True)))
        except HostFilesError as err:
            problems.append("directories[%d]: %s" % (index, err))
    # Files a verified record lists are not read again while they are untouched since it was
    # written: a rerun costs a stat per binary instead of hashing hundreds of MB (arm64: ~1 s).
    recorded_ns = record_time(module, module.params["record"], module.params["record_checksum"]) \
        if module.params["record"] else None
    file_states = [read_state(module, f["dest"], True, trusted=None if recorded_ns is None or f.get("size") is None
                              else {"size": f["size"], "checksum": f["checksum"], "before_ns": recorded_ns})
                   for f in wanted]
    for index, (f, s) in enumerate(zip(wanted, file_states)):
        try:
            file_plans.append(file_plan(f, s))
        except HostFilesError as err:
            problems.append("files[%d]: %s" % (index, err))
    made = set()
    for d in dirs:
        path = os.path.normpath(d["path"])
        while path not in made and path != "/":
            made.add(path)
            path = os.path.dirname(path)
    for index, plan in enumerate(file_plans):
        parent = os.path.dirname(os.path.normpath(plan["dest"]))
        # In check mode an earlier task that would make the directory did not: report the file.
        if plan["create"] and parent not in made and not os.path.isdir(parent) and not module.check_mode:
            problems.append("files[%d]: the directory of %s does not exist; list %s under directories"
                            % (index, plan["dest"], parent))
    if problems:
        module.fail_json(msg="; ".join(problems) + " (nothing was changed)")

    result = {
        "changed_directories": [p["path"] for p in dir_plans if plan_changes(p)],
        "changed_files": [p["dest"] for p in file_plans if plan_changes(p)],
        "files": [{"dest": p["dest"], "changes": describe(p)} for p in file_plans],
    }
    result["changed"] = bool(result["changed_directories"] or result["changed_files"])
    if module.params["record"]:
        result["verified"] = recorded_ns is not None

    if module.params["stage"] == "plan" or module.check_mode:
        # The action plugin asks which contents to send (and, for a diff, the current text).
        result["need_content"] = [p["dest"] for p in file_plans if p["content"]]
        if module._diff:
            result["before_text"] = {
                p["dest"]: peek_text(p["dest"], s["size"]) for p, s in zip(file_plans, file_states)
                if p["content"] and s.get("is_file")}
        result["directory_changes"] = [{"path": p["path"], "changes": describe(p)} for p in dir_plans if plan_changes(p)]
        module.exit_json(**result)

    path = None
    try:
        for want, plan in zip(dirs, dir_plans):
            path = want["path"]
            if plan["create"]:
                os.makedirs(path, mode=0o755, exist_ok=True)
            if plan_changes(plan):
                set_attributes(path, want, plan["create"])
        for want, plan, state, entry in zip(wanted, file_plans, file_states, result["files"]):
            path = want["dest"]
            if plan["content"]:
                upload = want.get("upload")
                if not upload or not os.path.exists(upload):
                    module.fail_json(msg="%s: the new content was not transferred (%s); rerun the task" % (path, upload), **result)
                if want.get("backup") and not plan["create"]:
                    entry["backup_file"] = module.backup_local(path)
                replace_file(module, upload, want, {"exists": False} if plan["create"] else state)
                continue
            if plan["attributes"]:
                set_attributes(path, want, plan["create"])
    except OSError as err:
        module.fail_json(msg="%s: %s; the entries before it were applied, rerun the task once it is fixed" % (path, err), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
