"""The rules of the build agents per CPU family (plugins/plugin_utils/ci_agents/ci_agents.py): one
Deployment per family pinned to its nodes and labelled arch-<family>, the credential in a Secret
read from a file, the runner's config.toml, the cache, and every bad setting named at once
without repeating a credential."""

import tomllib

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.ci_agents import ci_agents as ca
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.ci_agents.ci_agents import CiAgentsError

CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZm9v\n-----END CERTIFICATE-----\n"
JENKINS = {"image": "registry.local:5000/ci/jenkins-agent:3355", "url": "https://jenkins.local/",
           "families": ["x86_64", "aarch64", "loongarch64", "sw_64", "mips64el"],
           "credentials": {"c86": "s-c86", "arm64": "s-arm", "loong64": "s-la", "sw64": "s-sw", "mips": "s-mips"}}
GITLAB = {"kind": "gitlab", "image": "registry.local:5000/ci/gitlab-runner:18.4", "url": "https://gitlab.local",
          "families": ["c86", "loongarch"], "credentials": {"c86": "glrt-one", "loongarch": "glrt-two"}}


def of_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def test_each_family_gets_a_deployment_on_its_nodes_labelled_arch_family():
    objects = ca.objects(JENKINS)
    assert objects[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ci-agents"}}
    deployments = of_kind(objects, "Deployment")
    assert [d["metadata"]["name"] for d in deployments] == ["ci-agent-" + f.family for f in arch.FAMILIES]
    for deployment, family in zip(deployments, arch.FAMILIES):
        template = deployment["spec"]["template"]
        assert template["spec"]["nodeSelector"] == {"kubernetes.io/arch": family.oci_arch}
        assert template["metadata"]["labels"][ca.CI_LABEL] == "arch-" + family.family
        assert template["metadata"]["labels"][ca.FAMILY_LABEL] == family.family
        assert deployment["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/instance": "ci-agent-" + family.family}
        assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert [ca.label_of(f) for f in ("x86_64", "sw_64", "mips64el")] == ["arch-c86", "arch-sw64", "arch-mips"]


def test_the_jenkins_agent_reads_its_secret_from_a_file_never_its_command_line():
    for deployment in of_kind(ca.objects(dict(JENKINS, ca=CA)), "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        name = deployment["metadata"]["name"]
        assert container["command"] == ["java"]
        assert container["args"] == ["-jar", "/app/agent.jar", "-url", "https://jenkins.local/", "-name", name,
                                     "-secret", "@/etc/ci-agent/credentials/secret", "-workDir", "/home/ci/agent",
                                     "-webSocket", "-cert", "@/etc/ci-agent/ca/ca.crt"]
        assert not [s for s in JENKINS["credentials"].values() if s in repr(deployment)]
        volumes = dict((v["name"], v) for v in deployment["spec"]["template"]["spec"]["volumes"])
        assert volumes["credentials"]["secret"] == {"secretName": name, "defaultMode": 0o440}
        assert volumes["cache"]["persistentVolumeClaim"] == {"claimName": name + "-cache"}
    secrets = ca.secrets(JENKINS)
    assert [(s["metadata"]["name"], s["stringData"]) for s in secrets][:2] == [
        ("ci-agent-c86", {"secret": "s-c86"}), ("ci-agent-arm", {"secret": "s-arm"})]
    tcp = ca.objects(dict(JENKINS, jenkins_websocket=False, jenkins_tunnel="jenkins.local:50000"))
    args = of_kind(tcp, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "-webSocket" not in args and args[-2:] == ["-tunnel", "jenkins.local:50000"]


def test_the_agent_runs_as_pod_security_restricted_admits_with_maven_on_the_cache():
    objects = ca.objects(dict(JENKINS, maven_settings="<settings/>", cache_storage_class="nfs", cache_size="20Gi",
                              image_pull_secret="site-registry"))
    spec = of_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]
    assert spec["imagePullSecrets"] == [{"name": "site-registry"}]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["fsGroup"] == 65532
    (container,) = spec["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "MAVEN_OPTS", "value": "-Dmaven.repo.local=/home/ci/cache/m2"} in container["env"]
    mounts = dict((m["mountPath"], m) for m in container["volumeMounts"])
    assert mounts["/home/ci/cache"]["name"] == "cache"
    assert mounts["/home/ci/.m2/settings.xml"]["subPath"] == "settings.xml"
    claim = of_kind(objects, "PersistentVolumeClaim")[0]
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}},
                             "storageClassName": "nfs"}
    (settings,) = [s for s in ca.secrets(dict(JENKINS, maven_settings="<settings/>"))
                   if s["metadata"]["name"] == "ci-agent-maven-settings"]
    assert settings["stringData"] == {"settings.xml": "<settings/>"}


def test_a_changed_credential_rolls_only_its_familys_agent():
    def digests(settings):
        return [d["spec"]["template"]["metadata"]["annotations"][ca.CREDENTIALS_DIGEST]
                for d in of_kind(ca.objects(settings), "Deployment")]

    before = digests(JENKINS)
    after = digests(dict(JENKINS, credentials=dict(JENKINS["credentials"], arm64="renewed")))
    assert [a == b for a, b in zip(before, after)] == [True, False, True, True, True]
    assert digests(JENKINS) == before
    assert "s-arm" not in repr(after)


def test_a_gitlab_runner_gets_a_config_toml_with_its_token_and_the_shell_executor():
    objects = ca.objects(dict(GITLAB, ca=CA, replicas=3, cache_access_mode="ReadWriteMany"))
    deployment = of_kind(objects, "Deployment")[1]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["gitlab-runner"]
    assert container["args"] == ["run", "--config", "/etc/ci-agent/credentials/config.toml",
                                 "--working-directory", "/home/ci"]
    assert deployment["spec"]["replicas"] == 3 and deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    secret = ca.secrets(dict(GITLAB, ca=CA))[1]
    config = tomllib.loads(secret["stringData"]["config.toml"])
    assert config["concurrent"] == 1
    assert config["runners"] == [{
        "name": "ci-agent-loongarch", "url": "https://gitlab.local", "token": "glrt-two", "executor": "shell",
        "shell": "bash", "builds_dir": "/home/ci/builds", "cache_dir": "/home/ci/cache/gitlab",
        "environment": ["MAVEN_OPTS=-Dmaven.repo.local=/home/ci/cache/m2"], "tls-ca-file": "/etc/ci-agent/ca/ca.crt"}]


@pytest.mark.parametrize("text", ['quote " and \\ backslash', "tab\tand\x7fdel\x01", "汉字 ✓ 😀"])
def test_toml_strings_read_back_as_written(text):
    assert tomllib.loads("v = %s\n" % ca.toml_string(text))["v"] == text


def test_every_bad_setting_is_named_at_once_without_the_credentials():
    given = dict(JENKINS, kind="jenkins", families=["c86", "x86", "c86"], name="CI", namespace="ci_agents",
                 image="jenkins-agent", url="ftp://jenkins", replicas=2, credentials={"c86": "top-secret\n"},
                 ca="not a certificate", cache_access_mode="ReadOnlyMany", cpu="lots", jenkins_agent_jar="agent.jar",
                 jenkins_tunnel="jenkins", other=1)
    problems = ca.problems(given)
    text = "\n".join(problems)
    for words in ("unknown settings other", "ci_agents_families: ", "'x86'", "names a family twice",
                  "ci_agents_name 'CI'", "ci_agents_namespace 'ci_agents'",
                  "ci_agents_image 'jenkins-agent' names no registry", "ci_agents_jenkins_url 'ftp://jenkins'",
                  "ci_agents_jenkins_secrets.c86: one line of text", "ci_agents_replicas 2: a Jenkins inbound agent",
                  "ci_agents_jenkins_tunnel 'jenkins': HOST:PORT", "is for TCP agents",
                  "ci_agents_jenkins_agent_jar 'agent.jar'", "ci_agents_ca_file holds no PEM certificate",
                  "ci_agents_cache_access_mode 'ReadOnlyMany'", "ci_agents_cpu 'lots'"):
        assert words in text, (words, problems)
    assert "top-secret" not in text
    with pytest.raises(CiAgentsError) as err:
        ca.objects(given)
    assert str(err.value) == "; ".join(problems)
    assert ca.problems(JENKINS) == [] and ca.problems(GITLAB) == []


def test_missing_credentials_and_settings_are_named_with_where_they_come_from():
    problems = ca.problems(dict(GITLAB, credentials={"c86": "glrt-one"}, image="", url=""))
    assert any("ci_agents_gitlab_tokens has no credential for loongarch" in p and "glrt-" in p for p in problems)
    assert any(p.startswith("ci_agents_image is not set") and "gitlab-runner" in p for p in problems)
    assert any(p.startswith("ci_agents_gitlab_url is not set") for p in problems)
    assert ca.problems(dict(GITLAB, credentials="glrt-one")) == [
        "ci_agents_gitlab_tokens: a mapping of CPU family to the runner's authentication token (glrt-...: Admin or "
        "the group, CI/CD, Runners, New runner with the tag arch-FAMILY), e.g. {c86: ..., arm: ...}"]
    problems = ca.problems(dict(GITLAB, replicas=2))
    assert problems == ["ci_agents_replicas 2 share each family's cache: give a ReadWriteMany class "
                        "(ci_agents_cache_storage_class, e.g. the NFS layer's) and ci_agents_cache_access_mode: "
                        "ReadWriteMany"]


def test_the_image_check_reads_the_image_where_the_controller_reaches_its_registry():
    check = ca.image_check(dict(JENKINS, families=["c86", "loongarch"]))
    assert check == {"registry": "registry.local:5000", "reference": "ci/jenkins-agent:3355",
                     "families": {"running agent ci-agent-c86": "c86", "running agent ci-agent-loongarch": "loongarch"}}
    assert ca.image_check(JENKINS, "172.29.0.5:5000")["registry"] == "172.29.0.5:5000"
    with pytest.raises(CiAgentsError, match="ci_agents_registry_endpoint 'https://x' must be the registry's host"):
        ca.image_check(JENKINS, "https://x")


def test_the_summary_says_what_the_server_needs_per_family():
    assert ca.summary(dict(JENKINS, families=["sw64"]))[0] == {
        "family": "sw64", "deployment": "ci-agent-sw64", "label": "arch-sw64", "node_arch": "sw64",
        "server_side": "Jenkins node ci-agent-sw64 (launch: inbound agent), label arch-sw64"}
    assert ca.summary(GITLAB)[1]["server_side"] == (
        "GitLab runner with the tag arch-loongarch (its token in ci_agents_gitlab_tokens.loongarch)")
