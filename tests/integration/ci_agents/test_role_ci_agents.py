"""Role xinchuang.cloud.ci_agents on the test bed's real API server, controllers and scheduler
(the nodes are kwok's, one per CPU family), with the session's registry holding stand-in indexes
of the agent image (kwok never pulls one).

Jenkins inbound agents for all five families are converged once (module fixture, with -vvv and
--diff): each family's Pod is scheduled on that family's node and its cache bound there, the
credentials are read from files (never in the output, the command line or the environment), a
rerun and a check-mode run change nothing, a new secret rolls that family's agent alone. Bad
input and an image without a family's platform are refused before anything is made. GitLab
runners: the config.toml the Secret holds is checked against the runner's own configuration
structs, read from its upstream source (the runner itself cannot be built here: docs/roles/ci_agents.md).

What runs in the Pods (agent.jar, gitlab-runner) cannot be obtained here, so nothing connects to
a server: these are the manifests as the API server accepts and schedules them.
"""

import base64
import json
import os
import re
import sys
import tomllib
import uuid

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.ci_agents import ci_agents as ca
from tests.integration import go_modules
from tests.integration.ansible_run import run_playbook, run_verbose
from tests.integration.fixtures_registry import make_image, push_index
from tests.integration.fixtures_testbed import local_site

pytestmark = pytest.mark.slow

FAMILIES = [f.family for f in arch.FAMILIES]
REPOSITORY = "ci/agent"
# The runner's module as the Go module proxy serves it (its main branch: tags are refused).
RUNNER_MODULE = "gitlab.com/gitlab-org/gitlab-runner"
RUNNER_VERSION = "v1.11.1-0.20260903214710-fc1f1862bd91"
MAVEN_PASSWORD = "mvn-" + uuid.uuid4().hex


def node_of(family):
    return "kwok-%s-0" % family


@pytest.fixture(scope="module")
def images(registry):
    """Stand-in indexes: one serving every family, one serving c86 and arm only."""
    client = registry.client()
    push_index(client, REPOSITORY, "all", [make_image(arch.platform_dict(f), content="agent %s\n" % f) for f in FAMILIES])
    push_index(client, REPOSITORY, "two", [make_image(arch.platform_dict(f), content="agent %s\n" % f)
                                           for f in ("c86", "arm")])
    return registry


def secrets():
    return dict((family, uuid.uuid4().hex + uuid.uuid4().hex) for family in FAMILIES)


def role_vars(testbed, registry, site, settings_file, **extra):
    out = {"ci_agents_kind": "jenkins", "ci_agents_families": FAMILIES, "ci_agents_namespace": site["namespace"],
           "ci_agents_image": "%s/%s:all" % (registry.host, REPOSITORY),
           "ci_agents_jenkins_url": "https://jenkins.ci.test:8443/jenkins",
           "ci_agents_ca_file": registry.ca, "ci_agents_maven_settings_file": settings_file,
           "ci_agents_cache_storage_class": site["class"], "ci_agents_cache_size": "1Gi",
           "ci_agents_cpu": "50m", "ci_agents_memory": "128Mi",
           "ci_agents_registry": {"ca_file": registry.ca, "username": registry.username, "password": registry.password},
           "ci_agents_kubeconfig": testbed.kubeconfig, "ci_agents_wait_timeout": 120,
           "ansible_python_interpreter": sys.executable}
    out.update(extra)
    return out


ROLE_TASK = {"name": "role under test", "ansible.builtin.include_role": {"name": "xinchuang.cloud.ci_agents"}}


def run_role(extra_vars, check=False):
    """(stats, failure messages) of one run of the role."""
    report, _proc = run_playbook([ROLE_TASK], check=check, extra_vars=extra_vars)
    results = [t["hosts"].get("localhost", {}) for t in report["plays"][0]["tasks"]]
    return report["stats"]["localhost"], [r.get("msg") for r in results if r.get("failed")]


def get(testbed, *args):
    proc = testbed.kubectl("get", "-o", "json", *args)
    return None if proc.returncode else json.loads(proc.stdout)


@pytest.fixture(scope="module")
def settings_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("maven") / "settings.xml"
    path.write_text("<settings><servers><server><id>site</id><username>ci</username><password>%s</password>"
                    "</server></servers></settings>\n" % MAVEN_PASSWORD)
    return str(path)


@pytest.fixture(scope="module")
def converged(testbed, images, settings_file):
    """Jenkins agents of every family, converged once with -vvv --diff: (vars, secrets, output)."""
    with local_site(testbed, "ci", [node_of(f) for f in FAMILIES], capacity="2Gi") as site:
        given = secrets()
        extra_vars = role_vars(testbed, images, site, settings_file, ci_agents_jenkins_secrets=given)
        proc = run_verbose([ROLE_TASK], extra_vars)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0 and "failed=0" in proc.stdout, output[-4000:]
        yield {"vars": extra_vars, "secrets": given, "output": output, "namespace": site["namespace"], "site": site}


def test_each_familys_agent_runs_on_its_own_nodes_with_its_label(testbed, converged):
    namespace = converged["namespace"]
    for family in FAMILIES:
        name = "ci-agent-" + family
        deployment = get(testbed, "deployment", "-n", namespace, name)
        template = deployment["spec"]["template"]
        assert template["spec"]["nodeSelector"] == {"kubernetes.io/arch": arch.lookup(family).oci_arch}
        assert template["metadata"]["labels"][ca.CI_LABEL] == "arch-" + family
        assert deployment["status"].get("availableReplicas") == 1, deployment["status"]
        (pod,) = get(testbed, "pods", "-n", namespace, "-l", "app.kubernetes.io/instance=" + name)["items"]
        assert pod["spec"]["nodeName"] == node_of(family)
        node = get(testbed, "node", node_of(family))
        assert node["metadata"]["labels"]["kubernetes.io/arch"] == arch.lookup(family).oci_arch
        # The cache is bound on the family's node (a local PV there, WaitForFirstConsumer).
        claim = get(testbed, "pvc", "-n", namespace, name + "-cache")
        assert claim["status"]["phase"] == "Bound"
        assert claim["spec"]["volumeName"] == converged["site"]["pvs"][node_of(family)]
    # What the server needs is printed: the Jenkins node of each family with its label.
    assert "Jenkins node ci-agent-loongarch (launch: inbound agent), label arch-loongarch" in converged["output"]


def test_credentials_are_in_secrets_read_from_files_and_never_shown(testbed, converged):
    namespace, output = converged["namespace"], converged["output"]
    for family, secret in converged["secrets"].items():
        assert secret not in output, "the %s agent's secret is in the Ansible output" % family
        stored = get(testbed, "secret", "-n", namespace, "ci-agent-" + family)
        assert base64.b64decode(stored["data"]["secret"]).decode() == secret
        deployment = get(testbed, "deployment", "-n", namespace, "ci-agent-" + family)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert secret not in json.dumps(deployment)
        args = container["args"]
        assert args[args.index("-secret") + 1] == "@/etc/ci-agent/credentials/secret"
        assert args[args.index("-name") + 1] == "ci-agent-" + family
        assert args[args.index("-url") + 1] == "https://jenkins.ci.test:8443/jenkins/"
        assert "-webSocket" in args and args[args.index("-cert") + 1] == "@/etc/ci-agent/ca/ca.crt"
        assert container["securityContext"]["runAsNonRoot"] is True
    assert MAVEN_PASSWORD not in output
    assert converged["vars"]["ci_agents_registry"]["password"] not in output
    settings = get(testbed, "secret", "-n", namespace, "ci-agent-maven-settings")
    assert MAVEN_PASSWORD in base64.b64decode(settings["data"]["settings.xml"]).decode()
    with open(converged["vars"]["ci_agents_ca_file"]) as fh:
        assert get(testbed, "configmap", "-n", namespace, "ci-agent-ca")["data"]["ca.crt"] == fh.read()
    # The namespace admits them under Pod Security restricted (the API server's own check).
    proc = testbed.kubectl("label", "--dry-run=server", "--overwrite", "namespace", namespace,
                           "pod-security.kubernetes.io/enforce=restricted")
    assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr


def test_a_rerun_and_a_check_run_change_nothing_and_a_new_secret_rolls_one_family(testbed, converged):
    namespace, extra_vars = converged["namespace"], converged["vars"]
    stats, failures = run_role(extra_vars)
    assert failures == [] and stats["changed"] == 0, stats

    def digests():
        return dict((f, get(testbed, "deployment", "-n", namespace, "ci-agent-" + f)["spec"]["template"]["metadata"]
                     ["annotations"][ca.CREDENTIALS_DIGEST]) for f in FAMILIES)

    before = digests()
    renewed = dict(converged["secrets"], arm=uuid.uuid4().hex)
    stats, failures = run_role(dict(extra_vars, ci_agents_jenkins_secrets=renewed), check=True)
    assert failures == [] and stats["changed"] >= 2, stats  # the Secret and the Deployment, would change
    assert digests() == before
    stored = get(testbed, "secret", "-n", namespace, "ci-agent-arm")
    assert base64.b64decode(stored["data"]["secret"]).decode() == converged["secrets"]["arm"]

    stats, failures = run_role(dict(extra_vars, ci_agents_jenkins_secrets=renewed))
    assert failures == [], failures
    after = digests()
    assert after["arm"] != before["arm"]
    assert dict((f, d) for f, d in after.items() if f != "arm") == dict((f, d) for f, d in before.items() if f != "arm")
    converged["secrets"].update(renewed)


def test_check_mode_on_a_new_namespace_says_what_a_run_makes_and_makes_nothing(testbed, images, settings_file):
    site = {"namespace": "ci-chk-" + uuid.uuid4().hex[:6], "class": "none"}
    report, _proc = run_playbook([ROLE_TASK], check=True, extra_vars=role_vars(
        testbed, images, site, settings_file, ci_agents_families=["c86", "arm"], ci_agents_jenkins_secrets=secrets()))
    results = [dict(t["hosts"].get("localhost", {}), task=t["task"]["name"]) for t in report["plays"][0]["tasks"]]
    assert report["stats"]["localhost"]["failures"] == 0, [r for r in results if r.get("failed")]
    (would,) = [r for r in results if r["task"].endswith("CI agents | What a run makes in the new namespace (check mode)")]
    assert would["changed"] is True
    assert "Deployment/ci-agent-arm" in would["msg"] and "Secret/ci-agent-c86" in would["msg"]
    assert get(testbed, "namespace", site["namespace"]) is None


def test_bad_input_is_refused_naming_each_before_anything_is_made(testbed, images, settings_file):
    site = {"namespace": "ci-bad-" + uuid.uuid4().hex[:6], "class": "none"}
    given = {"c86": "s3cret-" + uuid.uuid4().hex}
    _stats, failures = run_role(role_vars(testbed, images, site, settings_file, ci_agents_families=["c86", "x86", "arm"],
                                          ci_agents_jenkins_secrets=given, ci_agents_replicas=2,
                                          ci_agents_image="ci/agent", ci_agents_cache_size="big"))
    (failure,) = failures
    for words in ("ci_agents_families: ", "'x86'", "ci_agents_image 'ci/agent' names no registry",
                  "ci_agents_jenkins_secrets has no credential for arm", "ci_agents_replicas 2: a Jenkins inbound agent",
                  "ci_agents_cache_size 'big'", "nothing was changed"):
        assert words in failure, failure
    assert given["c86"] not in failure
    assert get(testbed, "namespace", site["namespace"]) is None
    _stats, failures = run_role(role_vars(testbed, images, site, settings_file, ci_agents_ca_file="/nonexistent/ca.pem",
                                          ci_agents_jenkins_secrets=secrets()))
    assert "ci_agents_ca_file /nonexistent/ca.pem is not a file on localhost" in failures[0], failures
    assert get(testbed, "namespace", site["namespace"]) is None


def test_an_image_without_a_familys_platform_is_refused_naming_it(testbed, images, settings_file):
    site = {"namespace": "ci-img-" + uuid.uuid4().hex[:6], "class": "none"}
    _stats, failures = run_role(role_vars(testbed, images, site, settings_file, ci_agents_families=["c86", "arm", "loongarch"],
                                          ci_agents_image="%s/%s:two" % (images.host, REPOSITORY),
                                          ci_agents_jenkins_secrets=secrets()))
    (failure,) = failures
    assert "image %s:two has no %s image, which nodes running agent ci-agent-loongarch need" % (
        REPOSITORY, arch.oci_platform("loongarch")) in failure, failure
    assert get(testbed, "namespace", site["namespace"]) is None


def _runner_config_fields():
    """{toml key: Go type} of the runner's configuration structs (common/config.go upstream)."""
    with open(os.path.join(go_modules.module_dir(RUNNER_MODULE, RUNNER_VERSION), "common", "config.go")) as fh:
        source = fh.read()
    fields = {}
    for go_type, key in re.findall(r'^\s*\w+\s+(\S+)\s+`[^`]*\btoml:"([^",]+)', source, re.M):
        fields.setdefault(key, set()).add(go_type)
    return fields


def _go_type_holds(go_type, value):
    if go_type in ("int", "int64", "*int", "*int64"):
        return isinstance(value, int) and not isinstance(value, bool)
    if go_type in ("string", "*string"):
        return isinstance(value, str)
    if go_type == "[]string":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return go_type.startswith("[]") and isinstance(value, list)


def test_gitlab_runners_get_the_runners_own_config_format_on_their_nodes(testbed, images, settings_file):
    families = ["c86", "mips"]
    with local_site(testbed, "cir", [node_of(f) for f in families], capacity="2Gi") as site:
        tokens = dict((f, "glrt-" + uuid.uuid4().hex) for f in families)
        stats, failures = run_role(role_vars(testbed, images, site, settings_file, ci_agents_kind="gitlab",
                                             ci_agents_families=families, ci_agents_name="ci-runner",
                                             ci_agents_gitlab_url="https://gitlab.ci.test",
                                             ci_agents_gitlab_tokens=tokens, ci_agents_gitlab_concurrent=2,
                                             ci_agents_maven_settings_file=""))
        assert failures == [], failures
        fields = _runner_config_fields()
        for family in families:
            name = "ci-runner-" + family
            (pod,) = get(testbed, "pods", "-n", site["namespace"], "-l", "app.kubernetes.io/instance=" + name)["items"]
            assert pod["spec"]["nodeName"] == node_of(family)
            (container,) = pod["spec"]["containers"]
            assert container["command"] == ["gitlab-runner"]
            assert container["args"][:3] == ["run", "--config", "/etc/ci-agent/credentials/config.toml"]
            stored = get(testbed, "secret", "-n", site["namespace"], name)
            config = tomllib.loads(base64.b64decode(stored["data"]["config.toml"]).decode())
            (runner,) = config["runners"]
            assert (runner["token"], runner["url"], runner["executor"], config["concurrent"]) == (
                tokens[family], "https://gitlab.ci.test", "shell", 2)
            assert runner["tls-ca-file"] == "/etc/ci-agent/ca/ca.crt"
            # Every key written is one of the runner's, of the type its struct field has.
            for key, value in list(config.items()) + list(runner.items()):
                assert key in fields, "config.toml key %s is not in the runner's common/config.go" % key
                assert any(_go_type_holds(t, value) for t in fields[key]), (key, value, fields[key])
