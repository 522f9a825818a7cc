"""The tenancy rules of xinchuang.cloud.tenancy: projects checked with the fix named, the
objects each project gets (namespace labels, RoleBindings, the autoscaling role's per-family
quota shape, NetworkPolicies), what is deleted and when, and the tenants' kubeconfigs."""

import base64
import datetime
import os

import pytest
import yaml

from tests import paths
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.tenancy import tenancy as tn
from hack import pki

ROOT = paths.ROOT

TEAM_A = {
    "name": "team-a",
    "members": [{"name": "team-a-developers", "kind": "Group", "role": "developer"},
                {"name": "alice", "kind": "User", "role": "admin"}],
    "families": ["c86", "arm64"],
    "quotas": {"arm": {"hard": {"requests.cpu": "8", "pods": "40"},
                       "default": {"cpu": "500m", "memory": "256Mi"},
                       "default_request": {"cpu": "250m", "memory": "128Mi"}},
               "x86_64": {"hard": {"pods": "10"}}},
}
TEAM_B = {"name": "team-b", "groups": {"viewer": ["auditors"], "developer": ["team-b-dev"]},
          "families": ["loongarch"]}


def objects(projects=(TEAM_A, TEAM_B), **kw):
    return tn.project_objects(list(projects), **kw)


def by(objs, kind, namespace=None, name=None):
    return [o for o in objs if o["kind"] == kind
            and (namespace is None or o["metadata"].get("namespace") == namespace)
            and (name is None or o["metadata"]["name"] == name)]


def test_good_projects_have_no_problem():
    assert tn.project_problems([TEAM_A, TEAM_B]) == []


@pytest.mark.parametrize("project, words", [
    (dict(TEAM_A, families=["c86", "arm64", "powerpc"]), ["team-a", "families", "'powerpc'", "c86, arm, loongarch"]),
    (dict(TEAM_A, members=[{"name": "ops", "kind": "Group", "role": "owner"}]),
     ["team-a", "member ops", "role 'owner'", "admin, developer, viewer"]),
    (dict(TEAM_A, members=[{"name": "ops", "kind": "Robot", "role": "admin"}]), ["kind 'Robot'", "User or Group"]),
    (dict(TEAM_A, pod_security="baseline"), ["team-a", "pod_security baseline", "pod_security_reason"]),
    (dict(TEAM_A, pod_security="privileged"), ["team-a", "privileged is not offered", "restricted"]),
    (dict(TEAM_A, pod_security="strict"), ["pod_security 'strict'"]),
    (dict(TEAM_A, namespace="kube-system"), ["'kube-system' belongs to Kubernetes"]),
    (dict(TEAM_A, namespace="Team_A"), ["namespace 'Team_A'", "DNS label"]),
    (dict(TEAM_A, quotas={"mips": {"hard": {"pods": "1"}}}), ["quotas", "mips is not one of the project's families"]),
    (dict(TEAM_A, quotas={"arm": {"hard": {"pods": "1"}, "maximum": {}}}), ["quotas.arm", "unknown field(s) maximum"]),
    (dict(TEAM_A, quotas={"ppc": {"hard": {"pods": "1"}}}), ["quotas: unknown CPU family 'ppc'"]),
    (dict(TEAM_A, kubeconfigs=[{"user": "eve", "groups": ["system:masters"]}]), ["system:masters", "cluster admin"]),
    (dict(TEAM_A, members=[{"name": "system:authenticated", "kind": "Group", "role": "viewer"}]),
     ["member system:authenticated", "Kubernetes' own"]),
    (dict(TEAM_A, shared_services=[{"name": "Cache", "namespace": "shared"}]), ["shared_services[0]", "'Cache'"]),
    (dict(TEAM_A, shared_services=[{"name": "c", "namespace": "s", "ports": [{"port": "80"}]}]), ["port {'port': '80'}"]),
    (dict(TEAM_A, colour="red"), ["unknown field(s) colour"]),
    (dict(TEAM_A, delete_namespace=True), ["delete_namespace", "state: absent"]),
    (dict(TEAM_A, state="gone"), ["state 'gone'"]),
])
def test_bad_projects_are_named_with_the_field_and_the_fix(project, words):
    problems = tn.project_problems([project])
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0], problems


def test_two_projects_on_one_namespace_are_refused_naming_both():
    problems = tn.project_problems([TEAM_A, dict(TEAM_B, namespace="team-a")])
    assert problems == ["tenancy_projects team-b: namespace 'team-a' is already the namespace of project "
                        "team-a; give each project its own namespace"]


def test_every_problem_is_reported_at_once_and_objects_refuse_them():
    bad = [dict(TEAM_A, pod_security="privileged", families=["c86", "arm", "vax"]), dict(TEAM_B, namespace="team-a")]
    assert len(tn.project_problems(bad)) == 3
    with pytest.raises(tn.TenancyError) as err:
        objects(bad)
    assert "privileged" in str(err.value) and "'vax'" in str(err.value) and "team-b" in str(err.value)


def test_namespace_carries_project_families_and_restricted_pod_security():
    ns = by(objects(), "Namespace", name="team-a")[0]
    labels = ns["metadata"]["labels"]
    assert labels[tn.PROJECT_LABEL] == "team-a"
    assert labels[tn.FAMILIES_LABEL] == "c86.arm"
    assert labels["arm.xinchuang.cloud/allowed"] == "true" and "mips.xinchuang.cloud/allowed" not in labels
    for mode in ("enforce", "audit", "warn"):
        assert labels["pod-security.kubernetes.io/" + mode] == "restricted"
    assert "annotations" not in ns["metadata"]


def test_baseline_is_written_with_its_reason():
    project = dict(TEAM_B, pod_security="baseline", pod_security_reason="legacy image runs as root")
    ns = by(objects([project]), "Namespace")[0]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert ns["metadata"]["annotations"][tn.REASON_ANNOTATION] == "legacy image runs as root"


def test_a_project_without_families_may_run_on_all_five():
    ns = by(objects([{"name": "open"}]), "Namespace")[0]
    assert ns["metadata"]["labels"][tn.FAMILIES_LABEL] == "c86.arm.loongarch.sw64.mips"


def test_namespaces_come_before_what_lives_in_them():
    kinds = [o["kind"] for o in objects()]
    assert kinds[:2] == ["Namespace", "Namespace"] and "Namespace" not in kinds[2:]


def test_one_role_binding_per_role_to_the_cluster_roles():
    objs = objects()
    a = dict((o["metadata"]["name"], o) for o in by(objs, "RoleBinding", "team-a"))
    assert sorted(a) == ["tenancy-admin", "tenancy-developer"]
    assert a["tenancy-admin"]["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                             "name": "admin"}
    assert a["tenancy-admin"]["subjects"] == [{"kind": "User", "name": "alice",
                                               "apiGroup": "rbac.authorization.k8s.io"}]
    assert a["tenancy-developer"]["roleRef"]["name"] == "edit"
    b = dict((o["metadata"]["name"], o) for o in by(objs, "RoleBinding", "team-b"))
    assert b["tenancy-viewer"]["roleRef"]["name"] == "view"
    assert b["tenancy-viewer"]["subjects"][0]["name"] == "auditors"


def test_own_cluster_roles_replace_the_builtin_ones():
    roles = {"admin": "tenant-admin", "developer": "tenant-dev", "viewer": "view", "auditor": "audit"}
    project = dict(TEAM_B, groups={"auditor": ["sec"]})
    binding = by(objects([project], cluster_roles=roles), "RoleBinding")[0]
    assert binding["metadata"]["name"] == "tenancy-auditor" and binding["roleRef"]["name"] == "audit"
    assert "role 'auditor'" in tn.project_problems([project])[0]


def test_quotas_have_the_autoscaling_roles_shape():
    objs = objects()
    quotas = by(objs, "ResourceQuota", "team-a")
    assert sorted(q["metadata"]["name"] for q in quotas) == ["arch-arm", "arch-c86"]
    arm = by(objs, "ResourceQuota", "team-a", "arch-arm")[0]
    assert arm["spec"] == {"hard": {"requests.cpu": "8", "pods": "40"}}
    assert arm["metadata"]["labels"]["xinchuang.cloud/arch-family"] == "arm"
    limits = by(objs, "LimitRange", "team-a")
    assert [lr["metadata"]["name"] for lr in limits] == ["arch-arm"]  # c86 gives no limits
    assert limits[0]["spec"]["limits"] == [{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                                            "defaultRequest": {"cpu": "250m", "memory": "128Mi"}}]


def test_the_autoscaling_role_asks_the_one_quota_shape_through_the_filter():
    """The autoscaling role writes no ResourceQuota or LimitRange of its own (issue 34: a Jinja
    copy of the shape had drifted only a test away): its task takes family_quota_objects'."""
    with open(os.path.join(ROOT, "roles", "autoscaling", "tasks", "configure.yml")) as fh:
        text = fh.read()
    assert "xinchuang.cloud.family_quota_objects" in text
    assert "kind: ResourceQuota" not in text and "kind: LimitRange" not in text


def test_family_quota_objects_per_entry_and_namespace_in_the_projects_shape():
    quotas = [{"family": "arm64", "namespaces": ["a", "b"], "hard": {"pods": "4"}}]
    limits = [{"family": "mips64el", "namespaces": ["a"], "max": {"cpu": "1"}},
              {"family": "c86", "namespaces": ["a"]}]  # gives no limit: no LimitRange
    objs = tn.family_quota_objects(quotas, limits, prefix="as", managed_by="xinchuang.cloud.autoscaling")
    assert [(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in objs] == [
        ("ResourceQuota", "a", "as-arm"), ("ResourceQuota", "b", "as-arm"), ("LimitRange", "a", "as-mips")]
    assert objs[0] == dict(tn.family_resource_quota("arm", "a", {"pods": "4"}, "as", "xinchuang.cloud.autoscaling"))
    assert objs[0]["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "xinchuang.cloud.autoscaling",
                                             "xinchuang.cloud/arch-family": "arm"}
    assert objs[2]["spec"] == {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}


def test_network_policies_deny_by_default_and_allow_project_dns_and_shared_services():
    shared = {"name": "team-b-api", "namespace": "team-b", "selector": {"app": "api"},
              "ports": [{"port": 8080}]}
    objs = objects([dict(TEAM_A, shared_services=[shared]), TEAM_B])
    pols = dict((p["metadata"]["name"], p["spec"]) for p in by(objs, "NetworkPolicy", "team-a"))
    assert sorted(pols) == ["allow-dns", "allow-shared-team-b-api", "allow-within-project", "default-deny"]
    assert pols["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert pols["allow-within-project"]["ingress"] == [{"from": [{"podSelector": {}}]}]
    dns = pols["allow-dns"]["egress"][0]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    egress = pols["allow-shared-team-b-api"]["egress"][0]
    assert egress["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert egress["to"][0]["podSelector"]["matchLabels"] == {"app": "api"}
    # team-b denies by default: the shared service is opened there to team-a only.
    opened = by(objs, "NetworkPolicy", "team-b", "allow-from-team-a-team-b-api")[0]["spec"]
    assert opened["podSelector"] == {"matchLabels": {"app": "api"}}
    assert opened["ingress"][0]["from"] == [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "team-a"}}}]
    assert len(by(objs, "NetworkPolicy", "team-b")) == 4


def test_absent_projects_get_no_objects_and_keep_their_namespace_unless_asked():
    gone = dict(TEAM_B, state="absent")
    assert by(objects([TEAM_A, gone]), "Namespace", name="team-b") == []
    assert tn.removed_objects([TEAM_A, gone]) == [
        {"project": "team-b", "namespace": "team-b", "delete_namespace": False, "kubeconfigs": []}]
    assert tn.removed_objects([dict(gone, delete_namespace=True)])[0]["delete_namespace"] is True


def _made(kind, namespace, name, project):
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace, "labels": {
        tn.MANAGED_BY_LABEL: tn.MANAGED_BY, tn.PROJECT_LABEL: project}}}


def test_stale_objects_only_of_listed_projects_and_of_absent_ones():
    desired = objects([TEAM_A])
    existing = [_made("ResourceQuota", "team-a", "arch-arm", "team-a"),
                _made("ResourceQuota", "team-a", "arch-mips", "team-a"),       # family dropped
                _made("RoleBinding", "team-c", "tenancy-admin", "team-c"),     # project not listed
                _made("NetworkPolicy", "team-d", "default-deny", "team-d"),    # project absent
                dict(_made("RoleBinding", "team-a", "by-hand", "team-a"),
                     metadata={"name": "by-hand", "namespace": "team-a", "labels": {}})]
    stale = tn.stale_objects(existing, desired, [{"project": "team-d"}])
    assert [(r["metadata"]["namespace"], r["metadata"]["name"]) for r in stale] == [
        ("team-a", "arch-mips"), ("team-d", "default-deny")]
    assert stale[0] == {"apiVersion": "v1", "kind": "ResourceQuota",
                        "metadata": {"name": "arch-mips", "namespace": "team-a"}}


def test_a_namespace_of_another_project_is_a_clash():
    labels = {tn.MANAGED_BY_LABEL: tn.MANAGED_BY, tn.PROJECT_LABEL: "old-team"}
    existing = [{"metadata": {"name": "team-a", "labels": labels}}]
    assert "belongs to project old-team" in tn.namespace_clashes(existing, [TEAM_A])[0]
    assert tn.namespace_clashes(existing, [dict(TEAM_A, name="old-team", namespace="team-a")]) == []


def test_kubeconfigs_default_to_user_members_and_carry_groups_as_organisations():
    reqs = tn.kubeconfig_requests([TEAM_A, dict(TEAM_B, kubeconfigs=[{"user": "Bob.B", "groups": ["z", "a"]}])])
    assert [(r["name"], r["user"], r["groups"]) for r in reqs] == [
        ("team-a-alice", "alice", []), ("team-b-bob.b", "Bob.B", ["a", "z"])]
    assert reqs[1]["subject"] == [{"CN": "Bob.B"}, {"O": "a"}, {"O": "z"}]
    assert reqs[1]["namespace"] == "team-b"


def test_csrs_ask_the_client_signer_for_the_days_given():
    requests = [{"name": "team-a-alice", "project": "team-a"}, {"name": "team-a-bob", "project": "team-a"}]
    pems = ["-----BEGIN CERTIFICATE REQUEST-----\nA\n", {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nB\n"}]
    csrs = tn.csr_objects(requests, pems, 2)
    assert [c["metadata"]["name"] for c in csrs] == ["tenancy-team-a-alice", "tenancy-team-a-bob"]
    assert csrs[0]["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client"
    assert csrs[0]["spec"]["expirationSeconds"] == 2 * 86400
    assert "client auth" in csrs[0]["spec"]["usages"]
    assert base64.b64decode(csrs[1]["spec"]["request"]).endswith(b"B\n")
    with pytest.raises(tn.TenancyError, match="tenancy_kubeconfig_valid_days 0"):
        tn.csr_objects(requests, pems, 0)
    with pytest.raises(tn.TenancyError, match="1 signing request"):
        tn.csr_objects(requests, pems[:1], 2)


def test_signed_certificates_follow_the_requests_and_wait_for_the_signer():
    requests = [{"name": "a"}, {"name": "b"}]
    read = [{"metadata": {"name": "tenancy-b"}, "status": {"certificate": "Qg=="}},
            {"metadata": {"name": "tenancy-a"}, "status": {}}]
    assert tn.signed_certificates(requests, read) == ["", "Qg=="]


@pytest.fixture(scope="module")
def issued():
    """A CA, as the cluster's signer holds it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = pki.new_key()
    return now, ca_key, pki.build_ca(ca_key, "test-ca", now=now)


def _kubeconfig(issued, user="alice", group="devs", server="https://api:6443", days=30):
    now, ca_key, ca_cert = issued
    key = pki.new_key()
    cert = pki.build_cert(key, ca_cert, ca_key, user, org=group, usage="client", days=days, now=now)
    request = {"user": user, "groups": [group], "namespace": "team-a"}
    config = tn.tenant_kubeconfig(request, server, "lab", pki.pem(ca_cert).decode(), pki.pem(cert).decode(),
                                  pki.pem(key).decode())
    return yaml.safe_dump(config), base64.b64encode(pki.pem(ca_cert)).decode()


def test_a_good_kubeconfig_is_kept_and_each_change_issues_again(issued):
    text, ca = _kubeconfig(issued)
    request = {"user": "alice", "groups": ["devs"]}
    slurped = base64.b64encode(text.encode()).decode()
    assert tn.kubeconfig_stale(slurped, request, "https://api:6443", ca, 7) == ""
    assert tn.kubeconfig_stale("", request, "https://api:6443", ca, 7) == "no kubeconfig yet"
    assert tn.kubeconfig_stale(text, request, "https://other:6443", ca, 7) == "the API server changed"
    assert "not alice ['ops']" in tn.kubeconfig_stale(text, dict(request, groups=["ops"]), "https://api:6443", ca, 7)
    assert tn.kubeconfig_stale(text, request, "https://api:6443", ca, 40).startswith("the certificate ends in")
    other_ca = base64.b64encode(pki.pem(pki.build_ca(pki.new_key(), "other"))).decode()
    assert tn.kubeconfig_stale(text, request, "https://api:6443", other_ca, 7) == "the cluster CA changed"
    config = yaml.safe_load(text)
    assert config["contexts"][0]["context"]["namespace"] == "team-a"
    assert config["users"][0]["name"] == "alice"


def test_admin_cluster_takes_server_and_embedded_ca_or_the_overrides(issued):
    text, ca = _kubeconfig(issued)
    assert tn.admin_cluster(text) == {"server": "https://api:6443", "ca": ca, "name": "lab"}
    pem = base64.b64decode(ca).decode()
    assert tn.admin_cluster(text, "https://public:6443", pem)["server"] == "https://public:6443"
    by_file = yaml.safe_load(text)
    by_file["clusters"][0]["cluster"] = {"server": "https://api:6443", "certificate-authority": "/etc/ca.crt"}
    with pytest.raises(tn.TenancyError, match="tenancy_api_ca"):
        tn.admin_cluster(yaml.safe_dump(by_file))
    assert tn.admin_cluster(yaml.safe_dump(by_file), ca=pem)["ca"] == ca
