"""How the integration stage runs in parallel (``hack/test.sh integration``: pytest-xdist with
``--dist loadscope --no-loadscope-reorder``; what it saves: docs/development.md, "What the
tests cost"). Loaded by tests/conftest.py, so the controller has it too.

- A unit of work is a test module: its tests run in one worker, in their order, and its
  module-scoped fixtures (a converged role, a containerd, lab hosts) are made once. Modules
  that share something host-wide which is not per worker form one unit (``SHARED_UNITS``).
- Units are handed out longest first (``SECONDS``, measured), so the long poles start at
  once and the short modules fill the gaps.

Without xdist only the order applies: the same tests, in the same order within a module.
"""

import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOTDIR = os.path.dirname(HERE)  # tests/ (pytest.ini): node ids are relative to it

# Directories of tests/integration whose modules form one unit, and what they share.
SHARED_UNITS = {
    # One docker network `xc-reg`, created by the first LabHost that needs it (lab_host.py).
    "registry_role": "the lab hosts' docker network",
}

# Seconds per unit in a serial warm run (pytest --durations=0, load ~6, see
# docs/development.md), or the sum of a unit's JUnit times in a gate run (2026-12-04); only
# the order is taken from them. A unit not named here counts as
# UNKNOWN_SECONDS until it is measured.
SECONDS = {
    "registry_role": 341,
    "playbooks/test_playbook_hosts.py": 41,
    "kubernetes/test_kubelet_cgroup_root.py": 3,
    "canary/test_canary_release.py": 112,
    "canary/test_canary_weights.py": 228,
    "hpa/test_hpa_controller.py": 174,
    "harbor/test_contract_harbor.py": 69,
    "container_runtime/test_registry_mirrors.py": 139,
    "registry/test_image_manifest.py": 122,
    "harbor_role/test_harbor_role.py": 88,
    "testbed/test_metrics.py": 79,
    "hpa/test_hpa_thresholds.py": 69,
    "images/test_cluster_images.py": 218,
    "images/test_images_playbook.py": 33,  # serial, warm cache, load ~1 (2026-12-07)
    "image_sync/test_image_sync.py": 92,
    "hpa/test_role_autoscaling.py": 60,
    "host_files/test_host_files.py": 86,
    "coredns/test_role_resolver.py": 31,
    "coredns/test_corefile_binary.py": 28,
    "coredns/test_corefile_testbed.py": 26,
    "registry/test_registry_faults.py": 11,
    "harbor_role/test_contract_harbor_role.py": 8,
    "registry/test_image_manifest_info.py": 8,
    "testbed/test_script.py": 5,
    "os_prep/test_preflight.py": 5,
    "testbed/test_control_plane.py": 3,
    "hardening/test_role_secrets.py": 17,
    "hardening/test_hardening.py": 5,
    "bundle/test_bundle_machines.py": 1,
    "bundle/test_offline_bundle.py": 60,
    "storage_local/test_storage_local_role.py": 62,
    "storage_machines/test_storage_on_real_kernels.py": 334,
    "storage_ceph/test_storage_ceph_role.py": 160,
    "storage_iscsi/test_storage_iscsi_role.py": 150,
    "storage_nfs/test_nfs_server_ganesha.py": 35,
    "storage_nfs/test_nfs_cluster_side.py": 70,
    "kingbase/test_kingbase_host_postgresql.py": 166,
    "kingbase/test_kingbase_render.py": 20,
    # Measured on the unlanded branch that wrote them (2026-12-02), not yet in a gate run.
    "kingbase/test_kingbase_kubernetes.py": 45,
    "kingbase/test_kingbase_kubernetes_node.py": 501,
    "tpcc/test_tpcc_postgresql.py": 125,
    "cmdb/test_cmdb_inventory.py": 4,
    "upgrade/test_installed_versions.py": 5,
    "awx/test_execution_environment.py": 3,
    "lab/test_machine_faults.py": 30,
    "appstore/test_role.py": 81,
    "appstore/test_charts.py": 25,
    "tenancy/test_role_tenancy.py": 65,
    "pki_role/test_pki_role.py": 83,
    "storage_nfs/test_host_mount_checks.py": 7,
}
UNKNOWN_SECONDS = 60


def unit_of(path):
    """The unit of a test file of tests/integration (its path relative to that directory, or
    its SHARED_UNITS directory); None for a file elsewhere."""
    rel = os.path.relpath(os.path.abspath(str(path)), HERE)
    if rel.startswith(".."):
        return None
    rel = rel.replace(os.sep, "/")
    top = rel.split("/", 1)[0]
    return top if top in SHARED_UNITS else rel


def unit_of_nodeid(nodeid):
    path = nodeid.split("::", 1)[0]
    return unit_of(os.path.join(ROOTDIR, path)) or path


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    first_seen = {}
    for item in items:
        unit = unit_of(item.path)
        if unit is not None:
            first_seen.setdefault(unit, len(first_seen))

    def key(item):
        unit = unit_of(item.path)
        if unit is None:
            return (1, 0, 0)
        return (0, -SECONDS.get(unit, UNKNOWN_SECONDS), first_seen[unit])

    items.sort(key=key)  # stable: a module's tests keep their order


def pytest_xdist_make_scheduler(config, log):
    """--dist loadscope with the units above instead of bare modules."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return unit_of_nodeid(nodeid)

    return UnitScheduling(config, log)
