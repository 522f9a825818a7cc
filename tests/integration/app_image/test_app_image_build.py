"""An application image made in a real CNCF distribution registry (plugins/module_utils/
images/app_image_build.py): a WAR as a layer on a base index of two families, the children and the
index pushed, the same artefact again writing nothing, and a base without a family refused
before any write."""

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_image
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_image_build
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from tests.integration.fixtures_registry import make_image, push_index

WAR = b"PK\x03\x04" + b"hello war " * 100
FAMILIES = ["c86", "arm"]


@pytest.fixture(scope="module")
def base(registry):
    client = registry.client()
    images = [make_image(arch.platform_dict(f), labels={"base": "tomcat"}) for f in FAMILIES]
    push_index(client, "base/tomcat", "10", images)
    return images


def build(registry, image, families=tuple(FAMILIES), artifact=WAR, check=False, bases=("base/tomcat:10",)):
    client = registry.client()
    planned = app_image_build.plan(client, [registry.host + "/" + b for b in bases], registry.host + "/" + image, artifact,
                                   "shop.war", families, labels=app_image.labels(revision="abc123"),
                                   created="2026-12-06T00:00:00Z")
    changed = not app_image_build.published(planned)
    if not check:
        changed = app_image_build.apply(client, planned)
    return app_image_build.summary(planned, changed)


def test_the_war_is_a_layer_on_each_family_s_base_child_under_one_index(registry, base):
    result = build(registry, "apps/shop:1.0")
    assert result["changed"] is True and result["platforms"] == ["linux/amd64", "linux/arm64/v8"]
    assert result["path"] == "/var/lib/tomcat/webapps/shop.war" and result["context_path"] == "/shop"
    client = registry.client()
    index = client.get_manifest(mi.parse_reference(registry.host + "/apps/shop:1.0", registry=client.host))
    assert index["digest"] == result["digest"]
    entries = json.loads(index["data"])["manifests"]
    assert [e["platform"]["architecture"] for e in entries] == ["amd64", "arm64"]
    for entry, base_image in zip(entries, base):
        child = json.loads(client.get_manifest(mi.Reference("apps/shop", digest=entry["digest"]))["data"])
        base_layers = json.loads(base_image["manifest"])["layers"]
        assert [d["digest"] for d in child["layers"][:-1]] == [d["digest"] for d in base_layers]
        assert child["layers"][-1]["digest"] == result["layer_digest"]
        config = json.loads(client.get_blob("apps/shop", child["config"]["digest"], "config"))
        assert config["architecture"] == entry["platform"]["architecture"]
        assert config["config"]["Labels"] == {"base": "tomcat", "org.opencontainers.image.revision": "abc123"}
        assert config["config"]["ExposedPorts"]["8080/tcp"] == {}
        layer = client.get_blob("apps/shop", result["layer_digest"], "layer")
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
            assert tar.extractfile("var/lib/tomcat/webapps/shop.war").read() == WAR
        assert config["rootfs"]["diff_ids"][-1] == "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()


def test_the_same_artefact_again_writes_nothing(registry, base):
    first = build(registry, "apps/shop:again")
    since = registry.tls.log_size()
    again = build(registry, "apps/shop:again")
    assert again["changed"] is False and again["digest"] == first["digest"]
    writes = [line for line in registry.tls.settled_access_lines(since) if '"PUT ' in line or '"POST ' in line or '"PATCH ' in line]
    assert writes == []


def test_another_artefact_moves_the_tag_and_check_mode_writes_nothing(registry, base):
    first = build(registry, "apps/shop:moved")
    since = registry.tls.log_size()
    checked = build(registry, "apps/shop:moved", artifact=WAR + b"v2", check=True)
    assert checked["changed"] is True and checked["digest"] != first["digest"]
    assert not [line for line in registry.tls.settled_access_lines(since) if '"PUT ' in line or '"POST ' in line]
    moved = build(registry, "apps/shop:moved", artifact=WAR + b"v2")
    assert moved["digest"] == checked["digest"] and moved["previous_digest"] == first["digest"]


def test_a_base_without_a_family_is_refused_before_any_write(registry, base):
    since = registry.tls.log_size()
    with pytest.raises(Exception) as err:
        build(registry, "apps/shop:mips", families=["c86", "mips"])
    assert "no base has linux/mips64le" in str(err.value) and "base/tomcat:10 has linux/amd64, linux/arm64/v8" in str(
        err.value), str(err.value)
    assert not [line for line in registry.tls.settled_access_lines(since) if '"PUT ' in line or '"POST ' in line]


def test_a_family_under_another_tag_of_the_base_comes_from_the_base_listed_for_it(registry, base):
    """Tomcat's loong64 child is under a tag of its own: with both bases given, the index holds
    the first base's children and the loong64 one, whose layers are the second base's."""
    client = registry.client()
    loong = make_image(arch.platform_dict("loongarch"), labels={"base": "tomcat-sid"})
    push_index(client, "base/tomcat", "10-sid", [loong])
    result = build(registry, "apps/shop:three", families=["c86", "loongarch", "arm"],
                   bases=("base/tomcat:10", "base/tomcat:10-sid"))
    assert result["platforms"] == ["linux/amd64", "linux/loong64", "linux/arm64/v8"]
    child = json.loads(client.get_manifest(mi.Reference("apps/shop", digest=result["manifests"][1]["digest"]))["data"])
    assert [d["digest"] for d in child["layers"][:-1]] == [d["digest"] for d in json.loads(loong["manifest"])["layers"]]
    config = json.loads(client.get_blob("apps/shop", child["config"]["digest"], "config"))
    assert config["architecture"] == "loong64" and config["config"]["Labels"]["base"] == "tomcat-sid"


@pytest.mark.parametrize("missing", ["app_artifact", "app_image", "app_families"])
def test_build_image_yml_without_a_variable_it_needs_stops_naming_the_variables(missing, tmp_path):
    """The playbook's first task: nothing is read or sent before the variables are there."""
    import sys

    from tests.integration.ansible_run import ansible_playbook

    war = tmp_path / "shop.war"
    war.write_bytes(WAR)
    extra = {"app_artifact": str(war), "app_image": "127.0.0.1:9/apps/shop:1.0", "app_families": ["c86"],
             "ansible_python_interpreter": sys.executable}
    del extra[missing]
    report, proc = ansible_playbook(["-i", "localhost,", "-c", "local", "playbooks/build_image.yml"], extra_vars=extra)
    assert proc.returncode != 0
    tasks = report["plays"][0]["tasks"]
    assert len(tasks) == 1, [t["task"]["name"] for t in tasks]
    msg = tasks[0]["hosts"]["localhost"]["msg"]
    assert "needs app_artifact" in msg and "%s=(unset)" % missing in msg, msg


def test_a_created_time_that_is_no_rfc3339_time_is_refused_before_any_request(registry, base, tmp_path):
    from tests.integration.ansible_run import run_module

    war = tmp_path / "shop.war"
    war.write_bytes(WAR)
    since = registry.tls.log_size()
    result = run_module("xinchuang.cloud.app_image", dict(
        registry.auth_args(), artifact=str(war), base=["base/tomcat:10"], image="apps/shop:created",
        families=FAMILIES, created="yesterday"))
    assert result.get("failed") and "created 'yesterday' is not an RFC 3339 time" in result["msg"], result
    assert result["requests"] == 0
    assert registry.tls.settled_access_lines(since) == []
