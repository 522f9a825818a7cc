"""The app store tests' shared fixture: Helm as the bundle built it for this machine."""

import os

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy


@pytest.fixture(scope="module")
def helm():
    row = bundle_policy.component("helm")
    host = arch.goarch(os.uname().machine)
    path = bundle_policy.cache_path(os.path.join(os.environ.get("XC_CACHE", "/var/cache/xinchuang"), "build"),
                                    row, host)
    assert os.access(path, os.X_OK), "helm is not built (%s): run hack/testbed.sh build helm %s" % (path, host)
    return path
