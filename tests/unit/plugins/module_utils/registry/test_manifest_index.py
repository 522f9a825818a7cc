"""Pure logic of image indexes: references, platforms, deterministic bytes, diffs."""

import json

import pytest
from hypothesis import given, strategies as st

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import (
    UnknownArchitectureError,
)

HEX = "0123456789abcdef"
digests = st.text(alphabet=HEX, min_size=64, max_size=64).map(lambda h: "sha256:" + h)


def entry(family, media_type=mi.OCI_MANIFEST, size=400):
    return {"mediaType": media_type, "digest": mi.digest_of(family.encode()), "size": size,
            "platform": arch.platform_dict(family)}


@st.composite
def entry_sets(draw):
    fams = draw(st.lists(st.sampled_from(arch.families()), min_size=1, max_size=5,
                         unique=True))
    return [{"mediaType": mi.OCI_MANIFEST, "digest": draw(digests),
             "size": draw(st.integers(1, 10 ** 6)), "platform": arch.platform_dict(f)}
            for f in fams]


@given(entry_sets(), st.randoms(), st.sampled_from(["oci", "docker"]))
def test_index_bytes_do_not_depend_on_source_order(entries, rnd, fmt):
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    assert mi.build_index(entries, fmt) == mi.build_index(shuffled, fmt)


@given(entry_sets())
def test_index_round_trips_in_table_order(entries):
    data = mi.build_index(entries, "oci", {"b": "2", "a": "1"})
    doc = json.loads(data)
    assert doc["mediaType"] == mi.OCI_INDEX and doc["schemaVersion"] == 2
    assert list(doc["annotations"]) == ["a", "b"]
    got = mi.index_entries(doc)
    order = arch.families()
    want = sorted(entries, key=lambda e: order.index(arch.family_of(e["platform"]["architecture"])))
    assert [g["platform"] for g in got] == [arch.platform_string(e["platform"]) for e in want]
    assert [g["digest"] for g in got] == [e["digest"] for e in want]
    assert mi.digest_of(data) == mi.digest_of(mi.build_index(list(reversed(entries)), "oci",
                                                             {"a": "1", "b": "2"}))


def test_five_families_including_sw64_in_table_order():
    entries = [entry(f) for f in reversed(arch.families())]
    doc = json.loads(mi.build_index(entries, "docker"))
    assert doc["mediaType"] == mi.DOCKER_LIST
    assert [arch.platform_string(m["platform"]) for m in doc["manifests"]] == [
        "linux/amd64", "linux/arm64/v8", "linux/loong64", "linux/sw64", "linux/mips64le"]
    assert "annotations" not in doc


def test_docker_list_refuses_annotations():
    with pytest.raises(mi.ManifestError, match="format: oci"):
        mi.build_index([entry("c86")], "docker", {"a": "b"})


@pytest.mark.parametrize("first,second", [
    ("aarch64", "linux/arm64/v8"), ("arm64", "linux/arm64"), ("x86_64", "amd64"),
    ("sw_64", "linux/sw64"), ("mips64el", "mips64le"), ("loongarch64", "loong64")])
def test_aliases_of_one_platform_are_duplicates(first, second):
    pairs = [(mi.normalize_platform(first), "a:1"), (mi.normalize_platform(second), "a:2")]
    with pytest.raises(mi.DuplicatePlatformError) as err:
        mi.check_duplicates(pairs)
    assert "a:1" in str(err.value) and "a:2" in str(err.value)


def test_unknown_architecture_names_what():
    with pytest.raises(UnknownArchitectureError, match="platform of source x:1.*s390x"):
        mi.normalize_platform("linux/s390x", "platform of source x:1")
    with pytest.raises(UnknownArchitectureError, match="config of y"):
        mi.platform_from_config({"architecture": "ppc64le", "os": "linux"}, "config of y")


def test_platform_from_config():
    assert mi.platform_from_config({"architecture": "arm64", "os": "linux"}) == {
        "os": "linux", "architecture": "arm64", "variant": "v8"}
    assert mi.platform_from_config({"architecture": "sw64", "os": "linux"}) == {
        "os": "linux", "architecture": "sw64"}
    with pytest.raises(mi.ManifestError, match="platform"):
        mi.platform_from_config({"os": "linux"})


@pytest.mark.parametrize("text,repo,tag,digest", [
    ("1.0-arm64", "lib/app", "1.0-arm64", None),
    ("lib/other:2", "lib/other", "2", None),
    ("other@sha256:" + "a" * 64, "other", None, "sha256:" + "a" * 64),
    ("sha256:" + "b" * 64, "lib/app", None, "sha256:" + "b" * 64),
    ("@sha256:" + "b" * 64, "lib/app", None, "sha256:" + "b" * 64),
    ("127.0.0.1:5000/lib/x:1", "lib/x", "1", None),
    ("lib/x:1@sha256:" + "c" * 64, "lib/x", "1", "sha256:" + "c" * 64),
])
def test_parse_reference(text, repo, tag, digest):
    ref = mi.parse_reference(text, default_repository="lib/app", registry="127.0.0.1:5000")
    assert (ref.repository, ref.tag, ref.digest) == (repo, tag, digest)
    assert ref.reference == (digest or tag)


@pytest.mark.parametrize("text,match", [
    ("other.io:5000/lib/x:1", "target registry"),
    ("Lib/X:1", "repository"),
    ("lib/x:bad tag", "tag"),
    ("lib/x@sha256:123", "digest"),
    ("", "empty"),
    ("lib/x", "neither"),
])
def test_parse_reference_errors(text, match):
    with pytest.raises(mi.InvalidReferenceError, match=match):
        mi.parse_reference(text, default_repository="lib/app", registry="127.0.0.1:5000")


components = st.from_regex(r"\A[a-z0-9]{1,8}(-[a-z0-9]{1,4})?\Z")
tags = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")


@given(st.lists(components, min_size=1, max_size=3), tags, st.one_of(st.none(), digests))
def test_reference_canonical_round_trip(parts, tag, digest):
    repo = "/".join(parts)
    text = "%s:%s" % (repo, tag) + ("@" + digest if digest else "")
    ref = mi.parse_reference(text, registry="r.example:5000")
    assert (ref.repository, ref.tag, ref.digest) == (repo, tag, digest)
    assert mi.parse_reference(ref.canonical(), registry="r.example:5000") == ref


platform_maps = st.dictionaries(st.sampled_from(["linux/" + arch.lookup(f).oci_arch
                                                 for f in arch.families()]), digests)


@given(platform_maps, platform_maps)
def test_diff_platforms_partitions_both_sides(before, after):
    d = mi.diff_platforms(before, after)
    assert set(d["added"]) | set(d["changed"]) | set(d["unchanged"]) == set(after)
    assert set(d["removed"]) | set(d["changed"]) | set(d["unchanged"]) == set(before)
    assert not set(d["added"]) & set(before)
    assert all(before[p] != after[p] for p in d["changed"])


def test_missing_platforms_accepts_any_name():
    present = ["linux/amd64", "linux/arm64/v8"]
    assert mi.missing_platforms(present, ["x86_64", "aarch64", "sw_64", "mips64el"]) == [
        "linux/sw64", "linux/mips64le"]
    assert mi.missing_platforms(present, None) == []


def test_index_entries_keep_unknown_platforms_flagged():
    doc = {"manifests": [
        {"digest": "sha256:" + "1" * 64, "mediaType": mi.OCI_MANIFEST, "size": 1,
         "platform": {"architecture": "loong64", "os": "linux"}},
        {"digest": "sha256:" + "2" * 64, "mediaType": mi.OCI_MANIFEST, "size": 1,
         "platform": {"architecture": "unknown", "os": "unknown"}}]}
    got = mi.index_entries(doc)
    assert [(g["platform"], g["known"]) for g in got] == [
        ("linux/loong64", True), ("unknown/unknown", False)]


def test_manifest_blobs_skip_foreign_layers():
    doc = {"config": {"digest": "sha256:c"}, "layers": [
        {"digest": "sha256:l1"}, {"digest": "sha256:l2", "urls": ["https://x"]}]}
    assert mi.manifest_blobs(doc) == ["sha256:c", "sha256:l1"]


VERSION = "org.opencontainers.image.version"


def test_config_label_reads_the_config_labels():
    assert mi.config_label({"config": {"Labels": {VERSION: "1.22.1"}}}, VERSION) == "1.22.1"
    assert mi.config_label({"config": {"Cmd": ["x"]}}, VERSION) is None
    assert mi.config_label({}, VERSION) is None


def test_same_label_returns_the_one_value():
    values = [("linux/amd64", "1.22.1-amd64", "1.22.1"), ("linux/arm64/v8", "1.22.1-arm64", "1.22.1")]
    assert mi.check_same_label("appstore/nginx:1.22.1", VERSION, values) == "1.22.1"


def test_a_mixed_index_is_refused_naming_each_childs_value():
    values = [("linux/amd64", "1.22.1-amd64", "1.22.1"), ("linux/loong64", "1.22.1-loong64", "1.30.6"),
              ("linux/arm64/v8", "1.22.1-arm64", "1.22.1")]
    with pytest.raises(mi.MixedLabelError) as err:
        mi.check_same_label("appstore/nginx:1.22.1", VERSION, values)
    msg = str(err.value)
    assert "appstore/nginx:1.22.1" in msg and VERSION in msg
    assert "'1.22.1': linux/amd64 (1.22.1-amd64), linux/arm64/v8 (1.22.1-arm64)" in msg
    assert "'1.30.6': linux/loong64 (1.22.1-loong64)" in msg
    assert "under its own tag" in msg


def test_a_child_without_the_label_is_named():
    values = [("linux/amd64", "a", "1.0"), ("linux/mips64le", "m", None)]
    with pytest.raises(mi.MixedLabelError, match=r"no label: linux/mips64le \(m\)"):
        mi.check_same_label("x/y:1.0", VERSION, values)
    with pytest.raises(mi.MixedLabelError, match="no label"):
        mi.check_same_label("x/y:1.0", VERSION, [("linux/amd64", "a", None)])


class _SiteError(Exception):
    pass


@pytest.mark.parametrize("value, allow_path, expected", [
    ("registry.local:5000", False, "registry.local:5000"),
    (" 10.20.0.5:5000/ ", False, "10.20.0.5:5000"),
    ("harbor.site/xinchuang", True, "harbor.site/xinchuang"),
])
def test_a_registry_host_is_its_host_and_port(value, allow_path, expected):
    assert mi.registry_host(value, "some_option", _SiteError, allow_path=allow_path) == expected


@pytest.mark.parametrize("value, allow_path, words", [
    ("https://registry.local:5000", True, ["no scheme)"]),
    ("registry.local:5000/v2", False, ["no scheme, no path"]),
    ("", False, ["''"]),
    (None, True, ["None"]),
])
def test_a_registry_host_that_is_not_one_is_named_with_the_option_and_the_fix(value, allow_path, words):
    """The one check behind appstore_registry(_endpoint), gateway_registry_endpoint and
    canary_weights' registry_endpoints: the caller's error, its option, the value, an example."""
    with pytest.raises(_SiteError) as err:
        mi.registry_host(value, "some_option", _SiteError, allow_path=allow_path, example="10.0.0.1:5000")
    for word in ["some_option %r" % (value,), "must be the registry's host[:port]", "e.g. 10.0.0.1:5000"] + words:
        assert word in str(err.value)
