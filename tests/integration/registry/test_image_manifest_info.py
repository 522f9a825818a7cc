"""xinchuang.cloud.image_manifest_info: the catalogue preflight, against the real registry."""

from tests.integration.ansible_run import run_module


def test_info_reports_platforms_and_missing(registry, images, image_manifest):
    made = image_manifest(repository="xc/app", tag="info", sources=images.sources(
        ["c86", "arm", "loongarch", "mips"]))
    assert not made.get("failed"), made
    args = dict(registry.auth_args(), concurrency=3,
                references=["xc/app:info", "xc/app:" + images.tag("sw64"), "xc/app:nope"],
                required_platforms=["x86_64", "sw_64"])
    for check in (False, True):
        result = run_module("xinchuang.cloud.image_manifest_info", args, check=check)
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] is False
        index, single, absent = result["images"]
        assert index["exists"] and index["digest"] == made["digest"]
        assert index["platforms"] == made["platforms"]
        assert [m["digest"] for m in index["manifests"]] == [
            m["digest"] for m in made["manifests"]]
        assert index["missing_platforms"] == ["linux/sw64"]
        assert single["platforms"] == ["linux/sw64"]
        assert single["digest"] == images.digest("sw64")
        assert single["missing_platforms"] == ["linux/amd64"]
        assert absent["exists"] is False
        assert absent["missing_platforms"] == ["linux/amd64", "linux/sw64"]
        assert result["all_present"] is False
        assert set(result["missing"]) == {"xc/app:info", "xc/app:" + images.tag("sw64"),
                                          "xc/app:nope"}
        # One GET per index or absent reference, two for a single image (manifest, config).
        assert result["requests"] == 4


def test_info_all_present(registry, images, image_manifest):
    made = image_manifest(repository="xc/app", tag="info-all", sources=images.sources())
    assert not made.get("failed"), made
    result = run_module("xinchuang.cloud.image_manifest_info", dict(
        registry.auth_args(), references=["xc/app:info-all"],
        required_platforms=images.platforms()))
    assert result["all_present"] is True and result["missing"] == {}
