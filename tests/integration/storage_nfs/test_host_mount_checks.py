"""The storage_nfs entry point ``mount`` (a host's own NAS mounts, playbooks/database.yml) checks
the exports and the mounts, not the cluster side: it runs where no registry is given (the CSI
driver's image check belongs to the cluster part), and a bad mount or export is refused naming
it before anything is installed or mounted. Run through ansible-playbook on this machine, with
no mount asked for in the first case, so nothing here is changed."""

from tests.integration.ansible_run import run_playbook

EXPORTS = [{"name": "database", "path": "/srv/nfs/database", "clients": ["127.0.0.1/32"], "storage_class": False}]
MOUNT = [{"ansible.builtin.include_role": {"name": "xinchuang.cloud.storage_nfs", "tasks_from": "mount"}}]


def results(report):
    """Each task's result on localhost, with its name (without the role's prefix)."""
    return [dict(t["hosts"].get("localhost", {}), task=t["task"]["name"].split(" : ", 1)[-1])
            for p in report["plays"] for t in p["tasks"]]


def test_no_registry_is_needed_to_check_a_host_that_mounts_nothing():
    # storage_nfs_cluster_side and storage_nfs_check_images keep their defaults (true): the whole layer's
    # preflight would refuse this input for want of storage_nfs_registry.url.
    report, proc = run_playbook(MOUNT, extra_vars={"storage_nfs_exports": EXPORTS, "storage_nfs_host_mounts": [],
                                                   "storage_nfs_server": "127.0.0.1"})
    assert proc.returncode == 0, [r.get("msg") for r in results(report) if r.get("failed")] or proc.stderr[-2000:]
    ran = [r["task"] for r in results(report)]
    assert "NFS | Refuse bad exports, naming each" in ran, ran
    assert not any(r.get("changed") for r in results(report)), ran


def test_a_mount_of_an_unknown_export_and_a_bad_export_are_both_named_before_anything_changes():
    bad_export = dict(EXPORTS[0], name="open", path="/srv/nfs/open", clients=["*"])
    report, proc = run_playbook(MOUNT, extra_vars={
        "storage_nfs_exports": EXPORTS + [bad_export], "storage_nfs_server": "127.0.0.1",
        "storage_nfs_host_mounts": [{"export": "nas", "path": "/mnt/nas"}]})
    assert proc.returncode != 0
    failed = [r for r in results(report) if r.get("failed")]
    assert [r["task"] for r in failed] == ["NFS | Refuse bad exports, naming each"], failed
    assert "'open'" in failed[0]["msg"] and "nothing was changed" in failed[0]["msg"], failed[0]["msg"]
    assert not any(r.get("changed") for r in results(report))

    report, proc = run_playbook(MOUNT, extra_vars={
        "storage_nfs_exports": EXPORTS, "storage_nfs_server": "127.0.0.1",
        "storage_nfs_host_mounts": [{"export": "nas", "path": "/mnt/nas"}]})
    assert proc.returncode != 0
    failed = [r for r in results(report) if r.get("failed")]
    assert len(failed) == 1 and "export 'nas' is not in storage_nfs_exports (known: database)" in failed[0]["msg"], failed
    assert "nothing was mounted" in failed[0]["msg"]
    assert not any(r.get("changed") for r in results(report))
