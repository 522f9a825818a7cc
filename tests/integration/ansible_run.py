"""Run the collection's modules the way users do: through ansible-playbook.

``run_module`` writes a one-task playbook for localhost, runs it with the project's
ansible-playbook (the venv's Python runs the module, so its libraries are there) and
returns the task's result as a dict, read through the ansible.posix.json callback.
"""

import json
import os
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".collections"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_CONFIG": os.path.join(ROOT, "hack", "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
    })
    # requests honours REQUESTS_CA_BUNDLE over Session.verify; tests pass CAs explicitly.
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.pop("CURL_CA_BUNDLE", None)
    env.update(extra or {})
    return env


def ansible_playbook(args, check=False, diff=False, extra_env=None, extra_vars=None, timeout=1800):
    """Run the project's ansible-playbook with ``args`` (inventory, playbook, ...); return
    (report of the ansible.posix.json callback, process).

    ``extra_vars`` go through a file, so values of any size and type pass unchanged.
    """
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [os.path.join(BIN, "ansible-playbook")] + list(args)
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if extra_vars:
            vars_path = os.path.join(tmp, "vars.json")
            with open(vars_path, "w") as fh:
                json.dump(extra_vars, fh)
            cmd += ["-e", "@" + vars_path]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(extra_env),
                              cwd=ROOT, timeout=timeout, check=False)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook printed no JSON (exit %s):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return report, proc


def run_verbose(tasks, extra_vars, timeout=900):
    """Run tasks on localhost as a user watching would: ansible-playbook -vvv --diff with the
    default callback; returns the process (its stdout and stderr are what the user sees: a
    test looks there for what must never be printed)."""
    play = [{"hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}]
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in (("play.yml", play), ("vars.json", extra_vars)):
            with open(os.path.join(tmp, name), "w") as fh:
                json.dump(data, fh)
        cmd = [os.path.join(BIN, "ansible-playbook"), "-vvv", "--diff", "-i", "localhost,", "-c", "local",
               "-e", "@" + os.path.join(tmp, "vars.json"), os.path.join(tmp, "play.yml")]
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False,
                              env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default"}))


def run_playbook(tasks, check=False, diff=False, extra_env=None, extra_vars=None, timeout=1800):
    """Run tasks on localhost; return (report of the ansible.posix.json callback, process)."""
    play = [{
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": tasks,
    }]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "play.yml")
        with open(path, "w") as fh:
            json.dump(play, fh)
        return ansible_playbook(["-i", "localhost,", "-c", "local", path], check=check, diff=diff,
                                extra_env=extra_env, extra_vars=extra_vars, timeout=timeout)


def run_tasks(tasks, check=False, diff=False, extra_env=None, extra_vars=None):
    """Run tasks on localhost; return the list of per-task results (dicts)."""
    report, _proc = run_playbook(tasks, check=check, diff=diff, extra_env=extra_env,
                                 extra_vars=extra_vars)
    return [task["hosts"].get("localhost", {}) for task in report["plays"][0]["tasks"]]


def run_module(module, args, check=False, diff=False, extra_env=None):
    """Run one module once; return its result dict (``failed``/``msg`` on failure)."""
    task = {"name": "module under test", module: args, "ignore_errors": True}
    return run_tasks([task], check=check, diff=diff, extra_env=extra_env)[0]


@pytest.fixture
def ansible_module():
    """The ``run_module`` function, as a fixture."""
    return run_module
