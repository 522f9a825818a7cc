"""Pure logic of the Harbor modules: Harbor's name and quota rules, what differs, request
bodies, and the message of every error status."""

import pytest
from hypothesis import given, strategies as st

from ansible_collections.xinchuang.cloud.plugins.module_utils.harbor import policy as hp

GIB = 1024 ** 3


@pytest.mark.parametrize("name", ["apps", "a", "my.app-1_x", "x" * 255, "123"])
def test_harbor_names_accepted(name):
    assert hp.check_name("project", name) == name


@pytest.mark.parametrize("name, fragment", [
    ("MyApps", "use 'myapps'"), ("-apps", "'-apps'"), ("a__b", "'a__b'"), ("app/x", "'app/x'"),
    ("x" * 256, "at most 255"), ("", "''")])
def test_harbor_names_refused_naming_the_value(name, fragment):
    with pytest.raises(hp.HarborError) as err:
        hp.check_name("project", name)
    assert fragment in str(err.value)
    assert "project name" in str(err.value)


@pytest.mark.parametrize("value, size", [
    ("10G", 10 * GIB), ("10g", 10 * GIB), ("512Mi", 512 * 1024 ** 2), ("1TiB", 1024 * GIB),
    ("1048576", 1048576), ("1.5G", 3 * GIB // 2), ("-1", -1), (-1, -1), (2048, 2048),
    ("4K", 4096), ("3B", 3)])
def test_quota_sizes_in_binary_units(value, size):
    assert hp.parse_size(value) == size


@pytest.mark.parametrize("value", ["ten", "10X", "0", "-5", "G", "10iB", True, "1.5.2G"])
def test_quota_sizes_refused_naming_the_value(value):
    with pytest.raises(hp.HarborError) as err:
        hp.parse_size(value)
    assert repr(value) in str(err.value)


@given(st.integers(min_value=1, max_value=2 ** 50))
def test_format_size_round_trips(size):
    assert hp.parse_size(hp.format_size(size)) == size


def test_format_size_is_the_shortest_exact_form():
    assert hp.format_size(10 * GIB) == "10G"
    assert hp.format_size(1536 * 1024 ** 2) == "1536M"
    assert hp.format_size(-1) == "-1"
    assert hp.format_size(1000) == "1000B"


def project(**meta):
    return {"name": "apps", "project_id": 3, "registry_id": meta.pop("registry_id", None),
            "metadata": dict((k, "true" if v else "false") for k, v in meta.items()),
            "repo_count": 2}


def test_project_state_from_harbor_objects():
    state = hp.project_state(project(public=True, registry_id=4),
                             {"hard": {"storage": GIB}, "used": {"storage": 10}}, "hub")
    assert state == {"name": "apps", "project_id": 3, "public": True, "auto_scan": False,
                     "storage_quota": GIB, "storage_used": 10, "proxy_cache_registry": "hub",
                     "repo_count": 2}


def test_options_left_out_are_not_managed():
    current = hp.project_state(project(public=True, auto_scan=True),
                               {"hard": {"storage": GIB}, "used": {"storage": 0}})
    desired = hp.desired_project({"name": "apps", "public": None, "auto_scan": False,
                                  "storage_quota": None, "proxy_cache_registry": None})
    assert hp.project_changes(current, desired) == {"auto_scan": False}
    assert hp.project_changes(None, desired) == {"auto_scan": False}


def test_quota_below_usage_refused_naming_both():
    current = hp.project_state(project(), {"hard": {"storage": GIB},
                                           "used": {"storage": 5 * 1024 ** 2 + 1}})
    with pytest.raises(hp.HarborError) as err:
        hp.check_project_change(current, {"storage_quota": 4 * 1024 ** 2}, "https://h")
    msg = str(err.value)
    assert "storage_quota 4M (4194304 bytes)" in msg
    assert "5.0M (5242881 bytes)" in msg
    assert "at least 6M" in msg
    hp.check_project_change(current, {"storage_quota": -1}, "https://h")
    hp.check_project_change(current, {"storage_quota": 6 * 1024 ** 2}, "https://h")


def test_proxy_cache_registry_cannot_change():
    current = hp.project_state(project(registry_id=4), None, "hub")
    with pytest.raises(hp.HarborError) as err:
        hp.check_project_change(current, {"proxy_cache_registry": "mirror"}, "https://h")
    assert "'hub'" in str(err.value) and "'mirror'" in str(err.value)
    assert "delete the project" in str(err.value)


def test_project_bodies():
    desired = hp.desired_project({"name": "apps", "public": None, "auto_scan": True,
                                  "storage_quota": "1G", "proxy_cache_registry": None})
    assert hp.project_create_body(desired, 7) == {
        "project_name": "apps", "metadata": {"public": "false", "auto_scan": "true"},
        "storage_limit": GIB, "registry_id": 7}
    assert hp.project_metadata_body({"public": True, "storage_quota": 1}) == {
        "metadata": {"public": "true"}}
    assert hp.project_metadata_body({"storage_quota": 1}) is None


def test_registry_changes_ignore_a_trailing_slash_and_unmanaged_fields():
    current = hp.registry_state({"id": 1, "name": "hub", "type": "docker-hub",
                                 "url": "https://hub.docker.com/", "insecure": False,
                                 "credential": {"access_key": "ops", "access_secret": "*****"}})
    assert current["has_secret"] is True
    desired = hp.desired_registry({"name": "hub", "type": None,
                                   "endpoint_url": "https://hub.docker.com", "access_key": "ops",
                                   "insecure": None, "description": None})
    assert hp.registry_changes(current, desired) == {}
    desired["insecure"] = True
    assert hp.registry_changes(current, desired) == {"insecure": True}
    assert hp.registry_update_body({"insecure": True}, "s3cret") == {
        "insecure": True, "credential_type": "basic", "access_secret": "s3cret"}


def test_registry_url_needs_a_scheme():
    with pytest.raises(hp.HarborError) as err:
        hp.desired_registry({"name": "m", "endpoint_url": "mirror.example.cn"})
    assert "'mirror.example.cn'" in str(err.value) and "https://" in str(err.value)


@pytest.mark.parametrize("full, expected", [
    ("robot$apps+ci", True), ("apps+ci", True), ("sa_apps+ci", True),
    ("robot$apps+cix", False), ("robot$apps+xci", False), ("robot$other+ci", False),
    ("ci", False), (None, False)])
def test_robot_names_from_a_project_list(full, expected):
    assert hp.robot_matches(full, "apps", "ci") is expected


def test_permissions_are_a_set():
    out = hp.normalize_permissions([{"resource": "repository", "action": "push"},
                                    {"resource": "repository", "action": "pull"},
                                    {"resource": "repository", "action": "push"}], "robot")
    assert out == [{"resource": "repository", "action": "pull"},
                   {"resource": "repository", "action": "push"}]
    with pytest.raises(hp.HarborError) as err:
        hp.normalize_permissions([{"resource": "repository"}], "robot 'ci'")
    assert "permissions[0]" in str(err.value) and "robot 'ci'" in str(err.value)
    with pytest.raises(hp.HarborError):
        hp.normalize_permissions([], "robot 'ci'")


def test_robot_update_keeps_name_and_level_and_merges_changes():
    robot = {"id": 7, "name": "robot$apps+ci", "description": "", "duration": -1,
             "disable": False, "expires_at": -1, "level": "project",
             "permissions": [{"kind": "project", "namespace": "apps",
                              "access": [{"resource": "repository", "action": "pull",
                                          "effect": "allow"}]}]}
    current = hp.robot_state(robot)
    assert current["permissions"] == [{"resource": "repository", "action": "pull"}]
    desired = hp.desired_robot({"name": "ci", "project": "apps", "description": None,
                                "duration_days": 30, "disable": None,
                                "permissions": [{"resource": "repository", "action": "pull"}]})
    assert hp.robot_changes(current, desired) == {"duration_days": 30}
    body = hp.robot_update_body(current, desired)
    assert body["name"] == "robot$apps+ci" and body["level"] == "project"
    assert body["duration"] == 30
    assert body["permissions"] == [{"kind": "project", "namespace": "apps", "access": [
        {"resource": "repository", "action": "pull"}]}]


@pytest.mark.parametrize("days", [0, -2])
def test_robot_duration_refused(days):
    with pytest.raises(hp.HarborError) as err:
        hp.desired_robot({"name": "ci", "project": "apps", "duration_days": days,
                          "permissions": [{"resource": "repository", "action": "pull"}]})
    assert "duration_days %r" % days in str(err.value)


BODY = {"errors": [{"code": "CONFLICT", "message": "exists"}]}


@pytest.mark.parametrize("status, fragments", [
    (401, ["rejected the credentials of user 'ops'", "HTTP 401", "check username"]),
    (403, ["refused creating project 'a' to user 'ops'", "HTTP 403", "system administrator"]),
    (404, ["creating project 'a': not found", "HTTP 404", "check the name"]),
    (409, ["conflicts", "HTTP 409", "CONFLICT: exists", "run the task again"]),
    (412, ["precondition failed", "remove what still depends"]),
    (400, ["bad request", "check the options"]),
    (502, ["HTTP 502", "creating project 'a'"])])
def test_error_messages_name_the_object_and_a_fix(status, fragments):
    msg = hp.error_message(status, BODY, "creating project 'a'", "https://h", "ops")
    for fragment in fragments:
        assert fragment in msg
    assert "https://h" in msg


def test_error_messages_take_the_fix_of_the_call_site():
    msg = hp.error_message(412, BODY, "deleting project 'a'", "https://h", "ops",
                           fix="delete its repositories first")
    assert msg.endswith("delete its repositories first")


def test_anonymous_401_says_to_give_credentials():
    assert "set username and password" in hp.error_message(401, None, "reading", "https://h")
