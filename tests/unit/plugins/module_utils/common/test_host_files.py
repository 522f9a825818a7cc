"""Pure logic of host_files: modes, the entries' checks, the plans of files and directories,
what a plan says, and the entries the filters build."""

import hashlib

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.common import host_files as hf


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def host_file(text, mode=0o100644, uid=0, gid=0):
    """What read_state says of a regular file."""
    return {"exists": True, "kind": "file", "is_file": True, "is_dir": False,
            "checksum": sha1(text), "mode": mode, "uid": uid, "gid": gid, "size": len(text)}


def host_dir(mode=0o040755, uid=0, gid=0):
    return {"exists": True, "kind": "directory", "is_file": False, "is_dir": True,
            "mode": mode, "uid": uid, "gid": gid}


ABSENT = {"exists": False}


# --- parse_mode ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode,value", [
    ("0644", 0o644), ("644", 0o644), ("0755", 0o755), ("0600", 0o600), ("1777", 0o1777),
    ("01777", 0o1777), ("0000", 0), (None, None),
])
def test_parse_mode_reads_quoted_octal_strings(mode, value):
    assert hf.parse_mode(mode, "files[0]") == value


@pytest.mark.parametrize("mode,words", [
    # YAML reads unquoted 0644 as 420 and 644 as 644: neither means what was written.
    (420, ["files[3]: mode 420", "number", "quote it", 'mode: "0644"']),
    (644, ["files[3]: mode 644", "number", 'mode: "0644"']),
    ("rwx", ["files[3]: mode 'rwx'", "not an octal string", 'mode: "0644"']),
    ("u=rw,g=r", ["mode 'u=rw,g=r'", "quote it"]),
    ("0o644", ["mode '0o644'"]),
    ("0844", ["mode '0844'"]),
    ("64", ["mode '64'"]),
    ("006440", ["mode '006440'"]),
    ("0644\n", ["mode '0644\\n'"]),
    (True, ["mode True"]),
    (6.44, ["mode 6.44"]),
])
def test_parse_mode_refuses_what_is_not_a_quoted_octal_string(mode, words):
    with pytest.raises(hf.HostFilesError) as err:
        hf.parse_mode(mode, "files[3]")
    for word in words:
        assert word in str(err.value)


def test_host_files_error_is_a_collection_error():
    from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
    assert issubclass(hf.HostFilesError, XinchuangError)


# --- check_entries ---------------------------------------------------------------------------

def test_check_entries_accepts_absolute_distinct_paths():
    hf.check_entries([{"dest": "/etc/a/x.conf", "mode": "0600"}, {"dest": "/etc/a/y.conf"}],
                     [{"path": "/etc/a", "mode": "0755"}, {"path": "/etc/b"}])
    hf.check_entries([], [])


@pytest.mark.parametrize("files,directories,words", [
    ([{"dest": "etc/x.conf"}], [], ["files[0]: dest 'etc/x.conf' is not an absolute path", "full path"]),
    ([{"dest": ""}], [], ["files[0]: dest '' is not an absolute path"]),
    ([{}], [], ["files[0]: dest None is not an absolute path"]),
    ([], [{"path": "./d"}], ["directories[0]: path './d' is not an absolute path"]),
    ([{"dest": "/a/x"}, {"dest": "/a/y"}, {"dest": "/a//x"}], [],
     ["files[2]: dest /a//x is also files[0]", "list each path once"]),
    ([{"dest": "/etc/d"}], [{"path": "/etc/d/"}],
     ["files[0]: dest /etc/d is also directories[0]", "list each path once"]),
    ([], [{"path": "/d"}, {"path": "/d"}], ["directories[1]: path /d is also directories[0]"]),
    ([{"dest": "/a/x", "mode": 420}], [], ["files[0]: mode 420", "quote it"]),
    ([], [{"path": "/d", "mode": "rwx"}], ["directories[0]: mode 'rwx'"]),
    # A file cannot also be the directory of another entry: the write would fail half done.
    ([{"dest": "/srv/app"}], [{"path": "/srv/app/conf"}],
     ["directories[0]: /srv/app/conf is inside /srv/app, which files[0] makes a file"]),
    ([{"dest": "/srv/app"}, {"dest": "/srv/app/x/y.conf"}], [],
     ["files[1]: /srv/app/x/y.conf is inside /srv/app, which files[0] makes a file"]),
])
def test_check_entries_names_the_entry_and_the_fix(files, directories, words):
    with pytest.raises(hf.HostFilesError) as err:
        hf.check_entries(files, directories)
    for word in words:
        assert word in str(err.value)
    assert str(err.value).endswith("(nothing was changed)")


def test_check_entries_reports_every_problem_at_once():
    with pytest.raises(hf.HostFilesError) as err:
        hf.check_entries([{"dest": "rel"}, {"dest": "/a", "mode": 644}, {"dest": "/a"}], [{"path": "d"}])
    msg = str(err.value)
    assert "directories[0]: path 'd'" in msg
    assert "files[0]: dest 'rel'" in msg
    assert "files[1]: mode 644" in msg
    assert "files[2]: dest /a is also files[1]" in msg
    problems = hf.entry_problems([{"dest": "rel"}, {"dest": "/a", "mode": 644}, {"dest": "/a"}], [{"path": "d"}])
    assert len(problems) == 4
    assert msg == "; ".join(problems) + " (nothing was changed)"


# --- file_plan -------------------------------------------------------------------------------

def wanted_file(text, dest="/etc/x.conf", mode=None, uid=None, gid=None):
    return {"dest": dest, "checksum": sha1(text), "mode": mode, "uid": uid, "gid": gid}


def test_file_plan_creates_a_missing_file_with_the_default_mode():
    plan = hf.file_plan(wanted_file("a\n"), ABSENT)
    assert plan == {"dest": "/etc/x.conf", "create": True, "content": True,
                    "attributes": [("mode", None, "0644")]}
    assert hf.plan_changes(plan)
    assert hf.describe(plan) == ["create", "mode - -> 0644"]


def test_file_plan_creates_with_the_given_mode_and_owners():
    plan = hf.file_plan(wanted_file("a\n", mode="0600", uid=0, gid=1000), ABSENT)
    assert plan["attributes"] == [("mode", None, "0600"), ("owner", None, 0), ("group", None, 1000)]
    assert hf.describe(plan) == ["create", "mode - -> 0600", "owner - -> 0", "group - -> 1000"]


def test_file_plan_of_an_identical_file_changes_nothing():
    plan = hf.file_plan(wanted_file("a\n", mode="0644", uid=0, gid=0), host_file("a\n"))
    assert plan == {"dest": "/etc/x.conf", "create": False, "content": False, "attributes": []}
    assert not hf.plan_changes(plan)
    assert hf.describe(plan) == []


def test_file_plan_content_differs():
    plan = hf.file_plan(wanted_file("new\n", mode="0644"), host_file("old\n"))
    assert (plan["create"], plan["content"], plan["attributes"]) == (False, True, [])
    assert hf.describe(plan) == ["content"]


def test_file_plan_mode_differs_only():
    plan = hf.file_plan(wanted_file("a\n", mode="0644"), host_file("a\n", mode=0o100600))
    assert (plan["create"], plan["content"]) == (False, False)
    assert plan["attributes"] == [("mode", "0600", "0644")]
    assert hf.plan_changes(plan)
    assert hf.describe(plan) == ["mode 0600 -> 0644"]


def test_file_plan_without_a_mode_keeps_the_existing_one():
    plan = hf.file_plan(wanted_file("a\n"), host_file("a\n", mode=0o100600))
    assert not hf.plan_changes(plan)
    plan = hf.file_plan(wanted_file("b\n"), host_file("a\n", mode=0o100600))
    assert hf.describe(plan) == ["content"]


def test_file_plan_compares_the_permission_bits_only():
    # st_mode carries the file type; setuid and sticky bits are part of the mode.
    assert hf.file_plan(wanted_file("a\n", mode="4755"), host_file("a\n", mode=0o104755))["attributes"] == []
    assert hf.file_plan(wanted_file("a\n", mode="0755"), host_file("a\n", mode=0o104755))["attributes"] == \
        [("mode", "4755", "0755")]


def test_file_plan_owner_and_group_differ():
    plan = hf.file_plan(wanted_file("a\n", uid=1000, gid=0), host_file("a\n", uid=0, gid=0))
    assert plan["attributes"] == [("owner", 0, 1000)]
    assert hf.describe(plan) == ["owner 0 -> 1000"]
    plan = hf.file_plan(wanted_file("b\n", mode="0640", gid=5), host_file("a\n", uid=0, gid=0))
    assert hf.describe(plan) == ["content", "mode 0644 -> 0640", "group 0 -> 5"]


@pytest.mark.parametrize("kind", ["directory", "other"])
def test_file_plan_refuses_a_directory_or_socket_where_a_file_is_wanted(kind):
    current = {"exists": True, "kind": kind, "is_file": False, "is_dir": kind == "directory",
               "mode": 0o040755, "uid": 0, "gid": 0}
    with pytest.raises(hf.HostFilesError) as err:
        hf.file_plan(wanted_file("a\n", dest="/etc/x.conf"), current)
    assert "/etc/x.conf exists and is not a regular file (%s)" % kind in str(err.value)
    assert "remove it or choose another dest" in str(err.value)


def test_file_plan_replaces_a_symbolic_link_as_a_new_file():
    # lstat's mode of a link is 0777: it must not become the file's mode.
    link = {"exists": True, "kind": "symbolic link", "is_file": False, "is_dir": False,
            "mode": 0o120777, "uid": 0, "gid": 0}
    plan = hf.file_plan(wanted_file("a\n"), link)
    assert plan == {"dest": "/etc/x.conf", "create": True, "content": True, "attributes": [("mode", None, "0644")]}


# --- dir_plan --------------------------------------------------------------------------------

def test_dir_plan_creates_a_missing_directory_with_the_default_mode():
    plan = hf.dir_plan({"path": "/etc/d"}, ABSENT)
    assert plan == {"path": "/etc/d", "create": True, "attributes": [("mode", None, "0755")]}
    assert hf.describe(plan) == ["create", "mode - -> 0755"]
    plan = hf.dir_plan({"path": "/etc/d", "mode": "0700"}, ABSENT)
    assert plan["attributes"] == [("mode", None, "0700")]


def test_dir_plan_of_a_matching_directory_changes_nothing():
    plan = hf.dir_plan({"path": "/etc/d", "mode": "0755", "uid": 0, "gid": 0}, host_dir())
    assert plan == {"path": "/etc/d", "create": False, "attributes": []}
    assert not hf.plan_changes(plan)
    assert not hf.plan_changes(hf.dir_plan({"path": "/etc/d"}, host_dir(mode=0o040700)))


def test_dir_plan_mode_and_owner_differ():
    plan = hf.dir_plan({"path": "/etc/d", "mode": "0700", "uid": 1000}, host_dir())
    assert plan["attributes"] == [("mode", "0755", "0700"), ("owner", 0, 1000)]
    assert hf.describe(plan) == ["mode 0755 -> 0700", "owner 0 -> 1000"]


def test_dir_plan_refuses_a_file_where_a_directory_is_wanted():
    with pytest.raises(hf.HostFilesError) as err:
        hf.dir_plan({"path": "/etc/d"}, host_file("a\n"))
    assert "/etc/d exists and is not a directory (file)" in str(err.value)
    assert "remove it or choose another path" in str(err.value)


def test_plan_changes_and_describe_of_an_empty_plan():
    assert not hf.plan_changes({})
    assert hf.describe({}) == []
    assert hf.describe({"content": True, "attributes": [("mode", "0600", "0644"), ("owner", 0, 1)]}) == \
        ["content", "mode 0600 -> 0644", "owner 0 -> 1"]


# --- entries for the filters -----------------------------------------------------------------

def test_file_entries_installs_each_name_from_one_directory_into_another():
    assert hf.file_entries(["kubelet", "kubectl"], "/srv/bundle/bin", "/usr/local/bin", mode="0755") == [
        {"src": "/srv/bundle/bin/kubelet", "dest": "/usr/local/bin/kubelet", "mode": "0755"},
        {"src": "/srv/bundle/bin/kubectl", "dest": "/usr/local/bin/kubectl", "mode": "0755"},
    ]
    assert hf.file_entries(("runc",), "/b", "/usr/bin") == [{"src": "/b/runc", "dest": "/usr/bin/runc"}]
    assert hf.file_entries([], "/b", "/usr/bin") == []
    # A generator (Jinja's map) is a list too.
    assert hf.file_entries((n for n in ["a"]), "/b", "/d") == [{"src": "/b/a", "dest": "/d/a"}]


def test_dir_entries_gives_every_path_one_mode():
    assert hf.dir_entries(["/etc/a", "/etc/b"], mode="0700") == [
        {"path": "/etc/a", "mode": "0700"}, {"path": "/etc/b", "mode": "0700"}]
    assert hf.dir_entries(["/etc/a"]) == [{"path": "/etc/a"}]


def test_template_entries_render_one_template_per_item():
    assert hf.template_entries(["docker.io", "registry.k8s.io"], "hosts.toml.j2",
                               "/etc/containerd/certs.d/{item}/hosts.toml", "registry", mode="0644") == [
        {"template": "hosts.toml.j2", "vars": {"registry": "docker.io"},
         "dest": "/etc/containerd/certs.d/docker.io/hosts.toml", "mode": "0644"},
        {"template": "hosts.toml.j2", "vars": {"registry": "registry.k8s.io"},
         "dest": "/etc/containerd/certs.d/registry.k8s.io/hosts.toml", "mode": "0644"},
    ]
    assert hf.template_entries([8080], "t.j2", "/etc/port-{item}.conf", "port") == [
        {"template": "t.j2", "vars": {"port": 8080}, "dest": "/etc/port-8080.conf"}]


@pytest.mark.parametrize("call,words", [
    (lambda: hf.file_entries("kubelet", "/b", "/d"), ["file_entries", "must be a list", "the string 'kubelet'"]),
    (lambda: hf.file_entries(None, "/b", "/d"), ["file_entries", "must be a list", "None"]),
    (lambda: hf.dir_entries("/etc/a"), ["dir_entries: paths must be a list", "the string '/etc/a'"]),
    (lambda: hf.dir_entries({"path": "/etc/a"}), ["dir_entries: paths must be a list"]),
    (lambda: hf.template_entries("docker.io", "t.j2", "/e/{item}", "r"),
     ["template_entries: items must be a list", "the string 'docker.io'"]),
    (lambda: hf.template_entries(["a", "b"], "t.j2", "/etc/hosts.toml", "r"),
     ["template_entries: dest '/etc/hosts.toml' has no {item}", "same file"]),
])
def test_entry_builders_refuse_what_is_not_a_list_of_items(call, words):
    with pytest.raises(hf.HostFilesError) as err:
        call()
    for word in words:
        assert word in str(err.value)


def test_filters_report_the_policy_message_as_a_filter_error():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.xinchuang.cloud.plugins.filter.host_files import FilterModule

    filters = FilterModule().filters()
    assert sorted(filters) == ["host_dir_entries", "host_file_entries", "host_template_entries"]
    assert filters["host_dir_entries"](["/a"], mode="0700") == [{"path": "/a", "mode": "0700"}]
    with pytest.raises(AnsibleFilterError, match="has no {item}"):
        filters["host_template_entries"](["a"], "t.j2", "/etc/x", "r")
