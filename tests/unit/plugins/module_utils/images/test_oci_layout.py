"""The OCI layout writer (plugins/module_utils/images/oci_layout.py): reproducible bytes, the
layer's entries, the config, and the refusals. The golden digests tie the bytes written to
recipes.TOOL_IDS['oci.py']: a change of the bytes without a new tool word would give cached
images and fresh ones two digests for one recipe."""

import json
import os
import tarfile

import pytest

from tests.proof import images
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import oci_layout
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import recipes

ELF_HEADER = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00\xb7\x00" + b"\0" * 44  # EM_AARCH64


def fixture_files(tmp_path):
    program = tmp_path / "program"
    program.write_bytes(ELF_HEADER + bytes(range(256)) * 4)
    text = tmp_path / "text"
    text.write_text("nameserver 127.0.0.1\n")
    return str(program), str(text)


def golden_image(tmp_path, out="layout"):
    """An image with a file of each mode, a capability, links, a directory, labels, ports."""
    program, text = fixture_files(tmp_path)
    lay = oci_layout.layer(files=[("/bin/prog", program, 0o755), ("/etc/resolv.conf", text, 0o644)],
                           links=[("/bin/sh", "prog"), ("/usr/bin", "../bin")], dirs=[("/tmp", 0o1777)],
                           caps={"/bin/prog": ["net_bind_service"]})
    config = oci_layout.image_config(entrypoint=["/bin/prog", "--x"], cmd=["", "y"], user="65532:65532",
                                     workdir="/w", env=["A=1"], expose=["53/udp", "8080/tcp"],
                                     labels=["b=2", "a=1"], created_by="golden")
    return oci_layout.write_layout(str(tmp_path / out), "arm64", "t", lay, config)


# recipes.TOOL_IDS['oci.py'] -> the digest of golden_image. When the bytes change, give the tool
# a new word in recipes.TOOL_IDS and record its digest here.
GOLDEN = {
    "sha256:9b569bcd6ba26dbbefdacd43c736fd8efe6f610ba1a2ffecb1490686a69e7ecd":
        "sha256:fc0d413c6ad5ab48f87762c706ae15fdcfaff86784850daf4361e8170d01375b",
}


def test_the_bytes_written_are_those_the_tool_word_stands_for(tmp_path):
    digest = golden_image(tmp_path)["digest"]
    word = recipes.TOOL_IDS["oci.py"]
    assert GOLDEN.get(word) == digest, (
        "the layout bytes changed (%s) but recipes.TOOL_IDS['oci.py'] did not: give it a new word "
        "and record the digest in GOLDEN" % digest)


def test_the_same_inputs_give_the_same_digest(tmp_path):
    assert golden_image(tmp_path, "a") == golden_image(tmp_path, "b")


def test_the_layer_holds_what_was_asked_owned_by_root_at_time_zero(tmp_path):
    golden_image(tmp_path)
    layout = str(tmp_path / "layout")
    config = images.layout_config(layout)
    assert config["architecture"] == "arm64" and config["variant"] == "v8" and config["os"] == "linux"
    body = config["config"]
    assert body["Entrypoint"] == ["/bin/prog", "--x"] and body["Cmd"] == ["", "y"]
    assert body["Env"] == [oci_layout.PATH_ENV, "A=1"] and body["WorkingDir"] == "/w"
    assert body["ExposedPorts"] == {"53/udp": {}, "8080/tcp": {}} and body["Labels"] == {"a": "1", "b": "2"}
    assert config["history"] == [{"created": oci_layout.CREATED, "created_by": "golden"}]
    index = json.load(open(os.path.join(layout, "index.json")))
    manifest = json.load(open(os.path.join(layout, "blobs", "sha256", index["manifests"][0]["digest"].split(":")[1])))
    blob = os.path.join(layout, "blobs", "sha256", manifest["layers"][0]["digest"].split(":")[1])
    with tarfile.open(blob) as tar:
        members = {m.name: m for m in tar.getmembers()}
    # tarfile reads a directory's name without its slash
    assert sorted(members) == ["bin", "bin/prog", "bin/sh", "etc", "etc/resolv.conf", "tmp", "usr", "usr/bin"]
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m in members.values())
    assert members["bin/prog"].mode == 0o755 and members["tmp"].mode == 0o1777
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "prog"
    cap = members["bin/prog"].pax_headers["SCHILY.xattr.security.capability"].encode("ascii")
    assert cap == oci_layout.file_capability(["net_bind_service"]) and cap[5] == 1 << 2  # permitted bit 10: byte 5


@pytest.mark.parametrize("lay, message", [
    (oci_layout.layer(files=[("/a", "/etc/hostname", 0o644)], links=[("/a", "b")]), "paths given twice .*: /a"),
    (oci_layout.layer(dirs=[("/d", 0o755), ("/d", 0o700)]), "paths given twice .*: /d"),
    (oci_layout.layer(files=[("/a", "/etc/hostname", 0o644)], caps={"/b": ["net_raw"]}),
     "capabilities for files not in the image: /b"),
    (oci_layout.layer(files=[("/a", "/etc/hostname", 0o644)], caps={"/a": ["sys_admin"]}),
     "unknown capability 'sys_admin'; known: net_admin, net_bind_service, net_raw"),
])
def test_a_layer_that_cannot_be_written_is_refused_before_anything_is_written(tmp_path, lay, message):
    with pytest.raises(oci_layout.OciLayoutError, match=message):
        oci_layout.write_layout(str(tmp_path / "out"), "amd64", "t", lay, oci_layout.image_config())
    assert os.listdir(str(tmp_path)) == []


def test_an_existing_layout_is_not_overwritten(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(oci_layout.OciLayoutError, match="exists"):
        oci_layout.write_layout(str(tmp_path / "out"), "amd64", "t", oci_layout.layer(), oci_layout.image_config())


def test_the_platform_is_the_models(tmp_path):
    assert oci_layout.platform_text("aarch64") == "linux/arm64/v8"
    assert oci_layout.platform_text("mips64el") == "linux/mips64le"
    assert oci_layout.platform_text("loongarch64") == "linux/loong64"
