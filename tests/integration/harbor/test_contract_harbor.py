"""CONTRACT TESTS of the Harbor modules: against the Harbor contract test server of
contract_server.py (written from Harbor's published API description, with a real CNCF
distribution registry behind its /v2/ side), NOT against a real Harbor, which cannot be
installed here.

Reconciling cases run the four passes of the conventions (check, real, check, real) and
read the server's state to see what was written; bad input must fail naming the value and
leave the server's API untouched (no write in its request log).
"""

import subprocess

import pytest
import requests

from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg
from tests.integration.fixtures_registry import client_push, free_port, make_image, push_index
from tests.integration.harbor.conftest import DEV, DEV_PASSWORD

GIB = 1024 ** 3


def assert_ok(result):
    assert not result.get("failed"), result.get("msg", result)


def assert_failed(result, *fragments):
    assert result.get("failed") is True, result
    for fragment in fragments:
        assert fragment in result["msg"], (fragment, result["msg"])


class NoWrites(object):
    """The block sends no write to the server's API (the registry ping excepted)."""

    def __init__(self, harbor):
        self.harbor = harbor

    def __enter__(self):
        self.before = len(self.harbor.api_writes())
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            writes = self.harbor.api_writes()[self.before:]
            assert writes == [], writes


def four_pass(harbor, run, module, diff=False, **args):
    """check (writes nothing), real, check, real; returns the four results."""
    with NoWrites(harbor):
        check = run(module, check=True, diff=diff, **args)
    out = [check, run(module, diff=diff, **args)]
    with NoWrites(harbor):
        out += [run(module, check=True, diff=diff, **args), run(module, diff=diff, **args)]
    for result in out:
        assert_ok(result)
    assert [r["changed"] for r in out] == [True, True, False, False], out
    return out


def test_contract_project_create_update_delete_four_pass(harbor, harbor_run):
    args = dict(name="apps", public=True, storage_quota="10G", auto_scan=True)
    check, real, _check2, again = four_pass(harbor, harbor_run, "harbor_project", diff=True,
                                            **args)
    assert check["diff"]["before"] is None
    assert check["project"]["storage_quota"] == 10 * GIB
    project = harbor.projects["apps"]
    assert project["metadata"]["public"] == "true"
    assert project["metadata"]["auto_scan"] == "true"
    assert harbor.quota_of("apps")["hard"]["storage"] == 10 * GIB
    assert real["project"]["project_id"] == project["project_id"]
    assert again["requests"] == 2 and again["writes"] == 0  # the project and its quota

    update = dict(name="apps", public=False, storage_quota="20G")
    _c, changed, _c2, _again = four_pass(harbor, harbor_run, "harbor_project", diff=True,
                                         **update)
    assert changed["changes"] == ["public", "storage_quota"]
    assert changed["diff"]["before"]["public"] is True
    assert changed["diff"]["after"]["public"] is False
    assert harbor.projects["apps"]["metadata"] == {"public": "false", "auto_scan": "true"}
    assert harbor.quota_of("apps")["hard"]["storage"] == 20 * GIB

    four_pass(harbor, harbor_run, "harbor_project", name="apps", state="absent")
    assert "apps" not in harbor.projects


def test_contract_project_name_with_upper_case_fails_naming_it_before_any_request(
        harbor, harbor_run):
    before = len(harbor.log)
    result = harbor_run("harbor_project", name="MyApps")
    assert_failed(result, "'MyApps'", "use 'myapps'", "lower case")
    assert len(harbor.log) == before
    assert "myapps" not in harbor.projects


def admin_client(harbor):
    from tests.integration.harbor.conftest import ADMIN, ADMIN_PASSWORD
    return reg.RegistryClient(harbor.host, username=ADMIN, password=ADMIN_PASSWORD,
                              ca_path=harbor.ca, backoff=0.05)


def test_contract_quota_below_usage_fails_naming_both_nothing_written(harbor, harbor_run):
    assert_ok(harbor_run("harbor_project", name="quota-demo", storage_quota="100M"))
    # Something of real size in the project, through Harbor's /v2/ and token flow.
    client_push(admin_client(harbor), make_image({"os": "linux", "architecture": "amd64"},
                                                 content="quota demo\n", filler=64 * 1024),
                "quota-demo/app", "1.0")
    used = harbor.quota_of("quota-demo")["used"]["storage"]
    assert used > 64 * 1024
    with NoWrites(harbor):
        result = harbor_run("harbor_project", name="quota-demo", storage_quota="16K")
    assert_failed(result, "storage_quota 16K", "'quota-demo'", "(%d bytes)" % used,
                  "raise storage_quota")
    assert harbor.quota_of("quota-demo")["hard"]["storage"] == 100 * 1024 ** 2

    info = harbor_run("harbor_info", gather=["projects"])
    assert_ok(info)
    entry = [p for p in info["projects"] if p["name"] == "quota-demo"][0]
    assert entry["storage_used"] == used and entry["storage_quota"] == 100 * 1024 ** 2
    assert entry["repo_count"] == 1

    # Deleting a project that holds repositories: refused before the DELETE, naming why.
    with NoWrites(harbor):
        result = harbor_run("harbor_project", name="quota-demo", state="absent")
    assert_failed(result, "'quota-demo'", "cannot be deleted",
                  "the project contains repositories", "delete its repositories first")


def test_contract_registry_endpoint_and_proxy_cache_project(harbor, harbor_run, registry_set):
    upstream = "https://" + registry_set.host("upstream")
    args = dict(name="upstream-mirror", type="docker-registry", endpoint_url=upstream,
                access_key=registry_set.username, access_secret=registry_set.password,
                description="lab upstream")
    _check, real, _check2, again = four_pass(harbor, harbor_run, "harbor_registry", diff=True,
                                             **args)
    stored = [r for r in harbor.registries.values() if r["name"] == "upstream-mirror"][0]
    assert stored["url"] == upstream and stored["type"] == "docker-registry"
    assert stored["credential"]["access_secret"] == registry_set.password
    assert real["registry"]["has_secret"] is True
    assert "access_secret" in real["changes"]
    assert again["requests"] == 1  # the lookup; nothing to ping, nothing to write

    # Harbor never shows the secret: always sending it is a change every time.
    always = harbor_run("harbor_registry", update_secret="always", **args)
    assert_ok(always)
    assert always["changed"] is True and always["changes"] == ["access_secret"]

    project = dict(name="upstream-cache", public=True, proxy_cache_registry="upstream-mirror")
    four_pass(harbor, harbor_run, "harbor_project", **project)
    assert harbor.projects["upstream-cache"]["registry_id"] == stored["id"]

    with NoWrites(harbor):
        other = harbor_run("harbor_project", name="upstream-cache",
                           proxy_cache_registry="elsewhere")
    assert_failed(other, "'upstream-cache'", "'upstream-mirror'", "delete the project")
    with NoWrites(harbor):
        unknown = harbor_run("harbor_project", name="new-cache", proxy_cache_registry="nowhere")
    assert_failed(unknown, "'nowhere'", "upstream-mirror", "xinchuang.cloud.harbor_registry")
    assert "new-cache" not in harbor.projects

    with NoWrites(harbor):
        retype = harbor_run("harbor_registry", **dict(args, type="harbor"))
    assert_failed(retype, "'docker-registry'", "cannot change the type", "state: absent")

    # In use by the proxy cache project: Harbor answers 412, the message says what to do.
    in_use = harbor_run("harbor_registry", name="upstream-mirror", state="absent")
    assert_failed(in_use, "HTTP 412", "'upstream-mirror'", "still used by proxy cache projects")
    assert stored["id"] in harbor.registries

    assert_ok(harbor_run("harbor_project", name="upstream-cache", state="absent"))
    four_pass(harbor, harbor_run, "harbor_registry", name="upstream-mirror", state="absent")


def test_contract_unreachable_endpoint_fails_naming_it_nothing_written(harbor, harbor_run):
    closed = "https://127.0.0.1:%d" % free_port()
    with NoWrites(harbor):
        result = harbor_run("harbor_registry", name="down", type="docker-registry",
                            endpoint_url=closed)
    assert_failed(result, closed, "unreachable", "the registry is unhealthy",
                  "nothing was changed")
    assert not any(r["name"] == "down" for r in harbor.registries.values())

    with NoWrites(harbor):
        wrong = harbor_run("harbor_registry", name="down", type="no-such-type",
                           endpoint_url=closed)
    assert_failed(wrong, "'no-such-type'", "docker-registry")


def test_contract_robot_secret_once_then_update_rotate_delete(harbor, harbor_run, registry_set,
                                                              tmp_path):
    assert_ok(harbor_run("harbor_project", name="robots-demo"))
    pull_push = [{"resource": "repository", "action": "pull"},
                 {"resource": "repository", "action": "push"}]
    args = dict(name="ci", project="robots-demo", permissions=pull_push)
    with NoWrites(harbor):
        check = harbor_run("harbor_robot", check=True, **args)
    assert_ok(check)
    assert check["changed"] is True and "secret" not in check
    created = harbor_run("harbor_robot", **args)
    assert_ok(created)
    secret = created["secret"]
    assert created["robot"]["name"] == "robot$robots-demo+ci"
    assert created["robot"]["duration_days"] == -1
    with NoWrites(harbor):
        for result in (harbor_run("harbor_robot", check=True, **args),
                       harbor_run("harbor_robot", **args)):
            assert_ok(result)
            assert result["changed"] is False and "secret" not in result

    # The secret works on Harbor's registry side: image_sync pushes with it.
    upstream = registry_set.client("upstream")
    images = [make_image({"os": "linux", "architecture": a}, content="robot %s\n" % a)
              for a in ("amd64", "arm64")]
    index = push_index(upstream, "robot/app", "1.0", images)
    sync = dict(images=[{"repository": "robot/app", "tag": "1.0"}],
                sources=[registry_set.endpoint("upstream")],
                destination={"url": harbor.host, "username": "robot$robots-demo+ci",
                             "password": secret, "ca_path": harbor.ca,
                             "prefix": "robots-demo"})
    from tests.integration.ansible_run import run_module
    pushed = run_module("xinchuang.cloud.image_sync", sync)
    assert_ok(pushed)
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--cert-dir", registry_set.cert_dir, "--creds",
         "robot$robots-demo+ci:%s" % secret,
         "docker://%s/robots-demo/robot/app:1.0" % harbor.host],
        capture_output=True, timeout=120, check=False)
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout == index

    # Fewer permissions: updated in place, the secret stays, pushing is refused.
    pull = [{"resource": "repository", "action": "pull"}]
    narrowed = harbor_run("harbor_robot", diff=True, **dict(args, permissions=pull))
    assert_ok(narrowed)
    assert narrowed["changed"] is True and narrowed["changes"] == ["permissions"]
    assert "secret" not in narrowed
    assert narrowed["diff"]["after"]["permissions"] == pull
    refused = run_module("xinchuang.cloud.image_sync", dict(
        sync, images=[{"repository": "robot/app", "tag": "1.0"}],
        destination=dict(sync["destination"], prefix="robots-demo/again")))
    assert_failed(refused, "robots-demo/again/robot/app")

    rotated = harbor_run("harbor_robot", rotate=True, **dict(args, permissions=pull))
    assert_ok(rotated)
    assert rotated["changed"] is True and rotated["secret"] not in (None, "", secret)
    token = requests.get(harbor.url + "/service/token", verify=harbor.ca, timeout=10,
                         auth=("robot$robots-demo+ci", secret))
    assert token.status_code == 401  # the old secret is gone

    four_pass(harbor, harbor_run, "harbor_robot", state="absent", **args)
    assert not any(r["name"] == "robot$robots-demo+ci" for r in harbor.robots.values())


def test_contract_robot_on_missing_project_fails_nothing_written(harbor, harbor_run):
    with NoWrites(harbor):
        result = harbor_run("harbor_robot", name="ci", project="no-such-project",
                            permissions=[{"resource": "repository", "action": "pull"}])
    assert_failed(result, "'no-such-project'", "does not exist",
                  "xinchuang.cloud.harbor_project")
    assert not any("no-such-project" in r["name"] for r in harbor.robots.values())


def test_contract_info_reads_everything_in_check_mode_too(harbor, harbor_run):
    assert_ok(harbor_run("harbor_project", name="info-demo", storage_quota="1G"))
    assert_ok(harbor_run("harbor_robot", name="puller", project="info-demo",
                         permissions=[{"resource": "repository", "action": "pull"}]))
    for check in (False, True):
        with NoWrites(harbor):
            info = harbor_run("harbor_info", check=check)
        assert_ok(info)
        assert info["changed"] is False and info["writes"] == 0
        assert info["system"]["harbor_version"] == "v2.x contract server (not Harbor)"
        assert info["health"]["status"] == "healthy"
        project = [p for p in info["projects"] if p["name"] == "info-demo"][0]
        assert project["storage_quota"] == GIB and project["storage_quota_human"] == "1G"
        robot = [r for r in info["robots"] if r["name"] == "robot$info-demo+puller"][0]
        assert robot["project"] == "info-demo" and robot["level"] == "project"
        assert robot["permissions"] == [{"resource": "repository", "action": "pull"}]


def test_contract_401_names_the_user_and_the_fix(harbor, harbor_run):
    result = harbor_run("harbor_project", name="anything", password="wrong-password")
    assert_failed(result, "HTTP 401", "user 'admin'", "UNAUTHORIZED",
                  "check username and password")


def test_contract_403_names_the_object_and_the_role_needed(harbor, harbor_run):
    with NoWrites(harbor):
        result = harbor_run("harbor_registry", username=DEV, password=DEV_PASSWORD,
                            name="dev-endpoint", type="docker-registry",
                            endpoint_url="https://127.0.0.1:1")
    assert_failed(result, "HTTP 403", "user 'dev'", "FORBIDDEN", "system administrators")


def test_contract_409_when_created_meanwhile_says_run_again(harbor, harbor_run):
    harbor.before("POST", r"^/api/v2.0/projects$",
                  lambda server: server._add_project("raced", owner="admin"))
    result = harbor_run("harbor_project", name="raced", public=True)
    assert_failed(result, "HTTP 409", "'raced'", "CONFLICT", "created by someone else meanwhile",
                  "run the task again")
    again = harbor_run("harbor_project", name="raced", public=True)
    assert_ok(again)
    assert again["changed"] is True and again["changes"] == ["public"]


def test_contract_412_when_the_project_fills_meanwhile(harbor, harbor_run):
    assert_ok(harbor_run("harbor_project", name="filled"))
    harbor.before("DELETE", r"^/api/v2.0/projects/filled$",
                  lambda server: server.projects["filled"]["repositories"].add("filled/app"))
    result = harbor_run("harbor_project", name="filled", state="absent")
    assert_failed(result, "HTTP 412", "PRECONDITION", "delete the repositories of project "
                  "'filled' first")
    assert "filled" in harbor.projects


@pytest.mark.parametrize("keep_cookies", [True, False])
def test_contract_server_refuses_writes_that_send_its_session_cookie_back(harbor,
                                                                          keep_cookies):
    """The contract itself: why the modules' client keeps no cookie."""
    from tests.integration.harbor.conftest import ADMIN, ADMIN_PASSWORD
    session = requests.Session()
    if not keep_cookies:
        session = admin_client(harbor).session
    session.get(harbor.url + "/api/v2.0/projects", verify=harbor.ca, timeout=10,
                auth=(ADMIN, ADMIN_PASSWORD))
    name = "cookie-%s" % str(keep_cookies).lower()
    resp = session.post(harbor.url + "/api/v2.0/projects", verify=harbor.ca, timeout=10,
                        auth=(ADMIN, ADMIN_PASSWORD), json={"project_name": name})
    if keep_cookies:
        assert resp.status_code == 403
        assert resp.json() == {"errors": [{"code": "FORBIDDEN", "message": "CSRF token invalid"}]}
    else:
        assert resp.status_code == 201, resp.text


def test_contract_project_owner_needs_no_system_administrator(harbor, harbor_run):
    """A developer manages its own project and its robots: the modules read the project's
    summary, not the quota and registry lists Harbor keeps for system administrators."""
    dev = dict(username=DEV, password=DEV_PASSWORD)
    four_pass(harbor, harbor_run, "harbor_project", name="dev-apps", auto_scan=True, **dev)
    assert harbor.projects["dev-apps"]["owner_name"] == DEV
    robot = dict(name="pull", project="dev-apps",
                 permissions=[{"resource": "repository", "action": "pull"}], **dev)
    created = harbor_run("harbor_robot", **robot)
    assert_ok(created)
    assert created["secret"]
    again = harbor_run("harbor_robot", **robot)
    assert_ok(again)
    assert again["changed"] is False
    # Quotas stay with the administrators, and the message says so.
    with NoWrites(harbor):
        quota = harbor_run("harbor_project", name="dev-apps", storage_quota="1G", **dev)
    assert_failed(quota, "HTTP 403", "quota", "system administrators")
