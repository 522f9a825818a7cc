"""xinchuang.cloud.host_files through ansible-playbook over the local connection, into a
temporary tree: the controller's side (a playbook directory with ``files/`` and ``templates/``)
and the host's (``host/``). Every case asserts on the files on disk and on the task's result
(the ansible.posix.json callback); the tree is compared with a snapshot where nothing may
change."""

import hashlib
import os
import stat
import sys

import pytest
import yaml

from tests.integration.ansible_run import ansible_playbook

MODULE = "xinchuang.cloud.host_files"
BINARY = b"\x7fELF\x02\x01\x01\x00\xff\xfe binary \x00\x01\x02"
SECRET = "s3cret-Key-material-8d1f"


def sha1(data):
    return hashlib.sha1(data).hexdigest()


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


def write(path, data, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data if isinstance(data, bytes) else data.encode())
    if mode is not None:
        os.chmod(path, mode)


def snapshot(root):
    """Every path under root: kind, mode, owners, and the content or link target."""
    tree = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                what = ("dir", None)
            else:
                what = ("file", read(path))
            tree[os.path.relpath(path, root)] = what + (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return tree


class Run(object):
    """One ansible-playbook run: the per-task results, the recap, the printed output."""

    def __init__(self, report, proc):
        self.report, self.proc = report, proc
        self.results = [task["hosts"].get("localhost", {}) for task in report["plays"][0]["tasks"]] \
            if report.get("plays") else []
        self.stats = report.get("stats", {}).get("localhost", {})

    @property
    def output(self):
        return self.proc.stdout + self.proc.stderr


class Site(object):
    """ctl/: the playbook, its files/ and templates/; host/: the host's tree."""

    def __init__(self, root):
        self.ctl = os.path.join(root, "ctl")
        self.host = os.path.join(root, "host")
        for path in (os.path.join(self.ctl, "files"), os.path.join(self.ctl, "templates"), self.host):
            os.makedirs(path)
        self.playbook = os.path.join(self.ctl, "play.yml")

    def path(self, *parts):
        return os.path.join(self.host, *parts)

    def run(self, tasks, check=False, diff=False, env=None, ok=True):
        with open(self.playbook, "w") as fh:
            yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                             "vars": {"ansible_python_interpreter": sys.executable},
                             "tasks": tasks}], fh)
        report, proc = ansible_playbook(["-i", "localhost,", "-c", "local", self.playbook],
                                        check=check, diff=diff, extra_env=env, timeout=300)
        run = Run(report, proc)
        if ok:
            assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        return run


def host_files(name="Install the files", **args):
    return {"name": name, MODULE: args}


@pytest.fixture
def site(tmp_path):
    return Site(str(tmp_path))


# --- the four passes ---------------------------------------------------------------------------

def four_pass_task(site):
    write(os.path.join(site.ctl, "files", "tool"), BINARY)
    write(os.path.join(site.ctl, "templates", "hosts.toml.j2"),
          'server = "https://{{ registry }}"\n# {{ site_name }}\n')
    write(os.path.join(site.ctl, "templates", "unit.j2"), "[Service]\nExecStart={{ bin_dir }}/tool --port {{ port }}\n")
    bin_dir, etc = site.path("usr", "bin"), site.path("etc", "app")
    return {
        "name": "Install the files",
        "vars": {"site_name": "lab", "bin_dir": bin_dir},
        MODULE: {
            "directories": [{"path": bin_dir},
                            {"path": etc, "mode": "0750"},
                            {"path": os.path.join(etc, "pki"), "mode": "0700"}]
            + [{"path": os.path.join(etc, "certs.d", r)} for r in ("docker.io", "quay.io")],
            "files": [
                {"src": "tool", "dest": os.path.join(bin_dir, "tool"), "mode": "0755"},
                {"content": SECRET + "\n", "dest": os.path.join(etc, "pki", "key.pem"), "mode": "0600"},
                {"content": "plain\n", "dest": os.path.join(etc, "plain.txt")},
                {"template": "unit.j2", "vars": {"port": 8443}, "dest": os.path.join(etc, "app.service"),
                 "mode": "0644"},
            ],
        },
    }


def test_four_passes_check_real_check_real(site):
    task = four_pass_task(site)
    # The entries a role builds with the filters, appended in the playbook.
    task["vars"]["listed_files"] = task[MODULE]["files"]
    task[MODULE]["files"] = "{{ listed_files + (['docker.io', 'quay.io'] | xinchuang.cloud.host_template_entries(" \
        "'hosts.toml.j2', '%s', 'registry', mode='0644')) }}" % site.path("etc", "app", "certs.d", "{item}", "hosts.toml")
    etc = site.path("etc", "app")
    want_files = [site.path("usr", "bin", "tool"), os.path.join(etc, "pki", "key.pem"),
                  os.path.join(etc, "plain.txt"), os.path.join(etc, "app.service"),
                  os.path.join(etc, "certs.d", "docker.io", "hosts.toml"),
                  os.path.join(etc, "certs.d", "quay.io", "hosts.toml")]
    want_dirs = [site.path("usr", "bin"), etc, os.path.join(etc, "pki"),
                 os.path.join(etc, "certs.d", "docker.io"), os.path.join(etc, "certs.d", "quay.io")]

    dry = site.run([task], check=True)
    result = dry.results[0]
    assert result["changed"] is True and dry.stats["changed"] == 1
    assert result["changed_files"] == want_files
    assert result["changed_directories"] == want_dirs
    assert [f["changes"] for f in result["files"]][:3] == [
        ["create", "mode - -> 0755"], ["create", "mode - -> 0600"], ["create", "mode - -> 0644"]]
    assert os.listdir(site.host) == []

    real = site.run([task])
    result = real.results[0]
    assert result["changed"] is True and real.stats["changed"] == 1
    assert result["changed_files"] == want_files and result["changed_directories"] == want_dirs
    assert read(want_files[0]) == BINARY and mode_of(want_files[0]) == 0o755
    assert read(want_files[1]) == (SECRET + "\n").encode() and mode_of(want_files[1]) == 0o600
    assert read(want_files[2]) == b"plain\n" and mode_of(want_files[2]) == 0o644
    assert read(want_files[3]).decode() == "[Service]\nExecStart=%s/tool --port 8443\n" % site.path("usr", "bin")
    assert read(want_files[4]).decode() == 'server = "https://docker.io"\n# lab\n'
    assert read(want_files[5]).decode() == 'server = "https://quay.io"\n# lab\n'
    assert [mode_of(p) for p in want_dirs] == [0o755, 0o750, 0o700, 0o755, 0o755]
    # No temporary file is left beside a dest.
    assert sorted(os.listdir(os.path.join(etc, "pki"))) == ["key.pem"]
    tree = snapshot(site.host)

    again = site.run([task], check=True)
    assert again.stats["changed"] == 0 and again.results[0]["changed"] is False
    assert again.results[0]["changed_files"] == [] and again.results[0]["changed_directories"] == []
    assert all(f["changes"] == [] for f in again.results[0]["files"])
    last = site.run([task])
    assert last.stats["changed"] == 0 and last.results[0]["changed_files"] == []
    assert snapshot(site.host) == tree


# --- what a change reports --------------------------------------------------------------------

def test_a_content_change_reports_that_file_only_with_its_diff(site):
    write(os.path.join(site.ctl, "files", "tool"), BINARY)
    a, b, tool = site.path("a.conf"), site.path("b.conf"), site.path("tool")
    task = host_files(files=[{"content": "one\ntwo\n", "dest": a, "mode": "0644"},
                             {"content": "same\n", "dest": b, "mode": "0644"},
                             {"src": "tool", "dest": tool, "mode": "0755"}])
    site.run([task])
    task[MODULE]["files"][0]["content"] = "one\nTWO\n"

    dry = site.run([task], check=True, diff=True)
    result = dry.results[0]
    assert result["changed_files"] == [a]
    assert [f["changes"] for f in result["files"]] == [["content"], [], []]
    assert result["diff"] == [{"before_header": a, "after_header": a, "before": "one\ntwo\n", "after": "one\nTWO\n"}]
    assert read(a) == b"one\ntwo\n"

    real = site.run([task], diff=True)
    assert real.results[0]["changed_files"] == [a]
    assert real.results[0]["diff"][0]["before"] == "one\ntwo\n"
    assert read(a) == b"one\nTWO\n" and read(b) == b"same\n"

    # A binary file from src is shown by its checksum.
    new_binary = BINARY + b"\x00v2"
    write(os.path.join(site.ctl, "files", "tool"), new_binary)
    bin_run = site.run([task], diff=True)
    assert bin_run.results[0]["changed_files"] == [tool]
    (diff,) = bin_run.results[0]["diff"]
    assert diff["before_header"] == tool
    assert diff["before"] == "SHA1 of the file on the host differs\n"
    assert diff["after"] == "SHA1 %s (%s)\n" % (sha1(new_binary), os.path.join(site.ctl, "files", "tool"))
    assert read(tool) == new_binary and mode_of(tool) == 0o755


def test_a_mode_changed_by_hand_is_restored_and_reported(site):
    conf, keep = site.path("app.conf"), site.path("keep.conf")
    task = host_files(files=[{"content": "x\n", "dest": conf, "mode": "0644"},
                             {"content": "k1\n", "dest": keep}])
    site.run([task])
    os.chmod(conf, 0o600)
    os.chmod(keep, 0o640)

    dry = site.run([task], check=True, diff=True)
    assert dry.results[0]["changed_files"] == [conf]
    assert dry.results[0]["files"][0]["changes"] == ["mode 0600 -> 0644"]
    assert dry.results[0]["diff"][0]["after"] == "# mode 0600 -> 0644\n"
    assert mode_of(conf) == 0o600

    real = site.run([task])
    assert real.results[0]["changed_files"] == [conf]
    assert real.results[0]["files"] == [{"dest": conf, "changes": ["mode 0600 -> 0644"]},
                                        {"dest": keep, "changes": []}]
    assert mode_of(conf) == 0o644 and read(conf) == b"x\n"
    # Without a mode the one set by hand stays, also when the content is replaced.
    assert mode_of(keep) == 0o640
    task[MODULE]["files"][1]["content"] = "k2\n"
    replaced = site.run([task])
    assert replaced.results[0]["changed_files"] == [keep]
    assert replaced.results[0]["files"][1]["changes"] == ["content"]
    assert read(keep) == b"k2\n" and mode_of(keep) == 0o640


def test_backup_keeps_the_replaced_content(site):
    conf = site.path("chrony.conf")
    write(conf, "server old\n", mode=0o640)
    task = host_files(files=[{"content": "server new\n", "dest": conf, "mode": "0644", "backup": True}])
    run = site.run([task])
    backup = run.results[0]["files"][0]["backup_file"]
    assert os.path.dirname(backup) == site.host and os.path.basename(backup).startswith("chrony.conf.")
    assert read(backup) == b"server old\n"
    assert read(conf) == b"server new\n" and mode_of(conf) == 0o644
    assert sorted(os.listdir(site.host)) == sorted(["chrony.conf", os.path.basename(backup)])
    # Nothing replaced, no backup.
    assert "backup_file" not in site.run([task]).results[0]["files"][0]
    assert len(os.listdir(site.host)) == 2


# --- errors: nothing changes -----------------------------------------------------------------

def test_every_bad_entry_fails_naming_it_and_nothing_changes(site):
    existing = site.path("etc", "existing.conf")
    write(existing, "old\n", mode=0o600)
    os.makedirs(site.path("etc", "taken"))
    # What an unquoted mode is once YAML has read it.
    unquoted = yaml.safe_load("mode: 0644")["mode"]
    assert unquoted == 420

    def case(name, files=(), directories=()):
        # Beside the bad entry, entries that would change the tree if anything were written.
        good_files = [{"content": "new\n", "dest": existing, "mode": "0644"},
                      {"content": "n\n", "dest": site.path("etc", "new", "n.conf")}]
        return {"name": name, "ignore_errors": True, MODULE: {
            "directories": [{"path": site.path("etc", "new")}] + list(directories),
            "files": good_files + list(files)}}

    cases = [
        ("unquoted mode", case("unquoted mode", files=[{"content": "x", "dest": site.path("etc", "m"), "mode": unquoted}]),
         ["files[2]: mode 420", 'quote it, for example mode: "0644"']),
        ("duplicate dest", case("duplicate dest", files=[{"content": "x", "dest": existing}]),
         ["files[2]: dest %s is also files[0]" % existing, "list each path once"]),
        ("relative dest", case("relative dest", files=[{"content": "x", "dest": "etc/x.conf"}]),
         ["files[2]: dest 'etc/x.conf' is not an absolute path"]),
        ("missing parent", case("missing parent", files=[{"content": "x", "dest": site.path("opt", "x", "y.conf")}]),
         ["files[2]: the directory of %s does not exist; list %s under directories"
          % (site.path("opt", "x", "y.conf"), site.path("opt", "x"))]),
        ("directory at dest", case("directory at dest", files=[{"content": "x", "dest": site.path("etc", "taken")}]),
         ["files[2]: %s exists and is not a regular file (directory)" % site.path("etc", "taken")]),
        ("unknown owner", case("unknown owner", files=[{"content": "x", "dest": site.path("etc", "o"),
                                                        "owner": "no-such-user-xc"}]),
         ["files[2]: owner 'no-such-user-xc' does not exist on this host"]),
        ("unknown group", case("unknown group", directories=[{"path": site.path("etc", "g"), "group": "no-such-group-xc"}]),
         ["directories[1]: group 'no-such-group-xc' does not exist on this host"]),
        ("two sources", case("two sources", files=[{"content": "x", "src": "/etc/hostname", "dest": site.path("etc", "t")}]),
         ["files[2] (%s): give exactly one of src, content or template (got src, content)" % site.path("etc", "t")]),
        ("file over a directory entry", case("file over a directory entry",
                                             files=[{"content": "x", "dest": site.path("etc", "new")}]),
         ["files[2]: dest %s is also directories[0]" % site.path("etc", "new")]),
        ("two problems", case("two problems", files=[{"content": "x", "dest": "rel"},
                                                     {"content": "x", "dest": site.path("etc", "q"), "mode": "rw"}]),
         ["files[2]: dest 'rel'", "files[3]: mode 'rw'"]),
    ]
    before = snapshot(site.host)
    run = site.run([task for _name, task, _words in cases], ok=False)
    assert snapshot(site.host) == before
    assert len(run.results) == len(cases)
    for (name, _task, words), result in zip(cases, run.results):
        assert result.get("failed") is True, (name, result)
        assert result.get("changed") is not True, (name, result)
        for word in words:
            assert word in result["msg"], (name, result["msg"])
        assert "nothing was changed" in result["msg"], (name, result["msg"])
    assert run.stats["changed"] == 0 and run.stats["ignored"] == len(cases)
    # The same entries without the bad one apply.
    good = site.run([case("good")])
    assert good.results[0]["changed_files"] == [existing, site.path("etc", "new", "n.conf")]
    assert read(existing) == b"new\n" and mode_of(existing) == 0o644


# --- the record of proved files ---------------------------------------------------------------

def test_record_is_verified_once_written_and_not_after_a_change(site):
    record = site.path("etc", "verified")
    files = [{"content": "v1\n", "dest": site.path("etc", "a")}, {"content": "b\n", "dest": site.path("etc", "b")}]

    def tasks(content):
        files[0]["content"] = content
        return [
            dict(host_files(directories=[{"path": site.path("etc")}], files=files, record=record),
                 register="installed"),
            {"name": "Record the proved files", MODULE: {"files": [{"content": "{{ installed.record }}", "dest": record}]},
             "when": "not installed.verified"},
        ]

    want_record = "".join("%s  %s\n" % (sha1(c), d) for c, d in sorted(
        [(b"v1\n", site.path("etc", "a")), (b"b\n", site.path("etc", "b"))], key=lambda cd: cd[1]))
    first = site.run(tasks("v1\n"))
    assert first.results[0]["verified"] is False
    assert first.results[0]["record"] == want_record
    assert first.results[1]["changed_files"] == [record]
    assert read(record).decode() == want_record

    second = site.run(tasks("v1\n"))
    assert second.results[0]["verified"] is True
    assert second.results[0]["changed"] is False and second.results[1].get("skipped") is True
    assert second.stats["changed"] == 0

    # The proof of the old content says nothing of the new: check mode sees it too.
    dry = site.run(tasks("v2\n"), check=True)
    assert dry.results[0]["verified"] is False and read(record).decode() == want_record
    third = site.run(tasks("v2\n"))
    assert third.results[0]["verified"] is False
    assert third.results[0]["changed_files"] == [site.path("etc", "a")]
    assert "%s  %s\n" % (sha1(b"v2\n"), site.path("etc", "a")) in read(record).decode()
    assert site.run(tasks("v2\n")).results[0]["verified"] is True


def test_a_recorded_file_changed_behind_the_records_back_is_found(site):
    # A verified record lets the module skip hashing files untouched since it was written (same
    # size, ctime before the record). A write of the same size with the old mtime set back still
    # moves ctime: the file is hashed, found different and replaced.
    record = site.path("etc", "verified")
    files = [{"content": "good\n", "dest": site.path("etc", "a")}]
    tasks = [
        dict(host_files(directories=[{"path": site.path("etc")}], files=files, record=record), register="installed"),
        {"name": "Record the proved files", MODULE: {"files": [{"content": "{{ installed.record }}", "dest": record}]},
         "when": "not installed.verified"},
    ]
    site.run(tasks)
    assert site.run(tasks).results[0]["verified"] is True
    before = os.stat(site.path("etc", "a"))
    with open(site.path("etc", "a"), "w") as fh:
        fh.write("evil\n")
    os.utime(site.path("etc", "a"), ns=(before.st_atime_ns, before.st_mtime_ns))
    again = site.run(tasks)
    assert again.results[0]["changed_files"] == [site.path("etc", "a")]
    assert read(site.path("etc", "a")) == b"good\n"


# --- secrets --------------------------------------------------------------------------------

def test_no_log_hides_the_content_from_the_output(site):
    key = site.path("key.pem")
    write(key, "old-key\n", mode=0o600)
    task = host_files(files=[{"content": SECRET + "\n", "dest": key, "mode": "0600"}])
    # The control: without no_log the diff prints the text, so the search below can find it.
    shown = site.run([task], check=True, diff=True)
    assert SECRET in shown.output
    hidden = site.run([dict(task, no_log=True)], diff=True)
    assert SECRET not in hidden.output and "old-key" not in hidden.output
    assert hidden.stats["changed"] == 1
    assert read(key) == (SECRET + "\n").encode() and mode_of(key) == 0o600


# --- owners ---------------------------------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_owner_and_group_by_number_and_by_name(site):
    d, f = site.path("data"), site.path("data", "f.conf")

    def task(owner, group):
        return host_files(directories=[{"path": d, "owner": owner, "group": group}],
                          files=[{"content": "x\n", "dest": f, "owner": owner, "group": group, "mode": "0640"}])

    site.run([task("4321", "4322")])
    assert (os.stat(d).st_uid, os.stat(d).st_gid) == (4321, 4322)
    assert (os.stat(f).st_uid, os.stat(f).st_gid) == (4321, 4322) and mode_of(f) == 0o640

    named = site.run([task("root", "root")])
    assert named.results[0]["files"][0]["changes"] == ["owner 4321 -> 0", "group 4322 -> 0"]
    assert named.results[0]["changed_directories"] == [d]
    assert (os.stat(d).st_uid, os.stat(d).st_gid) == (0, 0) and (os.stat(f).st_uid, os.stat(f).st_gid) == (0, 0)
    # Name and number of the same user are the same owner.
    assert site.run([task("0", "0")]).stats["changed"] == 0
    assert site.run([task("root", "root")]).stats["changed"] == 0


# --- links, and the module without pipelining --------------------------------------------------

def test_a_link_at_dest_is_replaced_and_a_linked_directory_is_followed(site):
    target = site.path("real", "target.conf")
    write(target, "target stays\n", mode=0o600)
    link = site.path("etc", "resolv.conf")
    os.makedirs(site.path("etc"))
    os.symlink(target, link)
    data = site.path("disk", "kubelet")
    os.makedirs(data)
    os.symlink(data, site.path("kubelet"))
    task = host_files(directories=[{"path": site.path("kubelet"), "mode": "0700"}],
                      files=[{"content": "nameserver 10.0.0.10\n", "dest": link},
                             {"content": "k\n", "dest": site.path("kubelet", "config"), "mode": "0600"}])
    run = site.run([task])
    assert run.results[0]["files"][0]["changes"] == ["create", "mode - -> 0644"]
    assert not os.path.islink(link) and read(link) == b"nameserver 10.0.0.10\n" and mode_of(link) == 0o644
    assert read(target) == b"target stays\n" and mode_of(target) == 0o600
    assert os.path.islink(site.path("kubelet")) and mode_of(data) == 0o700
    assert read(os.path.join(data, "config")) == b"k\n"
    assert site.run([task]).stats["changed"] == 0


def test_without_pipelining_files_are_sent_and_the_temporary_directory_removed(site):
    write(os.path.join(site.ctl, "files", "tool"), BINARY)
    remote_tmp = os.path.join(os.path.dirname(site.host), "remote-tmp")
    os.makedirs(remote_tmp)
    env = {"ANSIBLE_PIPELINING": "false", "ANSIBLE_REMOTE_TMP": remote_tmp}
    task = host_files(files=[{"src": "tool", "dest": site.path("tool"), "mode": "0755"},
                             {"content": "c\n", "dest": site.path("c.conf")}])
    run = site.run([task], env=env)
    assert run.results[0]["changed_files"] == [site.path("tool"), site.path("c.conf")]
    assert read(site.path("tool")) == BINARY and read(site.path("c.conf")) == b"c\n"
    assert os.listdir(remote_tmp) == []
    assert site.run([task], env=env).stats["changed"] == 0
    assert os.listdir(remote_tmp) == []
