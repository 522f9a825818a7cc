"""os_prep's preflight on this machine (a real Debian host): a host whose OS family has no vars
stops before anything changes, naming the host, the OS and the fix."""

from tests.integration.ansible_run import run_playbook


def preflight(extra_vars):
    tasks = [{
        "name": "os_prep preflight",
        "ansible.builtin.include_role": {"name": "xinchuang.cloud.os_prep", "tasks_from": "preflight"},
    }]
    return run_playbook(tasks, extra_vars=extra_vars)


def test_this_machine_passes_preflight():
    report, proc = preflight({"os_prep_install_packages": False})
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_os_family_without_vars_stops_naming_host_and_fix():
    # A classification the model could return for an OS the collection has no vars for yet.
    unknown = {"name": "plan9", "title": "Plan 9 from Bell Labs", "package_family": "none",
               "pkg_mgr": "none", "service_mgr": "none", "vars_name": "plan9"}
    report, proc = preflight({"xinchuang_os": unknown})
    assert proc.returncode != 0
    results = [t["hosts"]["localhost"] for t in report["plays"][0]["tasks"]]
    failed = [r for r in results if r.get("failed")]
    assert failed, results
    msg = failed[-1]["msg"]
    assert "localhost" in msg and "Plan 9 from Bell Labs" in msg and "plan9.yml" in msg, msg
    assert "add one" in msg
    assert not any(r.get("changed") for r in results)
