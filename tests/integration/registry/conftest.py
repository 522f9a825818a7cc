"""Images of every platform in the session registry, for the registry module tests.

``xc/app:1.0-<arch>`` are pushed with skopeo (an independent client) from OCI layouts;
``build/app-<arch>:1.0`` (one repository per architecture, for cross-repository sources)
with the collection's client.
"""

import shutil
import tempfile

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from tests.integration.fixtures_registry import client_push, make_image, skopeo_push
from tests.integration.ansible_run import run_module


class Images(object):
    def __init__(self):
        self.by_family = {}  # family -> image dict (manifest bytes, digest, platform ...)

    def platform(self, family):
        return arch.platform_string(self.by_family[family]["platform"])

    def digest(self, family):
        return self.by_family[family]["digest"]

    def tag(self, family):
        return "1.0-" + self.by_family[family]["platform"]["architecture"]

    def sources(self, families=None):
        """Same-repository sources (xc/app) with platforms given."""
        return [{"ref": self.tag(f), "platform": self.platform(f)}
                for f in (families or arch.families())]

    def platforms(self, families=None):
        return [self.platform(f) for f in (families or arch.families())]


@pytest.fixture(scope="session")
def images(registry):
    workdir = tempfile.mkdtemp(prefix="xc-images-")
    out = Images()
    client = registry.client()
    try:
        for family in arch.families():
            image = make_image(arch.platform_dict(family))
            out.by_family[family] = image
            skopeo_push(registry, image, "xc/app", "1.0-" + image["platform"]["architecture"],
                        workdir)
            client_push(client, image, "build/app-" + image["platform"]["architecture"], "1.0")
        # A tag holding a single image, not an index (the "replace needs force" case).
        client_push(client, out.by_family["c86"], "xc/app", "single")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


@pytest.fixture
def image_manifest(registry):
    """Run xinchuang.cloud.image_manifest through ansible-playbook with registry auth."""
    def run(check=False, diff=False, **args):
        full = dict(registry.auth_args())
        full.update(args)
        return run_module("xinchuang.cloud.image_manifest", full, check=check, diff=diff)
    return run
