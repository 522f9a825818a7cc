"""The AWX execution environment's build context, made by the real ansible-builder
(hack/ee.sh create): no base image can be pulled here, so the image itself is built only where
one is given (hack/ee.sh build --base-image), and this test stops at the context."""

import json
import os
import re
import subprocess
import tarfile

from tests.integration.ansible_run import ROOT


def pins(path):
    out = {}
    with open(path) as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                out[name.strip().lower()] = version.strip()
    return out


def test_the_context_carries_the_collection_its_requirements_and_bindep(tmp_path):
    context = tmp_path / "context"
    proc = subprocess.run([os.path.join(ROOT, "hack", "ee.sh"), "create", str(context)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(context)
    dockerfile = (context / "Dockerfile").read_text()
    # The base image is a build argument; ansible-core and ansible-runner at the project's pins.
    assert re.search(r'^ARG EE_BASE_IMAGE=', dockerfile, re.M)
    project = pins(os.path.join(ROOT, "requirements.txt"))
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core==%s ansible-runner==' % project["ansible-core"] in dockerfile
    # Python requirements and bindep: the collection's own files, as they are.
    with open(os.path.join(ROOT, "meta", "ee-requirements.txt")) as fh:
        assert (context / "_build" / "requirements.txt").read_text() == fh.read()
    with open(os.path.join(ROOT, "meta", "ee-bindep.txt")) as fh:
        assert (context / "_build" / "bindep.txt").read_text() == fh.read()
    # The collection artifact is in the context and installed in the final stage.
    artifact = context / "_build" / "collections" / "xinchuang-cloud.tar.gz"
    with tarfile.open(str(artifact)) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        names = tar.getnames()
    assert (manifest["collection_info"]["namespace"], manifest["collection_info"]["name"]) == ("xinchuang", "cloud")
    assert "plugins/inventory/cmdb.py" in names and "meta/execution-environment.yml" in names
    assert not [n for n in names if n.startswith(("tests/", "hack/", "awx/build"))]
    final = dockerfile.split("FROM base AS final", 1)[1]
    assert "COPY _build/collections/xinchuang-cloud.tar.gz" in final
    assert "ansible-galaxy collection install --offline --no-deps" in final


def test_building_the_image_needs_a_base_image_that_is_present(tmp_path):
    proc = subprocess.run([os.path.join(ROOT, "hack", "ee.sh"), "build", str(tmp_path / "c")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0 and "build needs --base-image IMAGE" in proc.stderr, proc.stderr


def test_the_ee_requirements_are_pinned_as_the_project_pins_them():
    project = pins(os.path.join(ROOT, "requirements.txt"))
    ee = pins(os.path.join(ROOT, "meta", "ee-requirements.txt"))
    assert ee and {k: project.get(k) for k in ee} == ee
