"""tests/proof/images.py on image layouts written by the project's layout writer
(plugins/module_utils/images/oci_layout.py) around hand-made ELF programs:
a true child passes; a child whose program is of another machine, whose config contradicts its
index entry, or whose program is missing fails, each naming the child."""

import json
import os

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import oci_layout
from tests.proof import images
from tests.unit.test_elf import header

MACHINE = {"amd64": 62, "arm64": 183, "loong64": 258, "mips64le": 8}


def program(tmp_path, goarch):
    path = tmp_path / ("prog-" + goarch)
    path.write_bytes(header(MACHINE[goarch]) + b"\0" * 512)
    return str(path)


def oci_build(tmp_path, name, goarch, files=(), links=(), **config):
    """A layout of one layer: FILES [(dest, source, mode)], LINKS [(dest, target)], CONFIG the
    keywords of oci_layout.image_config."""
    out = str(tmp_path / name)
    oci_layout.write_layout(out, goarch, "t", oci_layout.layer(files=files, links=links),
                            oci_layout.image_config(**config))
    return out


def check(layout):
    return images.index_problems(images.LayoutBlobs(layout), images.read_layout_index(layout),
                                 os.path.basename(layout))


@pytest.mark.parametrize("goarch", sorted(MACHINE))
def test_a_true_child_has_no_problem(tmp_path, goarch):
    layout = oci_build(tmp_path, "pause", goarch, files=[("/pause", program(tmp_path, goarch), 0o755)],
                       entrypoint=["/pause"])
    assert check(layout) == []


def test_a_program_of_another_machine_is_named(tmp_path):
    # An amd64 pause inside an image that says arm64: the wrong-architecture seed.
    layout = oci_build(tmp_path, "pause", "arm64", files=[("/pause", program(tmp_path, "amd64"), 0o755)],
                       entrypoint=["/pause"])
    problems = check(layout)
    assert len(problems) == 1, problems
    assert "linux/arm64/v8" in problems[0] and "/pause is a program of amd64" in problems[0]
    assert "not of arm64" in problems[0]


def test_a_config_that_contradicts_its_index_entry_is_named(tmp_path):
    layout = oci_build(tmp_path, "pause", "amd64", files=[("/pause", program(tmp_path, "amd64"), 0o755)],
                       entrypoint=["/pause"])
    index = images.read_layout_index(layout)
    index["manifests"][0]["platform"] = {"os": "linux", "architecture": "loong64"}
    problems = images.index_problems(images.LayoutBlobs(layout), index, "pause")
    assert any("the config says linux/amd64, the index entry linux/loong64" in p for p in problems), problems
    # The program is checked against the entry's platform too.
    assert any("is a program of amd64" in p and "not of loong64" in p for p in problems), problems


def test_a_variant_missing_from_the_config_is_a_contradiction(tmp_path):
    layout = oci_build(tmp_path, "pause", "arm64", files=[("/pause", program(tmp_path, "arm64"), 0o755)],
                       entrypoint=["/pause"])
    index = images.read_layout_index(layout)
    index["manifests"][0]["platform"].pop("variant")
    problems = images.index_problems(images.LayoutBlobs(layout), index, "pause")
    assert problems == ["pause linux/arm64 (%s): the config says linux/arm64/v8, the index entry "
                        "linux/arm64" % index["manifests"][0]["digest"]]


def test_a_program_run_by_name_is_found_on_path_through_links(tmp_path):
    bb = program(tmp_path, "loong64")
    layout = oci_build(tmp_path, "busybox", "loong64", files=[("/bin/busybox", bb, 0o755)],
                       links=[("/bin/sh", "busybox"), ("/usr/bin/env", "../../bin/busybox")], cmd=["sh"])
    assert check(layout) == []
    with open(os.path.join(layout, "index.json")) as fh:
        assert json.load(fh)["manifests"][0]["platform"] == {"os": "linux", "architecture": "loong64"}


def test_a_program_missing_from_the_image_is_named(tmp_path):
    layout = oci_build(tmp_path, "busybox", "amd64", files=[("/bin/busybox", program(tmp_path, "amd64"), 0o755)],
                       cmd=["sleep"])
    problems = check(layout)
    assert len(problems) == 1 and "'sleep' (argv[0] of the config) is no file in the image" in problems[0]


def test_a_script_as_program_is_named(tmp_path):
    script = tmp_path / "entry.sh"
    script.write_text("#!/bin/sh\nexec /pause\n")
    layout = oci_build(tmp_path, "pause", "mips64le", files=[("/entry.sh", str(script), 0o755)],
                       entrypoint=["/entry.sh"])
    problems = check(layout)
    assert len(problems) == 1 and "not an ELF file" in problems[0] and "mips64le" in problems[0]


def test_links_are_written_as_symbolic_links_and_paths_are_not_given_twice(tmp_path):
    bb = program(tmp_path, "amd64")
    with pytest.raises(oci_layout.OciLayoutError, match="paths given twice .*: /bin/busybox"):
        oci_build(tmp_path, "twice", "amd64", files=[("/bin/busybox", bb, 0o644)], links=[("/bin/busybox", "sh")])
    assert not os.path.exists(str(tmp_path / "twice"))


def test_an_image_has_one_path_its_own_when_it_gives_one(tmp_path):
    given = oci_build(tmp_path, "given", "amd64", files=[("/p", program(tmp_path, "amd64"), 0o755)],
                      entrypoint=["/p"], env=["PATH=/opt/bin:/usr/bin", "A=1"])
    assert images.layout_config(given)["config"]["Env"] == ["PATH=/opt/bin:/usr/bin", "A=1"]
    default = oci_build(tmp_path, "default", "amd64", files=[("/p", program(tmp_path, "amd64"), 0o755)],
                        entrypoint=["/p"], env=["A=1"])
    assert [e.split("=", 1)[0] for e in images.layout_config(default)["config"]["Env"]] == ["PATH", "A"]
