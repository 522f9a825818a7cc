"""xinchuang.cloud.image_sync between three real docker-registry processes (TLS + htpasswd).

The copies are read back with skopeo (an independent client): the destination serves the
upstream's index byte for byte and every child and blob of it (``skopeo copy --all`` out of
the destination succeeds). Requests and writes are counted from the registries' access logs.
"""

import hashlib
import json
import os
import subprocess

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from tests.integration.fixtures_registry import (
    AccessCount, make_image, push_index, request_method, write_lines)
from tests.integration.image_sync.conftest import REPOSITORIES, TAG

FIVE = ["amd64", "arm64", "loong64", "sw64", "mips64le"]
# How the module reports a source lacking what the trimmed mirror lacks (table order).
TRIMMED_REASON = "missing platforms: loong64, sw64, mips64le"


def assert_ok(result):
    assert not result.get("failed"), result.get("msg", result)


def catalogue_args(servers, prefix, images=None, sources=("mirror", "upstream"), **extra):
    args = dict(
        images=images or [{"repository": r, "tag": TAG} for r in REPOSITORIES],
        sources=[servers.endpoint(s) for s in sources],
        destination=servers.endpoint("destination", prefix=prefix),
        required_platforms=FIVE)
    args.update(extra)
    return args


def by_repository(result):
    return dict((i["repository"], i) for i in result["images"])


class Counts(object):
    """Access-log counts of several registries around a block."""

    def __init__(self, servers, names=("upstream", "mirror", "destination")):
        self.counters = dict((n, AccessCount(servers[n])) for n in names)

    def __enter__(self):
        for counter in self.counters.values():
            counter.__enter__()
        return self

    def __exit__(self, *exc):
        for counter in self.counters.values():
            counter.__exit__(*exc)

    def __getitem__(self, name):
        return self.counters[name]

    def total(self):
        return sum(len(c.lines) for c in self.counters.values())


def dest_budget(image):
    """Destination requests the module's model predicts for one copied image: a HEAD of the
    tag, one POST per blob (plus a PUT when uploaded), one PUT per manifest."""
    return (1 + image["blobs_present"] + image["blobs_mounted"] + 2 * image["blobs_uploaded"]
            + image["manifests_copied"])


def test_trimmed_mirror_is_skipped_and_destination_serves_upstream_index_four_pass(
        registry_set, catalogue, image_sync):
    images = [{"repository": r, "tag": TAG} for r in REPOSITORIES]
    # app-2 asks only what the trimmed mirror has: the mirror serves it.
    images[2]["platforms"] = ["x86_64", "aarch64"]
    args = catalogue_args(registry_set, "four", images=images)

    with Counts(registry_set) as check_counts:
        check = image_sync(check=True, diff=True, **args)
    assert_ok(check)
    assert check["changed"] is True
    assert all(i["changed"] for i in check["images"])
    assert check_counts["destination"].writes == [], "check mode wrote"
    assert check["diff"]["before"] == dict(
        ("%s/four/%s:%s" % (registry_set.host("destination"), r, TAG), None)
        for r in REPOSITORIES)

    with Counts(registry_set) as counts:
        real = image_sync(diff=True, **args)
    assert_ok(real)
    assert real["changed"] is True
    got = by_repository(real)
    mirror, upstream = registry_set.host("mirror"), registry_set.host("upstream")
    assert [got[r]["source"] for r in REPOSITORIES] == [mirror, upstream, mirror, upstream]
    assert got["xc/app-0"]["skipped"] == []
    assert got["xc/app-1"]["skipped"] == [{"source": mirror, "reason": TRIMMED_REASON}]
    assert got["xc/app-2"]["skipped"] == []
    assert got["xc/app-3"]["skipped"] == [{"source": mirror,
                                           "reason": "xc/app-3:%s not found" % TAG}]
    assert got["xc/app-1"]["platforms"] == [arch.oci_platform(f) for f in arch.families()]
    assert got["xc/app-2"]["platforms"] == ["linux/amd64", "linux/arm64/v8"]

    # Byte for byte, as an independent client reads them.
    for repository in ("xc/app-0", "xc/app-1", "xc/app-3"):
        assert registry_set.raw("destination", "four/%s:%s" % (repository, TAG)) == \
            registry_set.raw("upstream", "%s:%s" % (repository, TAG)) == \
            catalogue.upstream[repository]
    assert registry_set.raw("destination", "four/xc/app-2:%s" % TAG) == \
        catalogue.mirror["xc/app-2"]

    # The module's request count is what the three registries served, and the destination
    # served what the module's model of a copy says.
    assert real["requests"] == counts.total()
    assert len(counts["destination"].lines) == sum(dest_budget(i) for i in real["images"])
    assert got["xc/app-1"]["blobs_uploaded"] == 2 * 5
    assert got["xc/app-1"]["manifests_copied"] == 5 + 1
    assert got["xc/app-2"]["manifests_copied"] == 2 + 1
    # The index PUT under the tag is the last write of each image.
    for repository in REPOSITORIES:
        own = [line for line in counts["destination"].writes
               if " /v2/four/%s/" % repository in line]
        assert "/manifests/%s " % TAG in own[-1], own[-1]

    for result in (image_sync(check=True, diff=True, **args), None):
        if result is None:
            with Counts(registry_set) as again_counts:
                result = image_sync(**args)
            # A second run copies nothing: one HEAD per image at the destination.
            assert again_counts["destination"].writes == []
            assert [request_method(line) for line in again_counts["destination"].lines] == \
                ["HEAD"] * len(REPOSITORIES)
            assert write_lines(again_counts["upstream"].lines) == []
        assert_ok(result)
        assert result["changed"] is False
        assert [i["digest"] for i in result["images"]] == [i["digest"] for i in real["images"]]
        assert all(i["previous_digest"] == i["digest"] for i in result["images"])


def test_destination_holds_every_child_and_blob(registry_set, catalogue, image_sync,
                                                tmp_path):
    result = image_sync(**catalogue_args(registry_set, "whole",
                                         images=[{"repository": "xc/app-1", "tag": TAG}]))
    assert_ok(result)
    out = tmp_path / "copy"
    proc = subprocess.run(
        ["skopeo", "copy", "--all", "--quiet"] + registry_set.skopeo_args("destination")
        + ["docker://%s/whole/xc/app-1:%s" % (registry_set.host("destination"), TAG),
           "oci:%s:app" % out], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    blobs = set(os.listdir(out / "blobs" / "sha256"))
    for image in catalogue.children["xc/app-1"]:
        for data in (image["manifest"], image["config"], image["layer"]):
            assert hashlib.sha256(data).hexdigest() in blobs


def test_no_source_serving_a_required_platform_fails_naming_it_nothing_written(
        registry_set, catalogue, image_sync):
    # The mirror serves app-0 whole but app-1 trimmed: the task must not copy app-0 either.
    args = catalogue_args(registry_set, "unserved", sources=("mirror",), images=[
        {"repository": "xc/app-0", "tag": TAG}, {"repository": "xc/app-1", "tag": TAG}])
    with Counts(registry_set) as counts:
        result = image_sync(**args)
    assert result.get("failed") is True
    msg = result["msg"]
    assert "xc/app-1:%s" % TAG in msg and TRIMMED_REASON in msg
    assert registry_set.host("mirror") in msg
    assert "nothing was copied" in msg
    assert "xc/app-0" not in msg.split("image(s) whole")[1], msg
    assert counts["destination"].writes == []
    assert all(request_method(line) == "HEAD" for line in counts["destination"].lines)


def test_bad_input_fails_naming_the_value_before_any_request(registry_set, catalogue,
                                                             image_sync):
    cases = [
        (dict(required_platforms=["amd64", "s390x"]), "s390x"),
        (dict(images=[{"repository": "XC/App", "tag": TAG}]), "'XC/App'"),
        (dict(images=[{"repository": "xc/app-0", "tag": TAG, "platforms": ["ppc64le"]}]),
         "ppc64le"),
        (dict(images=[{"repository": "xc/app-0", "tag": TAG},
                      {"repository": "xc/app-0", "tag": TAG}]), "images[0]"),
    ]
    for extra, named in cases:
        args = catalogue_args(registry_set, "bad")
        args.update(extra)
        with Counts(registry_set) as counts:
            result = image_sync(**args)
        assert result.get("failed") is True, extra
        assert named in result["msg"], result["msg"]
        assert counts.total() == 0, (extra, counts["destination"].lines)


def test_offline_layout_is_copied_byte_for_byte(registry_set, catalogue, image_sync,
                                                tmp_path):
    layout = tmp_path / "bundle-images"
    for repository in ("xc/app-1", "xc/app-3"):
        # An independent tool writes the bundle, the way hack scripts would.
        proc = subprocess.run(
            ["skopeo", "copy", "--all", "--preserve-digests", "--quiet"]
            + registry_set.skopeo_args("upstream")
            + ["docker://%s/%s:%s" % (registry_set.host("upstream"), repository, TAG),
               "oci:%s:%s:%s" % (layout, repository, TAG)],
            capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr
    args = dict(offline=True, offline_layout=str(layout),
                images=[{"repository": "xc/app-1", "tag": TAG},
                        {"repository": "xc/app-3", "tag": TAG}],
                destination=registry_set.endpoint("destination", prefix="offline"),
                required_platforms=FIVE)
    with Counts(registry_set, ("destination",)) as counts:
        first = image_sync(**args)
    assert_ok(first)
    assert first["changed"] is True
    assert [i["source"] for i in first["images"]] == [str(layout)] * 2
    for repository in ("xc/app-1", "xc/app-3"):
        assert registry_set.raw("destination", "offline/%s:%s" % (repository, TAG)) == \
            catalogue.upstream[repository]
    assert len(counts["destination"].lines) == sum(dest_budget(i) for i in first["images"])

    with Counts(registry_set, ("destination",)) as counts:
        second = image_sync(**args)
    assert_ok(second)
    assert second["changed"] is False
    assert counts["destination"].writes == []

    # An image the layout lacks fails naming the layout, before any write.
    args["images"] = [{"repository": "xc/app-0", "tag": TAG}]
    with Counts(registry_set, ("destination",)) as counts:
        missing = image_sync(**args)
    assert missing.get("failed") is True
    assert str(layout) in missing["msg"] and "xc/app-0:%s not found" % TAG in missing["msg"]
    assert counts["destination"].lines == []


def test_half_the_blobs_present_are_not_sent_again(registry_set, catalogue, image_sync):
    client = registry_set.client("destination")
    repository = "half/xc/app-3"
    present = []
    for family in ("c86", "loongarch"):
        image = catalogue.child("xc/app-3", family)
        client.push_blob(repository, image["layer"])
        client.push_blob(repository, image["config"])
        present += [image["layer"], image["config"]]
    with Counts(registry_set, ("destination",)) as counts:
        result = image_sync(**catalogue_args(registry_set, "half", images=[
            {"repository": "xc/app-3", "tag": TAG}]))
    assert_ok(result)
    image = result["images"][0]
    assert image["blobs_present"] == len(present)
    assert image["blobs_uploaded"] == 2 * 5 - len(present)
    uploads = [line for line in counts["destination"].writes
               if request_method(line) == "PUT" and "/blobs/uploads/" in line]
    assert len(uploads) == image["blobs_uploaded"]
    sent = sum(len(image["layer"]) + len(image["config"]) + len(image["manifest"])
               for image in catalogue.children["xc/app-3"]) - sum(len(b) for b in present)
    assert result["bytes_sent"] == sent + len(catalogue.upstream["xc/app-3"])


def test_update_keeps_the_children_already_there(registry_set, catalogue, image_sync):
    trimmed = catalogue_args(registry_set, "update", sources=("mirror",), images=[
        {"repository": "xc/app-2", "tag": TAG, "platforms": ["amd64", "arm64"]}])
    assert_ok(image_sync(**trimmed))
    with Counts(registry_set, ("destination",)) as counts:
        full = image_sync(**catalogue_args(registry_set, "update", images=[
            {"repository": "xc/app-2", "tag": TAG}]))
    assert_ok(full)
    image = full["images"][0]
    assert image["changed"] is True
    assert image["previous_digest"] != image["digest"]
    assert image["source"] == registry_set.host("upstream")
    # amd64 and arm64 were there: only the three others and the index are written.
    assert image["manifests_copied"] == 3 + 1
    assert image["blobs_uploaded"] == 3 * 2
    heads = [line for line in counts["destination"].lines if request_method(line) == "HEAD"]
    assert len(heads) == 1 + 5
    assert json.loads(registry_set.raw("destination", "update/xc/app-2:%s" % TAG)) == \
        json.loads(catalogue.upstream["xc/app-2"])


def test_a_broken_source_image_fails_alone_and_its_tag_is_not_written(
        registry_set, catalogue, image_sync):
    upstream = registry_set.client("upstream")
    images = [make_image(arch.platform_dict(f), content="broken %s\n" % f)
              for f in arch.families()]
    push_index(upstream, "xc/broken", TAG, images)
    # The loong64 child's layer vanishes from the source after its index was published.
    lost = mi.digest_of(images[2]["layer"])
    resp = upstream.request("DELETE", "/v2/xc/broken/blobs/%s" % lost, "xc/broken", write=True)
    assert resp.status_code == 202, resp.status_code

    result = image_sync(**catalogue_args(registry_set, "broken", sources=("upstream",), images=[
        {"repository": "xc/app-0", "tag": TAG}, {"repository": "xc/broken", "tag": TAG}]))
    assert result.get("failed") is True, result
    assert "1 of 2 images failed" in result["msg"]
    assert "broken/xc/broken:%s" % TAG in result["msg"] and lost in result["msg"]
    # The other image was copied whole; the broken one's tag points at nothing.
    assert registry_set.raw("destination", "broken/xc/app-0:%s" % TAG) == \
        catalogue.upstream["xc/app-0"]
    dest = registry_set.client("destination")
    assert dest.head_manifest(mi.parse_reference("broken/xc/broken:%s" % TAG)) is None
    assert [i["changed"] for i in result["images"]] == [True, True]
