"""What a failed playbook run reports (tests/e2e/lab.py failures): the reason a task failed,
not just that it did. A command's "non-zero return code" alone once hid why the arm64 kubelet
did not stay up; the last lines of its stderr now follow it."""

from tests.e2e.lab import failures


def report(result, name="kubelet stays up after its restart", host="xc-lab-arm64"):
    return {"plays": [{"tasks": [{"task": {"name": name}, "hosts": {host: result}}]}]}


def test_a_failed_command_shows_its_return_code_and_last_stderr_lines():
    stderr = "\n".join("line %d" % i for i in range(8)) + "\nkubelet: open /etc/kubernetes/kubelet.yml: no such file"
    out = failures(report({"failed": True, "msg": "non-zero return code", "rc": 3, "stderr": stderr}))
    assert out == ["xc-lab-arm64: kubelet stays up after its restart: non-zero return code (rc 3): "
                   "line 4 | line 5 | line 6 | line 7 | kubelet: open /etc/kubernetes/kubelet.yml: no such file"]


def test_a_command_without_stderr_shows_its_stdout():
    out = failures(report({"failed": True, "msg": "non-zero return code", "rc": 1, "stdout": "inactive\n", "stderr": ""}))
    assert out == ["xc-lab-arm64: kubelet stays up after its restart: non-zero return code (rc 1): inactive"]


def test_a_module_failure_keeps_its_message_alone():
    out = failures(report({"failed": True, "msg": "Unsupported parameters: bogus", "stderr": "Traceback..."}))
    assert out == ["xc-lab-arm64: kubelet stays up after its restart: Unsupported parameters: bogus"]


def test_each_failed_item_of_a_loop_follows_the_loop():
    res = {"failed": True, "msg": "One or more items failed",
           "results": [{"item": "containerd", "failed": False},
                       {"item": "kubelet", "failed": True, "msg": "non-zero return code", "rc": 1,
                        "stderr": "Job for kubelet.service failed"}]}
    assert failures(report(res)) == [
        "xc-lab-arm64: kubelet stays up after its restart: One or more items failed"
        "\n    item kubelet: non-zero return code (rc 1): Job for kubelet.service failed"]


def test_a_succeeded_task_is_not_a_failure():
    assert failures(report({"changed": True, "rc": 0, "stdout": "ok"})) == []
