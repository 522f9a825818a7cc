"""xinchuang.cloud.image_manifest against a real docker-registry (TLS + htpasswd).

Every reconciling case runs the four passes of the conventions: check mode, real, check
mode again (idempotence) and real again (idempotence); results are read back with skopeo and
docker, which must agree with the module.
"""

import json
import subprocess

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from tests.integration.fixtures_registry import client_push, make_certificate, make_image

FIVE = 5


def head(registry, reference):
    return registry.client().head_manifest(mi.parse_reference(reference))


def skopeo_raw(registry, reference):
    proc = subprocess.run(
        ["skopeo", "inspect", "--raw", "--cert-dir", registry.cert_dir]
        + registry.skopeo_creds() + ["docker://%s/%s" % (registry.host, reference)],
        capture_output=True, check=True, timeout=120)
    return proc.stdout


def platforms_of(doc):
    return [arch.platform_string(arch.parse_platform(m["platform"])) for m in doc["manifests"]]


def four_pass(run, diff=False, **args):
    """check, real, check, real; returns the four results."""
    return [run(check=True, diff=diff, **args), run(diff=diff, **args),
            run(check=True, diff=diff, **args), run(diff=diff, **args)]


def assert_ok(result):
    assert not result.get("failed"), result.get("msg", result)


def test_create_four_pass_within_request_budget(registry, images, image_manifest):
    args = dict(repository="xc/app", tag="five", sources=images.sources(),
                required_platforms=["x86_64", "aarch64", "loongarch64", "sw_64", "mips64el"])
    check1 = image_manifest(check=True, diff=True, **args)
    assert_ok(check1)
    assert check1["changed"] is True
    assert check1["writes"] == 0
    assert check1["requests"] == FIVE + 1  # a HEAD per source, a HEAD of the tag
    assert head(registry, "xc/app:five") is None, "check mode wrote the tag"
    assert check1["diff"]["before"]["platforms"] == {}
    assert sorted(check1["diff"]["after"]["platforms"]) == sorted(images.platforms())

    real1 = image_manifest(diff=True, **args)
    assert_ok(real1)
    assert real1["changed"] is True
    assert real1["requests"] == FIVE + 2 and real1["writes"] == 1  # ... and one PUT
    assert real1["digest"] == check1["digest"]
    assert real1["platforms"] == images.platforms()  # the architecture table's order
    assert real1["media_type"] == mi.OCI_INDEX
    assert head(registry, "xc/app:five")["digest"] == real1["digest"]
    assert real1["platform_changes"]["added"] == sorted(images.platforms())

    for result in (image_manifest(check=True, diff=True, **args), image_manifest(**args)):
        assert_ok(result)
        assert result["changed"] is False
        assert result["writes"] == 0
        assert result["requests"] == FIVE + 1
        assert result["digest"] == real1["digest"]


def test_change_reports_platform_diff_four_pass(registry, images, image_manifest):
    first = image_manifest(repository="xc/app", tag="change",
                           sources=images.sources(["c86", "arm", "mips"]))
    assert_ok(first)
    old = first["digest"]
    # Reordered sources and aliases of the same platforms: still the same index.
    same = image_manifest(repository="xc/app", tag="change", sources=[
        {"ref": images.tag("mips"), "platform": "mips64el"},
        {"ref": images.tag("c86"), "platform": "x86_64"},
        {"ref": images.tag("arm"), "platform": "linux/arm64"}])
    assert_ok(same)
    assert same["changed"] is False and same["digest"] == old

    results = four_pass(image_manifest, diff=True, repository="xc/app", tag="change",
                        sources=images.sources())
    for result in results:
        assert_ok(result)
    check1, real1, check2, real2 = results
    assert [r["changed"] for r in results] == [True, True, False, False]
    assert check1["previous_digest"] == old
    assert check1["platform_changes"]["added"] == sorted(["linux/loong64", "linux/sw64"])
    assert check1["platform_changes"]["removed"] == []
    assert sorted(check1["diff"]["before"]["platforms"]) == sorted(
        images.platforms(["c86", "arm", "mips"]))
    assert check1["requests"] == FIVE + 2  # diff mode reads the old index once
    assert real1["writes"] == 1
    assert head(registry, "xc/app:change")["digest"] == real1["digest"] == check1["digest"]
    assert check2["platform_changes"]["added"] == [] and real2["writes"] == 0


def test_absent_four_pass(registry, images, image_manifest):
    created = image_manifest(repository="xc/app", tag="gone",
                             sources=images.sources(["c86", "sw64"]))
    assert_ok(created)
    results = four_pass(image_manifest, diff=True, repository="xc/app", tag="gone",
                        state="absent")
    for result in results:
        assert_ok(result)
    assert [r["changed"] for r in results] == [True, True, False, False]
    assert sorted(results[0]["diff"]["before"]["platforms"]) == sorted(
        images.platforms(["c86", "sw64"]))
    assert results[0]["writes"] == 0 and results[1]["writes"] == 1
    assert results[2]["writes"] == 0 and results[3]["writes"] == 0
    assert head(registry, "xc/app:gone") is None
    # The children stay: only the index went.
    assert head(registry, "xc/app:" + images.tag("sw64")) is not None


def test_independent_clients_agree_on_digest_and_platforms(registry, images, image_manifest):
    result = image_manifest(repository="xc/app", tag="agree", sources=images.sources())
    assert_ok(result)
    raw = skopeo_raw(registry, "xc/app:agree")
    assert mi.digest_of(raw) == result["digest"]
    doc = json.loads(raw)
    assert platforms_of(doc) == result["platforms"]
    assert [m["digest"] for m in doc["manifests"]] == [
        images.digest(f) for f in arch.families()]

    # docker speaks plain HTTP to loopback: the companion process serves the same storage.
    ref = "%s/xc/app:agree" % registry.plain_host
    proc = subprocess.run(["docker", "manifest", "inspect", "--insecure", ref],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    docker_doc = json.loads(proc.stdout)
    assert platforms_of(docker_doc) == result["platforms"]
    assert [m["digest"] for m in docker_doc["manifests"]] == [
        m["digest"] for m in doc["manifests"]]

    try:
        pull = subprocess.run(["docker", "pull", "-q", "--platform", "linux/loong64", ref],
                              capture_output=True, text=True, timeout=300, check=False)
        assert pull.returncode == 0, pull.stderr
        info = json.loads(subprocess.run(["docker", "image", "inspect", ref],
                                         capture_output=True, text=True, check=True).stdout)[0]
        assert info["Architecture"] == "loong64"
        assert any(d.endswith("@" + result["digest"]) for d in info["RepoDigests"])
    finally:
        subprocess.run(["docker", "rmi", "-f", ref], capture_output=True, check=False)


def test_cross_repository_sources_and_platforms_from_config(registry, images, image_manifest):
    sources = [
        {"ref": "build/app-amd64:1.0"},  # platform read from the image config
        {"ref": "%s/build/app-loong64:1.0" % registry.host},  # registry prefix accepted
        {"ref": "build/app-sw64@" + images.digest("sw64"), "platform": "sw64"},
        {"ref": "build/app-mips64le:1.0", "platform": "linux/mips64le"},
    ]
    results = four_pass(image_manifest, repository="xc/cross", tag="1.0", sources=sources)
    for result in results:
        assert_ok(result)
    assert [r["changed"] for r in results] == [True, True, False, False]
    real = results[1]
    assert real["platforms"] == images.platforms(["c86", "loongarch", "sw64", "mips"])
    # Children were pushed into the target repository by digest, before the index.
    for family in ("c86", "loongarch", "sw64", "mips"):
        child = json.loads(skopeo_raw(registry, "xc/cross@" + images.digest(family)))
        assert child["config"]["digest"]
    assert mi.digest_of(skopeo_raw(registry, "xc/cross:1.0")) == real["digest"]
    assert results[3]["writes"] == 0


@pytest.mark.parametrize("fmt,annotations,media_type", [
    ("docker", None, mi.DOCKER_LIST),
    ("oci", {"org.opencontainers.image.version": "1.0", "xinchuang.cloud/说明": "五架构"},
     mi.OCI_INDEX),
])
def test_formats_and_annotations(registry, images, image_manifest, fmt, annotations,
                                 media_type):
    tag = "fmt-" + fmt
    args = dict(repository="xc/app", tag=tag, sources=images.sources(), format=fmt)
    if annotations:
        args["annotations"] = annotations
    results = four_pass(image_manifest, **args)
    for result in results:
        assert_ok(result)
    assert [r["changed"] for r in results] == [True, True, False, False]
    doc = json.loads(skopeo_raw(registry, "xc/app:" + tag))
    assert doc["mediaType"] == media_type == results[1]["media_type"]
    assert doc.get("annotations") == annotations


# --- bad input: a clear message naming the reference, nothing written -------------------

def assert_failed_without_writes(result, *needles):
    assert result.get("failed"), result
    for needle in needles:
        assert needle in result["msg"], result["msg"]
    assert result.get("writes", 0) == 0


def test_unknown_architecture_fails_before_any_request(images, image_manifest, registry):
    result = image_manifest(repository="xc/app", tag="bad-arch", sources=[
        {"ref": images.tag("c86"), "platform": "linux/amd64"},
        {"ref": images.tag("arm"), "platform": "linux/s390x"}])
    assert_failed_without_writes(result, "s390x", "xc/app:" + images.tag("arm"))
    assert result["requests"] == 0
    assert head(registry, "xc/app:bad-arch") is None


def test_duplicate_platform_names_both_sources(images, image_manifest, registry):
    result = image_manifest(repository="xc/app", tag="dup", sources=[
        {"ref": images.tag("arm"), "platform": "aarch64"},
        {"ref": "build/app-arm64:1.0", "platform": "linux/arm64/v8"}])
    assert_failed_without_writes(result, "linux/arm64/v8", "xc/app:" + images.tag("arm"),
                                 "build/app-arm64:1.0")
    assert result["requests"] == 0
    # A duplicate only visible once the config is read is caught too, before writing.
    late = image_manifest(repository="xc/app", tag="dup", sources=[
        {"ref": images.tag("loongarch"), "platform": "loong64"},
        {"ref": "build/app-loong64:1.0"}])
    assert_failed_without_writes(late, "linux/loong64", "build/app-loong64:1.0")
    assert head(registry, "xc/app:dup") is None


def test_missing_source_is_named(images, image_manifest, registry):
    result = image_manifest(repository="xc/app", tag="missing", sources=[
        {"ref": images.tag("c86"), "platform": "amd64"},
        {"ref": "1.0-ppc", "platform": "sw64"}])
    assert_failed_without_writes(result, "xc/app:1.0-ppc", "not found")
    assert head(registry, "xc/app:missing") is None


def test_required_platforms_missing_are_named(images, image_manifest, registry):
    result = image_manifest(repository="xc/app", tag="required",
                            sources=images.sources(["c86", "arm"]),
                            required_platforms=["amd64", "loong64", "sw64"])
    assert_failed_without_writes(result, "linux/loong64", "linux/sw64", "xc/app:required")
    assert head(registry, "xc/app:required") is None


def test_wrong_credentials_are_reported(images, image_manifest, registry):
    result = image_manifest(repository="xc/app", tag="creds", password="wrong",
                            sources=images.sources(["c86"]))
    assert_failed_without_writes(result, "rejected", registry.username, "HTTP 401")
    assert "wrong" not in result["msg"]


def test_tls_failure_names_the_fix(images, image_manifest, registry, tmp_path):
    other_ca = make_certificate(str(tmp_path), "other")[0]
    result = image_manifest(repository="xc/app", tag="tls", ca_path=other_ca,
                            sources=images.sources(["c86"]))
    assert_failed_without_writes(result, "TLS verification failed", "ca_path",
                                 "xc/app:" + images.tag("c86"))


def test_single_image_tag_needs_force(images, image_manifest, registry):
    before = head(registry, "xc/app:single")
    assert before["media_type"] == mi.OCI_MANIFEST
    refused = image_manifest(repository="xc/app", tag="single", sources=images.sources())
    assert_failed_without_writes(refused, "xc/app:single", "single image manifest", "force")
    assert head(registry, "xc/app:single")["digest"] == before["digest"]

    results = four_pass(image_manifest, repository="xc/app", tag="single",
                        sources=images.sources(["c86", "arm"]), force=True)
    for result in results:
        assert_ok(result)
    assert [r["changed"] for r in results] == [True, True, False, False]
    assert head(registry, "xc/app:single")["media_type"] == mi.OCI_INDEX


def test_indexes_publish_a_catalogue_in_one_task_four_pass(registry, images, image_manifest):
    catalogue = [{"repository": "xc/app", "tag": "cat-%d" % i,
                  "sources": images.sources(families)}
                 for i, families in enumerate([None, ["c86", "loongarch"], ["sw64", "mips"]])]
    catalogue[1]["format"] = "docker"
    results = four_pass(image_manifest, diff=True, indexes=catalogue, concurrency=3)
    for result in results:
        assert_ok(result)
    assert [r["changed"] for r in results] == [True, True, False, False]
    check1, real1, check2, real2 = results
    assert check1["writes"] == 0 and real1["writes"] == 3
    assert real1["requests"] == (5 + 2) + (2 + 2) + (2 + 2)
    assert real2["requests"] == (5 + 1) + (2 + 1) + (2 + 1) and real2["writes"] == 0
    assert set(check1["diff"]["after"]) == {"xc/app:cat-0", "xc/app:cat-1", "xc/app:cat-2"}
    for item, spec in zip(real1["indexes"], catalogue):
        assert item["changed"] and item["tag"] == spec["tag"]
        assert head(registry, "xc/app:" + spec["tag"])["digest"] == item["digest"]
    assert real1["indexes"][1]["media_type"] == mi.DOCKER_LIST


def test_indexes_one_failure_names_it_and_the_others_complete(
        registry, images, image_manifest):
    catalogue = [{"repository": "xc/app", "tag": "cat-ok", "sources": images.sources(["arm"])},
                 {"repository": "xc/app", "tag": "cat-bad",
                  "sources": [{"ref": "1.0-nothing", "platform": "amd64"}]}]
    result = image_manifest(indexes=catalogue)
    assert result.get("failed")
    assert "1 of 2" in result["msg"] and "xc/app:cat-bad" in result["msg"]
    assert "xc/app:1.0-nothing" in result["msg"]
    assert result["indexes"][1] is None and result["indexes"][0]["changed"]
    assert head(registry, "xc/app:cat-ok") is not None
    assert head(registry, "xc/app:cat-bad") is None


def test_source_that_is_an_index_gives_its_child_for_the_platform(registry, images,
                                                                  image_manifest):
    made = image_manifest(repository="xc/app", tag="parent", sources=images.sources())
    assert_ok(made)
    picked = image_manifest(repository="xc/app", tag="picked", sources=[
        {"ref": "parent", "platform": "sw_64"}, {"ref": images.tag("c86")}])
    assert_ok(picked)
    assert picked["platforms"] == ["linux/amd64", "linux/sw64"]
    assert [m["digest"] for m in picked["manifests"]] == [
        images.digest("c86"), images.digest("sw64")]
    ambiguous = image_manifest(repository="xc/app", tag="picked2",
                               sources=[{"ref": "parent"}])
    assert_failed_without_writes(ambiguous, "xc/app:parent", "index of 5 platforms",
                                 "platform")


VERSION = "org.opencontainers.image.version"


def test_same_label_refuses_a_mixed_index_and_publishes_one_version_four_pass(
        registry, image_manifest):
    """Children of one tag must run one version: the loong64 child built from another Debian
    suite (another nginx) is refused by name before any write; the children of one version
    publish, and their value is returned."""
    client = registry.client()
    versions = {"c86": "1.22.1", "arm": "1.22.1", "loongarch": "1.30.6"}
    sources = []
    for family, version in sorted(versions.items()):
        image = make_image(arch.platform_dict(family), labels={VERSION: version})
        tag = "%s-%s" % (version, image["platform"]["architecture"])
        client_push(client, image, "xc/versioned", tag)
        sources.append({"ref": tag, "platform": arch.platform_string(image["platform"])})
    mixed = image_manifest(repository="xc/versioned", tag="1.22.1", sources=sources,
                           same_label=VERSION)
    assert_failed_without_writes(mixed, "xc/versioned:1.22.1", VERSION, "'1.30.6': linux/loong64",
                                 "'1.22.1': linux/amd64", "under its own tag")
    assert head(registry, "xc/versioned:1.22.1") is None
    # Without the option the same sources make the mixed index: the check is what refuses it.
    one = [s for s in sources if not s["ref"].startswith("1.30.6")]
    results = four_pass(image_manifest, repository="xc/versioned", tag="1.22.1", sources=one,
                        same_label=VERSION)
    for result in results:
        assert_ok(result)
        assert result["same_label_value"] == "1.22.1"
    assert [r["changed"] for r in results] == [True, True, False, False]
    assert platforms_of(json.loads(skopeo_raw(registry, "xc/versioned:1.22.1"))) == sorted(
        [arch.platform_string(arch.platform_dict("c86")), arch.platform_string(arch.platform_dict("arm"))])
    # A child that carries no label at all is named too.
    bare = make_image(arch.platform_dict("mips"))
    client_push(client, bare, "xc/versioned", "bare-mips64le")
    unlabelled = image_manifest(repository="xc/versioned", tag="1.22.1", same_label=VERSION,
                                sources=one + [{"ref": "bare-mips64le", "platform": "mips64le"}])
    assert_failed_without_writes(unlabelled, "no label: linux/mips64le (xc/versioned:bare-mips64le)")
