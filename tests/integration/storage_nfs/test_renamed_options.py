"""storage_nfs_csi and storage_nfs_static_volumes are deprecated names of storage_nfs_cluster_side
and storage_nfs_static_volume_count (removed in 2.0.0): a value given under the old name is what
the role uses, and the preflight says which name to rename; under the new names nothing is said.
The storage_nfs preflight, through ansible-playbook on this machine (it reads no host or server)."""

from tests.integration.ansible_run import run_playbook
from tests.integration.storage_nfs.test_host_mount_checks import results

EXPORTS = [{"name": "lab", "path": "/srv/nfs/lab", "clients": ["127.0.0.1/32"]}]
PREFLIGHT = [{"ansible.builtin.include_role": {"name": "xinchuang.cloud.storage_nfs", "tasks_from": "preflight"}}]
BASE = {"storage_nfs_exports": EXPORTS, "storage_nfs_server": "127.0.0.1", "storage_nfs_provisioner": "static"}
DEPRECATION = "NFS | Options under deprecated names"


def run(**role_vars):
    report, proc = run_playbook(PREFLIGHT, extra_vars=dict(BASE, **role_vars))
    said = [i["msg"] for r in results(report) if r["task"] == DEPRECATION
            for i in r.get("results", []) if not i.get("skipped")]
    failed = [r["msg"] for r in results(report) if r.get("failed")]
    return proc, said, failed


def test_a_count_under_the_old_name_is_the_one_checked_and_the_rename_is_asked():
    proc, said, failed = run(storage_nfs_static_volumes=100, storage_nfs_csi=False)
    assert proc.returncode != 0
    assert len(failed) == 1 and "export 'lab': volumes 100 must be a whole number from 1 to 99" in failed[0], failed
    assert said == [
        "DEPRECATED: storage_nfs_csi is now storage_nfs_cluster_side; rename it in the inventory "
        "(storage_nfs_csi is read until 2.0.0, and wins over storage_nfs_cluster_side while it is set)",
        "DEPRECATED: storage_nfs_static_volumes is now storage_nfs_static_volume_count; rename it in the "
        "inventory (storage_nfs_static_volumes is read until 2.0.0, and wins over "
        "storage_nfs_static_volume_count while it is set)"], said


def test_the_new_names_are_read_and_nothing_is_said():
    proc, said, failed = run(storage_nfs_static_volume_count=100, storage_nfs_cluster_side=False)
    assert proc.returncode != 0
    assert len(failed) == 1 and "export 'lab': volumes 100 must be a whole number from 1 to 99" in failed[0], failed
    assert said == [], said
    proc, said, failed = run(storage_nfs_static_volume_count=3)
    assert proc.returncode == 0, failed or proc.stderr[-2000:]
    assert said == [], said
