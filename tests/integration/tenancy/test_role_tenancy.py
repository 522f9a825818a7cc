"""Role xinchuang.cloud.tenancy on the testbed's real API server: two projects converged once
(module fixture), then the isolation proved through the API server with the tenants' own
kubeconfigs (client certificates the controller-manager signed through the CSR API), the
quota and Pod Security refusing real creates, a rerun and a check-mode run changing nothing,
bad input refused before any change, and removal only of a project marked absent.

NetworkPolicies are checked as objects only: the testbed has no CNI to enforce them."""

import base64
import json
import os
import stat
import uuid

import pytest
import yaml

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.tenancy import tenancy as tn
from tests.integration.ansible_run import run_tasks, run_verbose

SUFFIX = uuid.uuid4().hex[:5]
ALPHA = "tn-alpha-" + SUFFIX
BETA = "tn-beta-" + SUFFIX
RESTRICTED_POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def projects():
    return [
        {"name": ALPHA, "families": ["c86", "arm"],
         "members": [{"name": ALPHA + "-devs", "kind": "Group", "role": "developer"}],
         "kubeconfigs": [{"user": ALPHA + "-dev", "groups": [ALPHA + "-devs"]}],
         "quotas": {"arm": {"hard": {"requests.cpu": "1", "pods": "5"},
                            "default": {"cpu": "200m", "memory": "64Mi"},
                            "default_request": {"cpu": "100m", "memory": "32Mi"}}},
         "shared_services": [{"name": "api", "namespace": BETA, "selector": {"app": "api"},
                              "ports": [{"port": 8080}]}]},
        {"name": BETA, "families": ["loongarch"],
         "members": [{"name": BETA + "-lead", "kind": "User", "role": "admin"}]},
    ]


def role_vars(testbed, kubeconfig_dir, project_list, **extra):
    extra_vars = {"tenancy_projects": project_list, "tenancy_kubeconfig": testbed.kubeconfig,
                  "tenancy_kubectl": testbed.kubectl_path, "tenancy_kubeconfig_dir": kubeconfig_dir,
                  "tenancy_kubeconfig_valid_days": 2, "tenancy_kubeconfig_renew_days": 1}
    extra_vars.update(extra)
    return extra_vars


ROLE_TASK = {"name": "role under test", "ansible.builtin.include_role": {"name": "xinchuang.cloud.tenancy"}}


def run_role(testbed, kubeconfig_dir, project_list, check=False, diff=False, **extra):
    return run_tasks([ROLE_TASK], check=check, diff=diff,
                     extra_vars=role_vars(testbed, kubeconfig_dir, project_list, **extra))


def failed(results):
    return [r for r in results if r.get("failed")]


def changed(results):
    return [r for r in results if r.get("changed")]


@pytest.fixture(scope="module")
def converged(testbed, tmp_path_factory, request):
    kubeconfig_dir = str(tmp_path_factory.mktemp("tenants"))

    def clean_up():
        testbed.kubectl("delete", "namespace", ALPHA, BETA, "--wait=false", "--ignore-not-found")
        testbed.kubectl("delete", "csr", "-l", "%s in (%s,%s)" % (tn.PROJECT_LABEL, ALPHA, BETA), "--ignore-not-found")

    request.addfinalizer(clean_up)  # also when converging fails half-way
    # -vvv with --diff and Ansible's own output: the run that makes the keys could print them.
    proc = run_verbose([ROLE_TASK], role_vars(testbed, kubeconfig_dir, projects()), timeout=600)
    assert proc.returncode == 0 and "failed=0" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "changed=0" not in proc.stdout
    output = proc.stdout + proc.stderr
    keys = []
    for name in os.listdir(kubeconfig_dir):
        with open(os.path.join(kubeconfig_dir, name)) as fh:
            data = yaml.safe_load(fh)["users"][0]["user"]["client-key-data"]
        pem = base64.b64decode(data).decode()
        keys.append(data)
        keys.extend(line for line in pem.splitlines() if line and not line.startswith("-----"))
    assert len(keys) >= 4
    leaked = [k for k in keys if k in output]
    assert leaked == [], "a tenant's private key is in the Ansible output"
    assert "PRIVATE KEY-----" not in output
    return kubeconfig_dir


def tenant(converged, name):
    return os.path.join(converged, name + ".kubeconfig")


def test_tenant_kubeconfigs_are_private_and_name_user_groups_and_namespace(converged):
    path = tenant(converged, ALPHA + "-" + ALPHA + "-dev")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(converged).st_mode) == 0o700
    with open(path) as fh:
        config = yaml.safe_load(fh)
    assert config["contexts"][0]["context"]["namespace"] == ALPHA
    cert = tn._b64_text(config["users"][0]["user"]["client-certificate-data"])
    assert tn.certificate_subject(cert) == {"cn": ALPHA + "-dev", "groups": [ALPHA + "-devs"]}
    # The User member of beta got one by default; no signing request is left behind.
    assert os.path.exists(tenant(converged, BETA + "-" + BETA + "-lead"))


def test_a_tenant_is_allowed_in_its_namespace_and_forbidden_in_the_other(testbed, converged):
    alpha = tenant(converged, ALPHA + "-" + ALPHA + "-dev")
    assert testbed.kubectl("auth", "can-i", "create", "configmaps", "-n", ALPHA, kubeconfig=alpha).stdout.strip() == "yes"
    assert testbed.kubectl("auth", "can-i", "get", "pods", "-n", BETA, kubeconfig=alpha).stdout.strip() == "no"
    # The developer role is edit: it cannot grant itself more.
    assert testbed.kubectl("auth", "can-i", "create", "rolebindings", "-n", ALPHA, kubeconfig=alpha).stdout.strip() == "no"
    ok = testbed.kubectl("create", "configmap", "mine", "-n", ALPHA, kubeconfig=alpha)
    assert ok.returncode == 0, ok.stderr
    refused = testbed.kubectl("create", "configmap", "theirs", "-n", BETA, kubeconfig=alpha)
    assert refused.returncode != 0 and "configmaps is forbidden" in refused.stderr, refused.stderr
    assert ('User "%s-dev" cannot create resource "configmaps"' % ALPHA) in refused.stderr
    lead = tenant(converged, BETA + "-" + BETA + "-lead")
    assert testbed.kubectl("auth", "can-i", "create", "rolebindings", "-n", BETA, kubeconfig=lead).stdout.strip() == "yes"
    assert testbed.kubectl("auth", "can-i", "list", "secrets", "-n", ALPHA, kubeconfig=lead).stdout.strip() == "no"


def pod(name, namespace, cpu=None, privileged=False):
    container = {"name": "app", "image": "registry.invalid/app:1",
                 "securityContext": {"privileged": True} if privileged else dict(RESTRICTED_CONTAINER)}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}
    spec = {"containers": [container]}
    if not privileged:
        spec["securityContext"] = dict(RESTRICTED_POD_SECURITY)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def create(testbed, obj, **kw):
    return testbed.kubectl("create", "-f", "-", input=json.dumps(obj), **kw)


def test_the_quota_refuses_an_oversized_pod_and_takes_a_small_one(testbed, converged):
    alpha = tenant(converged, ALPHA + "-" + ALPHA + "-dev")
    refused = create(testbed, pod("big", ALPHA, cpu="2"), kubeconfig=alpha)
    assert refused.returncode != 0
    assert "exceeded quota: arch-arm" in refused.stderr and "requests.cpu=2" in refused.stderr, refused.stderr
    small = create(testbed, pod("small", ALPHA), kubeconfig=alpha)
    assert small.returncode == 0, small.stderr
    made = testbed.get_json("pod", "small", "-n", ALPHA)
    # The LimitRange of the family filled in the defaults.
    assert made["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "32Mi"}


def test_pod_security_refuses_a_privileged_pod_even_for_the_admin(testbed, converged):
    refused = create(testbed, pod("root", BETA, privileged=True))
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr and "privileged" in refused.stderr


def test_objects_on_the_server_are_the_rendered_ones(testbed, converged):
    rendered = tn.project_objects(projects())
    ns = testbed.get_json("namespace", ALPHA)["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns[tn.FAMILIES_LABEL] == "c86.arm" and ns[tn.PROJECT_LABEL] == ALPHA
    for namespace in (ALPHA, BETA):
        live = dict((p["metadata"]["name"], p["spec"])
                    for p in testbed.get_json("networkpolicy", "-n", namespace)["items"])
        want = dict((o["metadata"]["name"], o["spec"]) for o in rendered
                    if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == namespace)
        assert live == want
    bindings = testbed.get_json("rolebinding", "tenancy-developer", "-n", ALPHA)
    assert bindings["roleRef"]["name"] == "edit"
    assert bindings["subjects"] == [{"kind": "Group", "name": ALPHA + "-devs", "apiGroup": "rbac.authorization.k8s.io"}]


def test_a_rerun_changes_nothing_and_keeps_the_certificates(testbed, converged):
    path = tenant(converged, ALPHA + "-" + ALPHA + "-dev")
    with open(path) as fh:
        before = fh.read()
    results = run_role(testbed, converged, projects())
    assert not failed(results), json.dumps(failed(results))[-3000:]
    assert changed(results) == []
    with open(path) as fh:
        assert fh.read() == before


def test_check_mode_reports_changes_and_writes_nothing(testbed, converged):
    wanted = projects()
    wanted[0]["quotas"]["arm"]["hard"]["pods"] = "7"
    wanted[1]["kubeconfigs"] = [{"user": BETA + "-new"}]
    fresh = "tn-fresh-" + SUFFIX
    wanted.append({"name": fresh, "members": [{"name": "u", "kind": "User", "role": "admin"}],
                   "quotas": {"arm": {"hard": {"pods": "3"}}}})
    results = run_role(testbed, converged, wanted, check=True, diff=True)
    assert not failed(results), json.dumps(failed(results))[-3000:]
    assert changed(results)
    assert testbed.get_json("resourcequota", "arch-arm", "-n", ALPHA)["spec"]["hard"]["pods"] == "5"
    assert not os.path.exists(tenant(converged, BETA + "-" + BETA + "-new"))
    assert testbed.kubectl("get", "namespace", fresh).returncode != 0
    assert any("would be created in the new namespace(s) %s" % fresh in str(r.get("msg")) for r in results)


def test_bad_input_fails_before_any_change_naming_each_value(testbed, converged):
    gamma = "tn-gamma-" + SUFFIX
    bad = projects() + [{"name": gamma, "families": ["powerpc"], "pod_security": "privileged",
                         "members": [{"name": "x", "kind": "Group", "role": "owner"}]}]
    results = run_role(testbed, converged, bad)
    text = json.dumps(failed(results))
    assert failed(results)
    for words in ("'powerpc'", "privileged is not offered", "role 'owner'", "nothing was changed"):
        assert words in text
    assert testbed.kubectl("get", "namespace", gamma).returncode != 0


def test_only_a_project_marked_absent_loses_its_objects(testbed, converged):
    # alpha is dropped from the list: it keeps everything. beta is marked absent.
    gone = dict(projects()[1], state="absent", delete_namespace=True)
    results = run_role(testbed, converged, [gone])
    assert not failed(results), json.dumps(failed(results))[-3000:]
    assert testbed.get_json("networkpolicy", "-n", ALPHA)["items"]
    assert testbed.get_json("rolebinding", "tenancy-developer", "-n", ALPHA)
    assert testbed.get_json("networkpolicy", "-n", BETA)["items"] == []
    assert testbed.get_json("rolebinding", "-n", BETA)["items"] == []
    phase = testbed.kubectl("get", "namespace", BETA, "-o", "jsonpath={.status.phase}")
    assert phase.returncode != 0 or phase.stdout == "Terminating"
    assert not os.path.exists(tenant(converged, BETA + "-" + BETA + "-lead"))
