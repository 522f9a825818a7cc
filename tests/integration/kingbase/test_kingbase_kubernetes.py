"""The kingbase role's kubernetes form (engine postgresql) against the test bed's real API server,
controllers and scheduler, whose nodes are kwok's, and the session's registry holding stand-in
indexes of the image: what the preflight refuses, each named at once before anything is made.

- bad input (an unknown family, three replicas, no password);
- what the cluster lacks: a class that deletes, no volume that can hold the claim;
- an image without a family's platform, naming the nodes that need it.

What the role makes and how it changes it (check mode, runs, reruns, a reload, a rolled Pod,
users through the client, data kept on a retained PV) is test_kingbase_kubernetes_node.py's, on
a kubelet of this machine where the server really runs.
"""

import json
import sys

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from tests.integration.ansible_run import run_playbook
from tests.integration.fixtures_registry import make_image, push_index
from tests.integration.fixtures_testbed import local_site

pytestmark = pytest.mark.slow

REPOSITORY = "kbtest/postgresql"
C86_NODE = "kwok-c86-0"


@pytest.fixture(scope="module")
def images(registry):
    """Stand-in indexes (kwok never pulls): for c86 and arm, and for c86 only."""
    client = registry.client()
    both = [make_image(arch.platform_dict(f), content="pg %s\n" % f) for f in ("c86", "arm")]
    push_index(client, REPOSITORY, "15.14", both)
    push_index(client, REPOSITORY, "c86-only", [make_image(arch.platform_dict("c86"), content="pg\n")])
    return registry


@pytest.fixture
def site(testbed):
    """A namespace, a StorageClass and a local PV on the c86 node of this test's own."""
    with local_site(testbed, "kb", [C86_NODE]) as place:
        yield dict(place, pv=place["pvs"][C86_NODE])


def role_vars(testbed, registry, site, **extra):
    out = {"kingbase_deploy": "kubernetes", "kingbase_engine": "postgresql", "kingbase_name": "pg",
           "kingbase_namespace": site["namespace"], "kingbase_families": ["c86"],
           "kingbase_registry": registry.host, "kingbase_image": REPOSITORY + ":15.14",
           "kingbase_registry_auth": {"ca_file": registry.ca, "username": registry.username,
                                      "password": registry.password},
           "kingbase_storage_class": site["class"], "kingbase_storage_size": "8Gi",
           "kingbase_kubeconfig": testbed.kubeconfig, "kingbase_system_password": "Pg-s3cret-" + site["tag"],
           "kingbase_rollout_timeout": 120, "ansible_python_interpreter": sys.executable}
    out.update(extra)
    return out


def run_role(role_vars_, check=False):
    tasks = [{"name": "kingbase", "ansible.builtin.include_role": {"name": "xinchuang.cloud.kingbase"}}]
    report, proc = run_playbook(tasks, check=check, extra_vars=role_vars_)
    stats = report["stats"]["localhost"]
    results = [t["hosts"].get("localhost", {}) for t in report["plays"][0]["tasks"]]
    failures = [r.get("msg") for r in results if r.get("failed")]
    return stats, failures, proc


def get(testbed, *args):
    proc = testbed.kubectl("get", "-o", "json", *args)
    return None if proc.returncode else json.loads(proc.stdout)


def test_bad_input_is_named_at_once_and_nothing_is_made(testbed, images, site):
    stats, failures, _proc = run_role(role_vars(testbed, images, site, kingbase_families=["c86", "x86"],
                                                kingbase_replicas=3, kingbase_system_password=""))
    assert stats["failures"] == 1 and len(failures) == 1
    for words in ("kingbase_families entry 'x86' is not a family", "kingbase_replicas 3",
                  "kingbase_system_password is empty", "nothing was changed"):
        assert words in failures[0], failures[0]
    assert get(testbed, "namespace", site["namespace"]) is None


def test_a_class_that_deletes_and_a_missing_volume_are_refused(testbed, images, site):
    klass = "delete-kb-" + site["tag"]
    testbed.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": klass},
                   "provisioner": "example.com/none", "reclaimPolicy": "Delete"})
    try:
        _stats, failures, _proc = run_role(role_vars(testbed, images, site, kingbase_storage_class=klass))
        assert "StorageClass %s deletes a volume with its claim" % klass in failures[0]
        assert "kingbase_storage_allow_delete" in failures[0]
    finally:
        testbed.kubectl("delete", "storageclass", klass, "--ignore-not-found")
    _stats, failures, _proc = run_role(role_vars(testbed, images, site, kingbase_storage_size="50Gi"))
    assert "no PersistentVolume of StorageClass %s can hold the database's claim (50Gi" % site["class"] in failures[0]
    assert "%s of 10Gi" % site["pv"] in failures[0]
    assert get(testbed, "namespace", site["namespace"]) is None


def test_an_image_without_a_familys_platform_is_refused_naming_the_nodes(testbed, images, site):
    _stats, failures, _proc = run_role(role_vars(testbed, images, site, kingbase_families=["c86", "arm"],
                                                 kingbase_image=REPOSITORY + ":c86-only"))
    (failure,) = failures
    assert "image %s:c86-only has no %s image, which nodes kwok-arm-0 need" % (
        REPOSITORY, arch.oci_platform("arm")) in failure, failure
    assert get(testbed, "namespace", site["namespace"]) is None
