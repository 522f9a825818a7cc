"""The image platform check the storage roles run before applying CSI drivers."""

from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index

NODES = {"c1": "x86_64", "a1": "aarch64", "l1": "loongarch64", "l2": "loong64"}


def test_node_platforms_are_distinct_and_sorted():
    assert manifest_index.node_platforms(NODES) == ["linux/amd64", "linux/arm64/v8", "linux/loong64"]


def test_an_image_serving_every_node_has_no_problem():
    images = [{"ref": "r/csi:1", "exists": True, "platforms": ["linux/amd64", "linux/arm64/v8", "linux/loong64"]}]
    assert manifest_index.node_image_problems(images, NODES) == []


def test_a_missing_child_names_image_platform_and_nodes():
    images = [{"ref": "r/csi:1", "exists": True, "platforms": ["linux/amd64", "linux/arm64"]}]
    problems = manifest_index.node_image_problems(images, NODES)
    assert len(problems) == 1
    assert "r/csi:1" in problems[0] and "linux/loong64" in problems[0] and "l1, l2" in problems[0]


def test_an_absent_image_is_named():
    problems = manifest_index.node_image_problems([{"ref": "r/x:1", "exists": False}], {"c1": "x86_64"})
    assert problems and "r/x:1 is not in the registry" in problems[0]
