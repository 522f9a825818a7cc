# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of an application image (plugins/module_utils/images/app_image.py): where a WAR or a JAR
goes, the layer made the same way every time, each child's config and manifest."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_image
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.images.app_image import AppImageError

WAR = b"PK\x03\x04 a war"


@pytest.mark.parametrize("name, kind, path, context", [
    ("shop.war", "war", "/var/lib/tomcat/webapps/shop.war", "/shop"),
    ("ROOT.war", "war", "/var/lib/tomcat/webapps/ROOT.war", "/"),
    ("/tmp/build/target/hello-1.0.WAR", "war", "/var/lib/tomcat/webapps/hello-1.0.war", "/hello-1.0"),
])
def test_a_war_goes_to_tomcat_s_webapps_under_its_context_path(name, kind, path, context):
    place = app_image.placement(name)
    assert (place["kind"], place["path"], place["context_path"], place["port"], place["entrypoint"]) == (
        kind, path, context, 8080, None)


def test_a_jar_is_the_entrypoint_on_the_port_given():
    place = app_image.placement("svc.jar", 9000)
    assert place == {"kind": "jar", "path": "/app/svc.jar", "context_path": "/", "port": 9000,
                     "entrypoint": ["java", "-jar", "/app/svc.jar"]}


@pytest.mark.parametrize("name, port, words", [
    ("svc.jar", None, ["svc.jar is a JAR", "app_port"]),
    ("site.zip", None, ["site.zip", "neither a WAR nor a JAR"]),
    ("my app.war", None, ["'my app.war'", "rename"]),
])
def test_an_artefact_it_cannot_place_is_named(name, port, words):
    with pytest.raises(AppImageError) as err:
        app_image.placement(name, port)
    for word in words:
        assert word in str(err.value)


def test_the_layer_is_the_same_bytes_every_time_and_holds_the_file_root_owned():
    blob, diff_id, digest = app_image.layer(WAR, "/var/lib/tomcat/webapps/shop.war", mtime=1700000000)
    again = app_image.layer(WAR, "/var/lib/tomcat/webapps/shop.war", mtime=1700000000)
    assert (blob, diff_id, digest) == again
    assert digest == mi.digest_of(blob)
    raw = gzip.decompress(blob)
    assert diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["var", "var/lib", "var/lib/tomcat", "var/lib/tomcat/webapps",
                                             "var/lib/tomcat/webapps/shop.war"]
        assert all(m.uid == 0 and m.gid == 0 and m.mtime == 1700000000 for m in members)
        assert [oct(m.mode) for m in members] == ["0o755"] * 4 + ["0o644"]
        assert tar.extractfile(members[-1]).read() == WAR
    # Another artefact, another layer.
    assert app_image.layer(WAR + b"!", "/var/lib/tomcat/webapps/shop.war", mtime=1700000000)[2] != digest


BASE_CONFIG = {"architecture": "arm64", "os": "linux", "created": "2026-12-01T00:00:00Z",
               "config": {"User": "65532:65532", "Entrypoint": ["/usr/bin/java"], "Cmd": ["start"],
                          "ExposedPorts": {"8080/tcp": {}}, "Labels": {"a": "b"}},
               "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
               "history": [{"created_by": "base"}]}


def test_the_child_config_adds_the_layer_labels_and_history_and_keeps_the_base_s_user_and_entrypoint():
    place = app_image.placement("shop.war")
    labels = app_image.labels(source="https://git.example/shop", revision="abc123", title="shop")
    out = json.loads(app_image.child_config(BASE_CONFIG, "sha256:" + "2" * 64, place, labels, "2026-12-06T00:00:00Z"))
    assert out["rootfs"]["diff_ids"] == ["sha256:" + "1" * 64, "sha256:" + "2" * 64]
    assert out["config"]["User"] == "65532:65532" and out["config"]["Entrypoint"] == ["/usr/bin/java"]
    assert out["config"]["Labels"] == {"a": "b", "org.opencontainers.image.source": "https://git.example/shop",
                                       "org.opencontainers.image.revision": "abc123",
                                       "org.opencontainers.image.title": "shop"}
    assert out["created"] == "2026-12-06T00:00:00Z" and out["architecture"] == "arm64"
    assert out["history"][-1] == {"created": "2026-12-06T00:00:00Z",
                                  "created_by": "xinchuang.cloud app_image: /var/lib/tomcat/webapps/shop.war"}
    assert BASE_CONFIG["rootfs"]["diff_ids"] == ["sha256:" + "1" * 64]  # the base's is left alone


def test_a_jar_child_runs_the_jar_and_exposes_its_port():
    out = json.loads(app_image.child_config(BASE_CONFIG, "sha256:" + "2" * 64, app_image.placement("svc.jar", 9000),
                                            {}, "2026-12-06T00:00:00Z"))
    assert out["config"]["Entrypoint"] == ["java", "-jar", "/app/svc.jar"] and out["config"]["Cmd"] == []
    assert out["config"]["ExposedPorts"] == {"8080/tcp": {}, "9000/tcp": {}}


def test_a_config_without_layers_is_refused():
    with pytest.raises(AppImageError) as err:
        app_image.child_config({"config": {}}, "sha256:x", app_image.placement("a.war"), {}, "t")
    assert "rootfs.diff_ids" in str(err.value)


@pytest.mark.parametrize("media_type, layer_type, config_type", [
    (mi.OCI_MANIFEST, app_image.OCI_LAYER, app_image.OCI_CONFIG),
    (mi.DOCKER_MANIFEST, app_image.DOCKER_LAYER, app_image.DOCKER_CONFIG),
])
def test_the_child_manifest_is_the_base_s_layers_and_the_new_one_in_the_base_s_format(media_type, layer_type, config_type):
    base = {"schemaVersion": 2, "mediaType": media_type, "config": {"mediaType": config_type, "digest": "sha256:c",
                                                                    "size": 1},
            "layers": [{"mediaType": layer_type, "digest": "sha256:" + "1" * 64, "size": 10, "annotations": {"x": "y"}}]}
    config, blob = b"{}", b"layer"
    out = json.loads(app_image.child_manifest(base, config, blob))
    assert out["mediaType"] == media_type
    assert out["config"] == {"mediaType": config_type, "digest": mi.digest_of(config), "size": 2}
    assert out["layers"] == [{"mediaType": layer_type, "digest": "sha256:" + "1" * 64, "size": 10},
                             {"mediaType": layer_type, "digest": mi.digest_of(blob), "size": 5}]


def test_an_index_as_child_is_refused_naming_it():
    with pytest.raises(AppImageError) as err:
        app_image.child_manifest({"mediaType": mi.OCI_INDEX}, b"{}", b"x", what="base tomcat:10 (arm64)")
    assert "base tomcat:10 (arm64)" in str(err.value) and mi.OCI_INDEX in str(err.value)


@pytest.mark.parametrize("text, host, rest", [
    ("xc-lab-registry:5000/apps/shop:1.0", "xc-lab-registry:5000", "apps/shop:1.0"),
    ("registry.local/apps/shop:1.0", "registry.local", "apps/shop:1.0"),
    ("apps/shop:1.0", None, "apps/shop:1.0"),
    ("localhost/shop@sha256:" + "a" * 64, "localhost", "shop@sha256:" + "a" * 64),
])
def test_a_reference_s_registry_is_split_from_the_rest(text, host, rest):
    assert app_image.split_registry(text, "image") == (host, rest)


def test_the_image_and_its_base_live_in_one_registry():
    assert app_image.same_registry("r:5000/apps/a:1", ["r:5000/appstore/tomcat:10"]) == "r:5000"
    assert app_image.same_registry("apps/a:1", ["appstore/tomcat:10", "r:5000/appstore/tomcat:11"]) == "r:5000"
    assert app_image.same_registry("apps/a:1", ["appstore/tomcat:10"]) is None
    with pytest.raises(AppImageError) as err:
        app_image.same_registry("r:5000/apps/a:1", ["r:5000/tomcat:10", "other.example/tomcat:11"])
    assert "two registries (r:5000, other.example)" in str(err.value) and "image_sync" in str(err.value)
    with pytest.raises(AppImageError) as err:
        app_image.same_registry("apps/a:1", ["r:5000/tomcat:10", "other.example/tomcat:11"])
    assert "other.example/tomcat:11" in str(err.value)


TOMCAT_BASES = [("tomcat:10.1.55", ["linux/amd64", "linux/arm64/v8", "linux/mips64le"]),
                ("tomcat:10.1.60", ["linux/loong64"])]


def test_each_family_takes_its_child_from_the_first_base_that_has_it():
    assert app_image.choose_bases(["linux/amd64", "linux/loong64", "linux/arm64/v8"], TOMCAT_BASES) == [0, 1, 0]
    both = TOMCAT_BASES + [("tomcat:latest", ["linux/amd64", "linux/loong64"])]
    assert app_image.choose_bases(["linux/loong64", "linux/amd64"], both) == [1, 0]


def test_a_family_no_base_has_is_refused_naming_what_each_base_has():
    with pytest.raises(AppImageError) as err:
        app_image.choose_bases(["linux/amd64", "linux/sw64"], TOMCAT_BASES)
    text = str(err.value)
    assert "no base has linux/sw64" in text and "tomcat:10.1.60 has linux/loong64" in text, text
    with pytest.raises(AppImageError) as err:
        app_image.choose_bases(["linux/amd64"], [])
    assert "base is empty" in str(err.value)


def test_the_image_time_is_fixed_unless_given_so_a_rebuilt_artefact_gives_the_same_image():
    assert app_image.image_time() == ("1970-01-01T00:00:01Z", 1)
    assert app_image.image_time("2026-12-01T08:00:00Z") == ("2026-12-01T08:00:00Z", 1796112000)


@pytest.mark.parametrize("bad", ["2026-12-01", "2026-12-01T08:00:00+08:00", "2026-13-01T08:00:00Z", "yesterday"])
def test_a_created_time_that_is_not_rfc3339_utc_is_named_with_the_form_wanted(bad):
    with pytest.raises(app_image.AppImageError) as err:
        app_image.image_time(bad)
    assert repr(bad) in str(err.value) and "2026-12-01T08:00:00Z" in str(err.value)
