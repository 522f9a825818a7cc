"""Pure logic of image_sync: the catalogue, prefixes, whether a source serves an image whole,
and the messages of skipped sources and unserved images."""

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import image_sync_plan as plan
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi

FIVE = [arch.oci_platform(f) for f in arch.families()]


def index(platforms):
    return {"schemaVersion": 2, "mediaType": mi.OCI_INDEX, "manifests": [
        {"mediaType": mi.OCI_MANIFEST, "digest": "sha256:" + "%064x" % i, "size": 1,
         "platform": arch.parse_platform(p)} for i, p in enumerate(platforms)]}


@pytest.mark.parametrize("prefix, repository, expected", [
    ("", "library/nginx", "library/nginx"), (None, "app", "app"),
    ("mirror/library", "nginx", "mirror/library/nginx"), ("/platform/", "app", "platform/app")])
def test_join_repository(prefix, repository, expected):
    assert plan.join_repository(prefix, repository) == expected


def test_skip_reason_names_platforms_as_people_write_them():
    assert plan.missing_reason(["linux/loong64", "linux/mips64le"]) == \
        "missing platforms: loong64, mips64le"
    assert plan.missing_reason(["linux/arm64/v8"]) == "missing platforms: arm64/v8"


def test_a_trimmed_index_is_judged_by_the_architecture_model():
    served = plan.served_platforms(mi.OCI_INDEX, index(["linux/amd64", "linux/arm64/v8"]))
    wanted = plan.normalize_platforms(["x86_64", "aarch64", "loongarch64", "sw_64", "mips64el"],
                                      "required_platforms")
    assert wanted == FIVE
    assert plan.judge(served, wanted) == "missing platforms: loong64, sw64, mips64le"
    assert plan.judge(plan.served_platforms(mi.OCI_INDEX, index(FIVE)), wanted) is None
    assert plan.judge(served, []) is None


def test_unknown_platforms_of_an_index_are_not_served_platforms():
    doc = index(["linux/amd64"])
    doc["manifests"].append({"mediaType": mi.OCI_MANIFEST, "digest": "sha256:" + "f" * 64,
                             "size": 1, "platform": {"os": "unknown",
                                                     "architecture": "unknown"}})
    assert plan.served_platforms(mi.OCI_INDEX, doc) == ["linux/amd64"]


def test_a_single_image_serves_its_config_platform():
    assert plan.served_platforms(mi.OCI_MANIFEST, {}, "linux/loong64") == ["linux/loong64"]


def test_images_take_their_own_platforms_or_the_required_ones():
    images = plan.normalize_images(
        [{"repository": "library/nginx", "tag": "1.27"},
         {"repository": "library/redis", "tag": "7", "platforms": ["arm64", "amd64"]}],
        ["amd64", "loong64"])
    assert images[0] == {"repository": "library/nginx", "tag": "1.27",
                         "ref": "library/nginx:1.27",
                         "platforms": ["linux/amd64", "linux/loong64"]}
    assert images[1]["platforms"] == ["linux/amd64", "linux/arm64/v8"]


def test_every_bad_item_is_named_at_once():
    with pytest.raises(plan.ImageSyncError) as err:
        plan.normalize_images([
            {"repository": "Library/Nginx", "tag": "1"},
            {"repository": "ok", "tag": "bad tag"},
            {"repository": "ok", "tag": "1", "platforms": ["s390x"]},
            {"repository": "dup", "tag": "1"}, {"repository": "dup", "tag": "1"}])
    msg = str(err.value)
    assert "images[0]" in msg and "'Library/Nginx'" in msg
    assert "images[1]" in msg and "'bad tag'" in msg
    assert "images[2]" in msg and "s390x" in msg
    assert "images[4]" in msg and "images[3]" in msg


def test_an_unknown_required_platform_is_named():
    with pytest.raises(Exception) as err:
        plan.normalize_images([{"repository": "a", "tag": "1"}], ["amd64", "ppc64le"])
    assert "ppc64le" in str(err.value) and "required_platforms" in str(err.value)


def test_empty_catalogue_is_refused():
    with pytest.raises(plan.ImageSyncError):
        plan.normalize_images([], None)


def test_unserved_error_names_image_platforms_and_each_source_reason():
    err = plan.unserved_error([{"ref": "library/nginx:1.27", "platforms": FIVE, "skipped": [
        {"source": "mirror.example.cn", "reason": "missing platforms: loong64"},
        {"source": "registry-1.docker.io", "reason": "library/nginx:1.27 not found"}]}])
    msg = str(err)
    assert "library/nginx:1.27 (must serve amd64, arm64/v8, loong64, sw64, mips64le)" in msg
    assert "mirror.example.cn: missing platforms: loong64" in msg
    assert "registry-1.docker.io: library/nginx:1.27 not found" in msg
    assert "nothing was copied" in msg
