"""The product's image builder: playbooks/images.yml (module xinchuang.cloud.offline_images) run by
ansible-playbook on this machine, against the real image cache and a real registry (CNCF
distribution with TLS and htpasswd, started by the test).

The binaries stage of ``make test`` fills the image cache first (hack/images.sh goes through the
same builder), so the publishing runs find every image cached; the check-mode and build: false
runs get an empty images directory of their own.
"""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from tests.integration.ansible_run import ROOT, ansible_playbook
from tests.integration.fixtures_registry import write_lines
from tests.proof import elf
from tests.proof import images as proof

XC_CACHE = os.environ.get("XC_CACHE", "/var/cache/xinchuang")
PLAYBOOK = "playbooks/images.yml"
GOARCHES = ["amd64", "arm64", "loong64", "mips64le"]
CLUSTER_IMAGES = {"library/pause", "coredns/coredns", "library/busybox", "sig-storage/csi-provisioner",
                  "library/traefik", "flannel/flannel", "cloudnativelabs/kube-router"}

pytestmark = pytest.mark.slow


def model_platform(goarch):
    fam = arch.lookup(goarch)
    return "linux/%s%s" % (fam.oci_arch, "/" + fam.oci_variant if fam.oci_variant else "")


def images(target=None, check=False, **image_vars):
    """Run playbooks/images.yml, publishing to the RegistryPair TARGET when given; return
    (result of its module task, stats, process)."""
    extra = {"ansible_python_interpreter": sys.executable, "images_cache_dir": XC_CACHE}
    if target is not None:
        extra.update(images_registry=target.host, images_username=target.username,
                     images_password=target.password, images_ca_path=target.ca)
    extra.update(("images_" + k, v) for k, v in image_vars.items())
    report, proc = ansible_playbook(["-i", "localhost,", "-c", "local", PLAYBOOK], check=check,
                                    extra_vars=extra, timeout=1800)
    task = report["plays"][0]["tasks"][0]
    return task["hosts"]["localhost"], report["stats"]["localhost"], proc


@pytest.fixture
def empty(tmp_path):
    """An images directory with nothing in it (what a run must leave so)."""
    folder = tmp_path / "images"
    folder.mkdir()
    return str(folder)


def writes_since(registry, since):
    return write_lines(registry.tls.settled_access_lines(since))


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The cluster set published to a registry of this module's own: (registry, first run's
    result), the registry stopped at the end."""
    from tests.integration.fixtures_registry import RegistryPair

    pair = RegistryPair(str(tmp_path_factory.mktemp("images-registry"))).start()
    try:
        result, stats, proc = images(pair)
        assert stats["failures"] == 0, proc.stdout[-4000:]
        yield pair, result
    finally:
        pair.stop()


def test_the_playbook_publishes_every_cluster_image_of_every_lab_architecture(published):
    registry, result = published
    assert sorted(result["goarches"]) == GOARCHES
    assert {(i["name"], i["goarch"]) for i in result["images"]} == {(n, g) for n in CLUSTER_IMAGES for g in GOARCHES}
    for image in result["images"]:
        assert image["state"] == "cached" and image["pushed"] == "pushed", image
        # The builder's own ELF check, and the proof's reading of the layout it wrote.
        assert image["program_goarch"] == image["goarch"], image
        assert image["platform"] == proof.platform_text(proof.layout_config(image["layout"])), image
    # The digests are those of the cache, as hack/images.sh lists them.
    listed = subprocess.run([os.path.join(ROOT, "hack", "images.sh"), "list"] + GOARCHES, capture_output=True,
                            text=True, cwd=ROOT, timeout=600, check=True).stdout.splitlines()
    assert sorted("\t".join((i["name"], i["tag"], i["goarch"], i["digest"], i["layout"])) for i in result["images"]) \
        == sorted(listed)
    client = registry.client()
    problems, tags = [], set()
    for index in result["indexes"]:
        assert index["changed"] is True and sorted(index["platforms"]) == sorted(model_platform(g) for g in GOARCHES), index
        doc = json.loads(client.get_manifest(mi.Reference(index["repository"], tag=index["tag"]))["data"])
        problems += proof.index_problems(proof.RegistryBlobs(client, index["repository"]), doc,
                                         "%s:%s" % (index["repository"], index["tag"]))
        tags.add((index["repository"], index["tag"]))
    assert problems == []
    assert ("library/pause", "3.10.1") in tags and ("library/pause", "3.10.2") in tags  # the sandbox alias
    assert {name for name, _tag in tags} == CLUSTER_IMAGES


def test_a_second_run_changes_and_writes_nothing(published):
    registry, _first = published
    since = registry.tls.log_size()
    again, stats, proc = images(registry)
    assert stats["failures"] == 0 and again["changed"] is False, proc.stdout[-3000:]
    assert {i["pushed"] for i in again["images"]} == {"present"}
    assert not any(i["changed"] for i in again["indexes"])
    assert writes_since(registry, since) == []


def test_check_mode_on_the_published_registry_reports_no_change(published):
    registry, _first = published
    since = registry.tls.log_size()
    checked, stats, proc = images(registry, check=True)
    assert stats["failures"] == 0 and checked["changed"] is False, proc.stdout[-3000:]
    assert writes_since(registry, since) == []


def test_check_mode_on_an_empty_cache_says_what_it_would_build_and_writes_nothing(published, empty):
    registry, _first = published
    since = registry.tls.log_size()
    checked, stats, proc = images(registry, check=True, dir=empty, goarches=["arm", "mips"])
    assert stats["failures"] == 0 and checked["changed"] is True, proc.stdout[-3000:]
    assert {(i["name"], i["goarch"]) for i in checked["images"]} == {
        (n, g) for n in CLUSTER_IMAGES for g in ("arm64", "mips64le")}
    assert {i["state"] for i in checked["images"]} == {"to build"}
    assert all(i["recipe"] for i in checked["images"]), checked["images"]  # every input is cached here
    assert {i["pushed"] for i in checked["images"]} == {"to push"}
    assert len(checked["built"]) == 2 * len(CLUSTER_IMAGES) and "mips64le/library/busybox:1.37.0" in checked["built"]
    assert os.listdir(empty) == [] and writes_since(registry, since) == []


def test_build_false_with_an_empty_cache_names_what_is_missing_and_pushes_nothing(published, empty):
    registry, _first = published
    since = registry.tls.log_size()
    result, stats, _proc = images(registry, build=False, dir=empty, goarches=["loong64"])
    assert stats["failures"] == 1
    assert "not in the image cache" in result["msg"] and "loong64/library/pause:3.10.2" in result["msg"], result["msg"]
    assert "build: true" in result["msg"]
    assert os.listdir(empty) == [] and writes_since(registry, since) == []


@pytest.mark.parametrize("image_vars, message", [
    ({"goarches": ["amd64", "sparc"]}, "'sparc' is not an architecture the model knows"),
    ({"set": "kernels"}, "value of image_set must be one of: cluster, apps, got: kernels"),
    ({"push_jobs": 0}, "push_jobs 0: give a number of copies at once, 1 or more"),
])
def test_bad_input_is_named_before_any_work(published, empty, image_vars, message):
    registry, _first = published
    since = registry.tls.log_size()
    result, stats, _proc = images(registry, dir=empty, **image_vars)
    assert stats["failures"] == 1 and message in result["msg"], result["msg"]
    assert os.listdir(empty) == [] and writes_since(registry, since) == []


def test_a_registry_with_a_path_is_refused_with_the_form_it_takes(empty):
    result, stats, _proc = images(None, dir=empty, registry="https://registry.local:5000/library")
    assert stats["failures"] == 1
    assert "registry 'https://registry.local:5000/library': give the registry as HOST:PORT" in result["msg"]
    assert os.listdir(empty) == []


def test_the_elf_proof_agrees_with_the_builder_on_every_cached_program(published):
    """program_goarch is the builder's reading of e_machine; tests/proof/elf.py reads the same
    files on its own."""
    _registry, result = published
    read = 0
    for image in result["images"]:
        folder = os.path.dirname(image["layout"])
        for name in ("pause", "busybox"):
            path = os.path.join(folder, name)
            if os.path.exists(path):
                assert elf.goarch_of_path(path) == image["goarch"], (path, image)
                read += 1
    # pause and busybox for each of the four GOARCHes: the files the builder keeps beside the layout
    assert read == 2 * len(result["goarches"]) == 8, read
