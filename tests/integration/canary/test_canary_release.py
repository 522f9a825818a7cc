"""The canary_release role (through playbooks/canary.yml) on the testbed: a C86 -> ARM release
in steps 10/50/100 with the cross_arch preset, rollback after a failed check, resume after an
interruption, and the release window."""

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from tests.integration.ansible_run import BIN, ROOT, ansible_env

pytestmark = pytest.mark.slow

PLAYBOOK = os.path.join(ROOT, "playbooks", "canary.yml")
SET_WEIGHTS = "Canary release | Set the weights of step"
ROLLBACK = "Canary release | Roll back"


def release_vars(app, **extra):
    out = {
        "ansible_python_interpreter": sys.executable,
        "canary_release_kubeconfig": app.kubeconfig,
        "canary_release_namespace": app.namespace,
        "canary_release_route": "web",
        "canary_release_preset": "cross_arch",
        "canary_release_app": "web",
        "canary_release_from_arch": "x86_64",  # any name of the family: the model maps it
        "canary_release_to_arch": "aarch64",
        "canary_release_steps": [10, 50, 100],
        "canary_release_pause_seconds": 0,
        "canary_release_check_timeout": 60,
        # The Deployments' images are not in a registry; the test that proves the image
        # check pushes real ones (canary_images).
        "canary_release_verify_image": False,
    }
    out.update(extra)
    return out


def _command(variables, tmp, playbook=PLAYBOOK):
    path = os.path.join(tmp, "vars.json")
    with open(path, "w") as fh:
        json.dump(variables, fh)
    return [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", playbook, "-e", "@" + path]


def _tasks(stdout):
    """[(task name, localhost result)] in the order they ran (ansible.posix.json callback).
    The report is the last thing printed; ansible.builtin.pause writes its notice before it."""
    start = re.search(r"^\{$", stdout, re.M)
    report = json.loads(stdout[start.start():] if start else stdout)
    out = []
    for play in report["plays"]:
        for task in play["tasks"]:
            if "localhost" in task["hosts"]:
                # "xinchuang.cloud.canary_release : Canary release | ..." -> "Canary release | ..."
                out.append((task["task"]["name"].split(" : ", 1)[-1], task["hosts"]["localhost"]))
    return out


def run_release(variables, play=None):
    """Run playbooks/canary.yml (or ``play``, a list of plays); return (exit code,
    [(task name, result)])."""
    with tempfile.TemporaryDirectory() as tmp:
        playbook = PLAYBOOK
        if play is not None:
            playbook = os.path.join(tmp, "play.yml")
            with open(playbook, "w") as fh:
                json.dump(play, fh)
        proc = subprocess.run(_command(variables, tmp, playbook), capture_output=True, text=True,
                              env=ansible_env(), cwd=ROOT, timeout=900, check=False)
    try:
        return proc.returncode, _tasks(proc.stdout)
    except ValueError:
        raise AssertionError("no JSON from ansible-playbook (exit %s):\n%s\n%s" % (
            proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))


def applied(tasks):
    """The weights each step task asked for, and whether it changed the route."""
    return [(r["weights"], r["changed"]) for name, r in tasks
            if name.startswith(SET_WEIGHTS) and "weights" in r]


def failure(tasks):
    return [r.get("msg") for _n, r in tasks if r.get("failed")]


STEPS = [{"web-c86": 90, "web-arm": 10}, {"web-c86": 50, "web-arm": 50}, {"web-c86": 0, "web-arm": 100}]


@pytest.mark.parametrize("provider", ["gateway", "istio", "nginx"])
def test_c86_to_arm_release_in_three_steps_then_promoted(canary_app, canary_images, provider):
    app = canary_app
    # Both Deployments run the multi-architecture index, as a real cross-architecture release.
    app.apply(app.deployment("web-c86", "c86", image=canary_images["multi"]),
              app.deployment("web-arm", "arm", image=canary_images["multi"]))
    app.wait_available("web-c86", "web-arm")
    rc, tasks = run_release(release_vars(app, canary_release_provider=provider,
                                         canary_release_verify_image=True,
                                         canary_release_registry_auth=canary_images["auth"]))
    assert rc == 0, failure(tasks)
    assert applied(tasks) == [(w, True) for w in STEPS]
    checks = [c for n, r in tasks if n.startswith(SET_WEIGHTS) for c in r.get("verify", [])]
    assert {(c["check"], c["ok"]) for c in checks} == {
        ("deployment", True), ("node_room", True), ("image_architecture", True)}
    assert app.stored_weights(provider) == {"web-c86": 0, "web-arm": 100}
    notes = app.annotations(provider)
    assert notes["xinchuang.cloud/canary-release"] == "web-c86->web-arm@10,50,100"
    assert notes["xinchuang.cloud/canary-state"] == "promoted"
    assert notes["xinchuang.cloud/canary-step"] == "3"
    # The canary's Pods run on the ARM node, the stable's on the C86 node.
    for name, node in (("web-arm", "kwok-arm-0"), ("web-c86", "kwok-c86-0")):
        pods = app.testbed.get_json("pods", "-n", app.namespace, "-l", "app=" + name)["items"]
        assert pods and {p["spec"]["nodeName"] for p in pods} == {node}
    # Running it again changes nothing: the release is promoted.
    rc, tasks = run_release(release_vars(app, canary_release_provider=provider,
                                         canary_release_verify_image=True,
                                         canary_release_registry_auth=canary_images["auth"]))
    assert rc == 0, failure(tasks)
    assert applied(tasks) == []
    assert not any(r.get("changed") for _n, r in tasks)


ERROR_RATIO = "xc_http_error_ratio"
QUERY = 'max(%s{app="web-arm"})' % ERROR_RATIO


def error_ratio_of(app):
    """The canary's error ratio as a real target reports it at each scrape: it follows the share
    of traffic the route gives the canary (fine at 10 %, failing from 50 %), read from the API
    server with the kubernetes client, apart from the module's code."""
    from kubernetes import client, config

    api = client.CustomObjectsApi(config.new_client_from_config(config_file=app.kubeconfig))

    def samples():
        route = api.get_namespaced_custom_object("gateway.networking.k8s.io", "v1", app.namespace,
                                                 "httproutes", "web")
        rule = [r for r in route["spec"]["rules"] if not r.get("name", "").startswith("xc-canary-ab-")][0]
        weights = dict((b["name"], b.get("weight", 1)) for b in rule["backendRefs"])
        share = weights.get("web-arm", 0) / float(sum(weights.values()) or 1)
        return [(ERROR_RATIO, {"app": "web-arm"}, 0.5 if share >= 0.5 else 0.01)]

    return samples


def test_failed_check_after_step_2_rolls_back_to_step_1(canary_app, prometheus):
    app = canary_app
    prom = prometheus(error_ratio_of(app))
    rc, tasks = run_release(release_vars(
        app, canary_release_prometheus_url=prom.url,
        canary_release_prometheus_query=QUERY,
        canary_release_prometheus_threshold=0.1,
        # Prometheus scrapes every second: the pause lets it see the step's weights.
        canary_release_pause_seconds=4))
    assert rc != 0
    assert applied(tasks) == [(STEPS[0], True), (STEPS[1], True)]
    rollback = [r for n, r in tasks if n.startswith(ROLLBACK)]
    assert rollback and rollback[0]["weights"] == STEPS[0] and rollback[0]["previous"] == STEPS[1]
    assert app.stored_weights("gateway") == STEPS[0]
    notes = app.annotations("gateway")
    assert notes["xinchuang.cloud/canary-state"] == "rolled-back"
    assert notes["xinchuang.cloud/canary-step"] == "1"
    msg = " ".join(m for m in failure(tasks) if m)
    assert "Step 2 (50% to web-arm) failed" in msg and "0.5" in msg
    # Prometheus answered the role's query once per check: after step 1 (0.01, passed) and
    # after step 2 (0.5, failed); the value came from the target's scrapes.
    assert prom.queries() == [QUERY, QUERY]
    passed = [r for n, r in tasks if n == "Canary release | Compare the query with the threshold"
              and not r.get("failed")]
    assert passed and passed[0]["msg"] == "%s = 0.01 (below 0.1)" % QUERY
    assert prom.target.scrapes >= 2


def test_unavailable_canary_deployment_fails_the_check_and_rolls_back(canary_app):
    app = canary_app
    # The canary's Pods ask for more than an ARM node has: its Deployment never becomes available.
    app.apply(app.deployment("web-arm", "arm", replicas=2, requests={"cpu": "40"}))
    rc, tasks = run_release(release_vars(app, canary_release_verify=False,
                                         canary_release_check_timeout=5))
    assert rc != 0
    assert applied(tasks) == [(STEPS[0], True)]
    assert app.stored_weights("gateway") == {"web-c86": 100, "web-arm": 0}


def test_verify_refuses_the_first_step_when_the_canary_cannot_run(canary_app):
    app = canary_app
    app.apply(app.deployment("web-arm", "arm", replicas=2, requests={"cpu": "40"}))
    rc, tasks = run_release(release_vars(app))
    assert rc != 0
    msg = " ".join(m for m in failure(tasks) if m)
    assert "not raising the weight of web-arm" in msg
    assert app.stored_weights("gateway") == {"web-c86": 100, "web-arm": 0}


def test_interrupted_release_resumes_at_the_step_it_reached(canary_app):
    app = canary_app
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(_command(release_vars(app, canary_release_pause_seconds=30), tmp),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=ansible_env(), cwd=ROOT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if app.annotations("gateway").get("xinchuang.cloud/canary-step") == "2":
                    break
                assert proc.poll() is None, "the release ended before step 2"
                time.sleep(0.5)
            else:
                raise AssertionError("step 2 never reached")
        finally:
            # The interruption: the controller dies during step 2's pause.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert app.stored_weights("gateway") == STEPS[1]
    assert app.annotations("gateway")["xinchuang.cloud/canary-state"] == "in-progress"

    rc, tasks = run_release(release_vars(app))
    assert rc == 0, failure(tasks)
    # Step 2 is applied again (no change) and checked, then step 3: step 1 is not repeated.
    assert applied(tasks) == [(STEPS[1], False), (STEPS[2], True)]
    starts = [r["msg"] for n, r in tasks if n == "Canary release | Say where the release starts"]
    assert "from step 2 of 3" in starts[0]
    assert app.annotations("gateway")["xinchuang.cloud/canary-state"] == "promoted"


def test_a_different_release_does_not_resume_an_old_one(canary_app):
    app = canary_app
    rc, tasks = run_release(release_vars(app, canary_release_steps=[20]))
    assert rc == 0, failure(tasks)
    assert applied(tasks) == [({"web-c86": 80, "web-arm": 20}, True), ({"web-c86": 0, "web-arm": 100}, True)]
    rc, tasks = run_release(release_vars(app, canary_release_steps=[10, 50, 100]))
    assert rc == 0, failure(tasks)
    assert [w for w, _c in applied(tasks)] == STEPS


def test_outside_the_release_window_nothing_starts(canary_app):
    app = canary_app
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now + datetime.timedelta(hours=2)).strftime("%H:%M")
    end = (now + datetime.timedelta(hours=3)).strftime("%H:%M")
    before = app.resource_version("gateway")
    rc, tasks = run_release(release_vars(app, canary_release_window_start=start,
                                         canary_release_window_end=end))
    assert rc != 0
    msg = " ".join(m for m in failure(tasks) if m)
    assert "Outside the release window" in msg and start in msg
    assert applied(tasks) == []
    assert app.resource_version("gateway") == before
    # Inside a window (one that spans now, crossing midnight if need be) it runs.
    start = (now - datetime.timedelta(hours=1)).strftime("%H:%M")
    end = (now + datetime.timedelta(hours=1)).strftime("%H:%M")
    rc, tasks = run_release(release_vars(app, canary_release_window_start=start,
                                         canary_release_window_end=end,
                                         canary_release_window_days=[now.strftime("%a")]))
    assert rc == 0, failure(tasks)


def test_named_backends_without_preset(canary_app):
    app = canary_app
    rc, tasks = run_release(release_vars(app, canary_release_preset="none",
                                         canary_release_stable_service="web-c86",
                                         canary_release_canary_service="web-arm",
                                         canary_release_steps=[50]))
    assert rc == 0, failure(tasks)
    assert [w for w, _c in applied(tasks)] == [{"web-c86": 50, "web-arm": 50}, {"web-c86": 0, "web-arm": 100}]


def test_preset_refuses_when_versions_differ(canary_app):
    app = canary_app
    dep = app.deployment("web-arm", "arm")
    dep["metadata"]["labels"]["app.kubernetes.io/version"] = "2.0.0"
    dep["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"] = "2.0.0"
    app.apply(dep)
    rc, tasks = run_release(release_vars(app))
    assert rc != 0
    msg = " ".join(m for m in failure(tasks) if m)
    assert "same app.kubernetes.io/version" in msg
    assert app.stored_weights("gateway") == {"web-c86": 1}


def test_two_releases_in_one_play_each_run_their_own_plan_and_window(canary_app):
    """The role twice in one play (two routes): what the first release records as facts (the
    step it started from) must not stand for the second's inputs (its release window)."""
    from tests.integration.fixtures_canary import routes

    app = canary_app
    app.apply(*[r for r in routes(app.namespace, route="web2") if r["kind"] == "HTTPRoute"])
    play = [{"name": "Two releases", "hosts": "localhost", "connection": "local",
             "gather_facts": False, "tasks": [
                 {"name": "Release %s" % route, "ansible.builtin.include_role": {
                     "name": "xinchuang.cloud.canary_release"},
                  "vars": {"canary_release_route": route, "canary_release_steps": steps}}
                 for route, steps in (("web", [50]), ("web2", [20, 100]))]}]
    # The route and the steps are each release's own: not extra vars, which would win over both.
    variables = dict((k, v) for k, v in release_vars(app).items()
                     if k not in ("canary_release_route", "canary_release_steps"))
    rc, tasks = run_release(variables, play=play)
    assert rc == 0, failure(tasks)
    assert [w for w, _c in applied(tasks)] == [
        {"web-c86": 50, "web-arm": 50}, {"web-c86": 0, "web-arm": 100},
        {"web-c86": 80, "web-arm": 20}, {"web-c86": 0, "web-arm": 100}]
    for route, release in (("web", "web-c86->web-arm@50"), ("web2", "web-c86->web-arm@20,100")):
        notes = app.annotations("gateway", route)
        assert notes["xinchuang.cloud/canary-release"] == release
        assert notes["xinchuang.cloud/canary-state"] == "promoted"
        assert app.stored_weights("gateway", route) == {"web-c86": 0, "web-arm": 100}
