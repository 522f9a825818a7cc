"""Three real registries for image_sync: ``upstream`` with full five-platform indexes,
``mirror`` with some of them trimmed to amd64 and arm64 (the way a proxy cache stores what
it happened to fetch) and one missing, and ``destination``.

Catalogue (tag 1.0 everywhere):

=============  ============================  =====================================
repository     upstream                      mirror
=============  ============================  =====================================
xc/app-0       5 platforms                   the same index, byte for byte
xc/app-1       5 platforms                   trimmed to amd64 + arm64
xc/app-2       5 platforms                   trimmed to amd64 + arm64
xc/app-3       5 platforms                   absent
=============  ============================  =====================================
"""

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from tests.integration.ansible_run import run_module
from tests.integration.fixtures_registry import make_image, push_index

REPOSITORIES = ["xc/app-0", "xc/app-1", "xc/app-2", "xc/app-3"]
TAG = "1.0"
TRIMMED = ("c86", "arm")


class Catalogue(object):
    def __init__(self, servers):
        self.servers = servers
        self.children = {}  # repository -> [image dicts], table order
        self.upstream = {}  # repository -> index bytes
        self.mirror = {}

    def families(self):
        return arch.families()

    def child(self, repository, family):
        return self.children[repository][arch.families().index(family)]


@pytest.fixture(scope="session")
def catalogue(registry_set):
    out = Catalogue(registry_set)
    upstream = registry_set.client("upstream")
    mirror = registry_set.client("mirror")
    for repository in REPOSITORIES:
        images = [make_image(arch.platform_dict(f),
                             content="%s %s\n" % (repository, arch.oci_platform(f)),
                             filler=2048)
                  for f in arch.families()]
        out.children[repository] = images
        annotations = {"org.opencontainers.image.ref.name": TAG,
                       "io.xinchuang.test": repository}
        out.upstream[repository] = push_index(upstream, repository, TAG, images, annotations)
        if repository == "xc/app-0":
            out.mirror[repository] = push_index(mirror, repository, TAG, images, annotations)
        elif repository in ("xc/app-1", "xc/app-2"):
            trimmed = [out.child(repository, f) for f in TRIMMED]
            out.mirror[repository] = push_index(mirror, repository, TAG, trimmed)
    registry_set["destination"]
    return out


@pytest.fixture
def image_sync():
    """Run xinchuang.cloud.image_sync through ansible-playbook."""
    def run(check=False, diff=False, **args):
        return run_module("xinchuang.cloud.image_sync", args, check=check, diff=diff)
    return run
