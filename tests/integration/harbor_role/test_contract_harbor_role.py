"""CONTRACT TEST: the harbor role's proxy cache tasks (entry point ``proxy_cache``) against the
Harbor contract test server of tests/integration/harbor (NOT Harbor: a server written from
Harbor's published API description, see contract_server.py), with a real CNCF distribution
registry as the upstream endpoint the proxy cache project points at.

What it proves: the role passes its endpoint and project lists to xinchuang.cloud.harbor_registry
and harbor_project as Harbor's API expects them (the server refuses anything else), as admin,
TLS verified against the CA the role is given, secrets never printed; a second run changes
nothing; check mode changes nothing.
"""

from tests.integration.ansible_run import run_playbook
# The contract server of the Harbor modules' tests, as a fixture here too (admin's password is
# the one it was started with; the proxy_cache entry point does not judge passwords).
from tests.integration.harbor.conftest import ADMIN_PASSWORD
# A fixture: pytest passes it by name, no code refers to it.
from tests.integration.harbor.conftest import harbor  # noqa: F401  # pylint: disable=unused-import


def run_proxy_cache(server, registry_set, check=False):
    extra = {
        "harbor_api_url": server.url,
        "harbor_admin_password": ADMIN_PASSWORD,
        "harbor_tls_ca_cert": registry_set.ca,
        "harbor_proxy_cache_registries": [{
            "name": "lab-upstream", "type": "docker-registry",
            "endpoint_url": "https://" + registry_set.host("upstream"),
            "access_key": registry_set.username, "access_secret": registry_set.password}],
        "harbor_proxy_cache_projects": [{"name": "upstream-cache", "registry": "lab-upstream",
                                         "public": True, "storage_quota": "10G"}],
    }
    task = {"name": "harbor proxy_cache",
            "ansible.builtin.include_role": {"name": "xinchuang.cloud.harbor", "tasks_from": "proxy_cache"}}
    report, proc = run_playbook([task], check=check, extra_vars=extra)
    results = [t["hosts"].get("localhost", {}) for t in report["plays"][0]["tasks"]]
    return results, proc


def test_contract_proxy_cache_endpoint_and_project(harbor, registry_set):
    contract_harbor = harbor
    checked, proc = run_proxy_cache(contract_harbor, registry_set, check=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert any(r.get("changed") for r in checked)
    assert contract_harbor.api_writes() == []

    results, proc = run_proxy_cache(contract_harbor, registry_set)
    assert proc.returncode == 0, [r.get("msg") for r in results if r.get("failed")]
    for secret in (ADMIN_PASSWORD, registry_set.password):
        assert secret not in proc.stdout and secret not in proc.stderr
    endpoint = [r for r in contract_harbor.registries.values() if r["name"] == "lab-upstream"][0]
    assert endpoint["type"] == "docker-registry"
    assert endpoint["url"] == "https://" + registry_set.host("upstream")
    assert endpoint["credential"]["access_secret"] == registry_set.password
    project = contract_harbor.projects["upstream-cache"]
    assert project["registry_id"] == endpoint["id"]
    assert contract_harbor.quota_of("upstream-cache")["hard"]["storage"] == 10 * 1024 ** 3

    writes = len(contract_harbor.api_writes())
    again, proc = run_proxy_cache(contract_harbor, registry_set)
    assert proc.returncode == 0
    assert [r for r in again if r.get("changed")] == []
    assert len(contract_harbor.api_writes()) == writes
