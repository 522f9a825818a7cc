"""The Harbor contract test server (NOT Harbor: see contract_server.py) with a real CNCF
distribution registry behind its /v2/ side, and a runner of the Harbor modules against it."""

import os
import shutil
import tempfile

import pytest

from tests.integration.ansible_run import run_module
from tests.integration.fixtures_registry import BINARY, RegistryProcess
from tests.integration.harbor.contract_server import HarborContractServer

ADMIN, ADMIN_PASSWORD = "admin", "Harbor12345"
DEV, DEV_PASSWORD = "dev", "Dev12345-x"


@pytest.fixture(scope="session")
def harbor(registry_set):
    """The contract server on HTTPS (the test CA), trusting the test CA for its pings."""
    if shutil.which(BINARY) is None:
        pytest.fail("docker-registry is not installed; run hack/deps.sh")
    workdir = tempfile.mkdtemp(prefix="xc-harbor-contract-")
    backend = RegistryProcess(workdir, os.path.join(workdir, "storage"), "harbor-backend")
    backend.start()
    server = HarborContractServer(registry_set.cert, registry_set.key, backend.host,
                                  trusted_ca=registry_set.ca,
                                  users={ADMIN: (ADMIN_PASSWORD, True),
                                         DEV: (DEV_PASSWORD, False)}).start()
    server.ca = registry_set.ca
    server.backend_process = backend
    try:
        yield server
    finally:
        server.stop()
        backend.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def harbor_run(harbor):
    """Run a Harbor module through ansible-playbook, as admin unless told otherwise."""
    def run(module, check=False, diff=False, **args):
        full = {"url": harbor.url, "username": ADMIN, "password": ADMIN_PASSWORD,
                "ca_path": harbor.ca}
        full.update(args)
        return run_module("xinchuang.cloud." + module, full, check=check, diff=diff)
    return run
