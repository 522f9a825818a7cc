"""playbooks/deploy_app.yml on the testbed (a kube-apiserver built from upstream source, kwok's
C86 and ARM nodes): the application image as one Deployment per family pinned to its nodes,
the route on the Gateway with every request on C86, then the release to ARM through the
canary_release role (app_canary), promoted; run again, nothing changes. Bad settings stop the
run before anything is applied. The e2e test runs the same playbook on the lab's real nodes
(tests/e2e/test_cluster.py, the sample WAR)."""

import os
import uuid

import pytest

from tests.integration.ansible_run import ansible_playbook
from tests.integration.canary.test_canary_release import _tasks, applied, failure
from tests.integration.fixtures_canary import CanaryApp
from tests.integration.testbed.helpers import unique_namespace

STEPS = [{"web-c86": 90, "web-arm": 10}, {"web-c86": 50, "web-arm": 50}, {"web-c86": 0, "web-arm": 100}]


def deploy(app, canary_images, check=False, **extra):
    import sys

    variables = {
        "ansible_python_interpreter": sys.executable,
        "app_kubeconfig": app.kubeconfig,
        "app_image": canary_images["multi"],
        "app_families": ["c86", "arm"],
        "app_namespace": app.namespace,
        "app_gateway": True,
        "app_canary": True,
        "app_wait_timeout": 120,
        "canary_release_pause_seconds": 0,
        "canary_release_check_timeout": 60,
        "canary_release_registry_auth": canary_images["auth"],
    }
    variables.update(extra)
    report, proc = ansible_playbook(["-i", "localhost,", "-c", "local",
                                     os.path.join("playbooks", "deploy_app.yml")], check=check, extra_vars=variables)
    return proc.returncode, _tasks(proc.stdout), report


@pytest.fixture
def empty_app(testbed, canary_crds):
    """A fresh namespace of the testbed, read through canary_app's helpers; deploy_app.yml makes
    the objects."""
    namespace = unique_namespace(testbed, "deploy-app")
    yield CanaryApp(testbed, namespace)
    testbed.kubectl("delete", "namespace", namespace, "--wait=false")


def test_deploy_app_runs_each_family_on_its_nodes_and_releases_c86_to_arm(empty_app, canary_images):
    app = empty_app
    # Check mode first: it says what it would make, and makes nothing (no release either).
    rc, tasks, _report = deploy(app, canary_images, check=True, app_canary=False)
    assert rc == 0, failure(tasks)
    assert [name for name, result in tasks if result.get("changed")] == [
        "Deploy application | Per family its Deployment and Service",
        "Deploy application | Create its route on the Gateway, all traffic on the first family"]
    assert app.testbed.get_json("deployments,services", "-n", app.namespace)["items"] == []
    rc, tasks, _report = deploy(app, canary_images)
    assert rc == 0, failure(tasks)
    for name, node, goarch in (("web-c86", "kwok-c86-0", "amd64"), ("web-arm", "kwok-arm-0", "arm64")):
        deployment = app.get("deployment", name)
        assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/arch": goarch}
        assert deployment["status"].get("availableReplicas") == 1, deployment["status"]
        pods = app.testbed.get_json("pods", "-n", app.namespace, "-l", "app.kubernetes.io/instance=" + name)["items"]
        assert [p["spec"]["nodeName"] for p in pods] == [node]
        assert pods[0]["spec"]["containers"][0]["image"] == canary_images["multi"]
    route = app.route("gateway")
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "name": "xinchuang", "namespace": "xinchuang-gateway"}]
    # The release: three steps from C86 to ARM, promoted (canary_release with the cross_arch preset).
    assert applied(tasks) == [(w, True) for w in STEPS]
    assert app.stored_weights("gateway") == {"web-c86": 0, "web-arm": 100}
    assert app.annotations("gateway")["xinchuang.cloud/canary-state"] == "promoted"

    rc, tasks, _report = deploy(app, canary_images)
    assert rc == 0, failure(tasks)
    assert [name for name, result in tasks if result.get("changed")] == []
    assert applied(tasks) == []
    # The route was not made again: the release's weights stand.
    assert app.stored_weights("gateway") == {"web-c86": 0, "web-arm": 100}


def test_check_mode_on_a_namespace_not_there_yet_lists_what_a_run_makes(testbed, canary_crds, canary_images):
    # The API server refuses a dry run in a namespace that does not exist: check mode names the
    # objects a run makes there instead, and makes nothing, not even the namespace.
    app = CanaryApp(testbed, "deploy-app-new-" + uuid.uuid4().hex[:6])
    rc, tasks, _report = deploy(app, canary_images, check=True, app_canary=False)
    assert rc == 0, failure(tasks)
    changed = dict((name, result) for name, result in tasks if result.get("changed"))
    assert list(changed) == ["Deploy application | Its Namespace",
                             "Deploy application | What a run makes in the new namespace (check mode)"]
    msg = changed["Deploy application | What a run makes in the new namespace (check mode)"]["msg"]
    assert msg == ("namespace %s does not exist yet; a run makes in it Deployment/web-c86, Service/web-c86, "
                   "Deployment/web-arm, Service/web-arm, HTTPRoute/web" % app.namespace), msg
    proc = testbed.kubectl("get", "namespace", app.namespace)
    assert proc.returncode != 0 and "NotFound" in proc.stderr, proc.stdout


def test_bad_settings_stop_deploy_app_before_anything_is_applied(empty_app, canary_images):
    app = empty_app
    rc, tasks, _report = deploy(app, canary_images, app_port=70000, app_families=["c86"], app_path="hello")
    assert rc != 0
    assert len(tasks) == 1, [name for name, _r in tasks]
    msg = failure(tasks)[0]
    for part in ("app_port 70000", "app_gateway needs two or more families", "app_path 'hello'"):
        assert part in msg, msg
    assert app.testbed.get_json("deployments", "-n", app.namespace)["items"] == []
