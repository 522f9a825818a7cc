"""No secret reaches a command line, and every option that holds a secret is marked no_log.

`no_log` hides a value from Ansible's output, but a command's arguments are readable by every
user of the host in `/proc/PID/cmdline` (`ps`) while it runs: the app store once passed Helm
the registry password as `--password` (issue 34). Secrets go on standard input, in a file of
mode 0600, or in the environment of the process. This reads every role's tasks, handlers and
vars, and fails when an argument of a command module (`argv`, `cmd`, the free form) refers to an
option that its role's argument specs mark `no_log`, directly, through a loop's item, or
through a role variable made from one.
"""

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "roles", "*")) if os.path.isdir(p))

COMMAND_MODULES = {"command", "shell", "raw", "script", "expect"}
COMMAND_ARGUMENTS = ("argv", "cmd", "_raw_params", "command")

# An option whose name says it holds a secret must be no_log, unless it is listed here with why.
SECRET_NAME = re.compile(r"(password|passphrase|(^|_)secret$|(^|_)key$)")
NOT_SECRETS = {
    # Harbor's registry credential is {access_key, access_secret}: the key is the account's
    # name (an access key ID), the secret is what is kept.
    ("harbor", "harbor_proxy_cache_registries.access_key"),
    # The name of a Kubernetes Secret of type dockerconfigjson, not its content.
    ("storage_nfs", "storage_nfs_image_pull_secret"),
    ("gateway", "gateway_image_pull_secret"),
    ("ci_agents", "ci_agents_image_pull_secret"),
}


def spec_options(role):
    """(dotted name, option) of every option of the role's argument specs, nested ones too."""
    path = os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        specs = yaml.safe_load(fh)["argument_specs"]
    found = {}

    def walk(options, prefix):
        for name, option in (options or {}).items():
            dotted = prefix + name
            if option.get("no_log") or dotted not in found:
                found[dotted] = option
            walk(option.get("options") or option.get("suboptions"), dotted + ".")

    for entry in specs.values():
        walk(entry.get("options"), "")
    return sorted(found.items())


def secret_options(role):
    return [name for name, option in spec_options(role) if option.get("no_log")]


def reference_patterns(dotted):
    """Regexes that find a reference to the option `a.b` in a Jinja expression: `a.b`,
    `a['b']`, and for a nested one, any loop item's `.b` (checked only in looping tasks)."""
    parts = dotted.split(".")
    top = re.escape(parts[0])
    if len(parts) == 1:
        return [re.compile(r"(?<![\w.])%s(?!\w)" % top)], None
    leaf = re.escape(parts[-1])
    direct = re.compile(r"(?<![\w.])%s(\[[^\]]*\])?\s*(\.|\[\s*['\"])%s(?!\w)" % (top, leaf))
    item = re.compile(r"(\.|\[\s*['\"])%s(?!\w)" % leaf)
    return [direct], item


def jinja_expressions(text):
    return re.findall(r"{{(.*?)}}|{%(.*?)%}", text, re.S)


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def tasks_in(value):
    """Every task dict of a task file, blocks and their rescue/always included."""
    for task in value or []:
        if not isinstance(task, dict):
            continue
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks_in(task.get(key))


def command_texts(task):
    """The text of a task's command line: its command module's argv, cmd or free form."""
    for key, value in task.items():
        module = key.rsplit(".", 1)[-1]
        if module not in COMMAND_MODULES:
            continue
        if isinstance(value, dict):
            args = dict(value)
        else:
            args = {"_raw_params": value}
        args.update(task.get("args") or {})
        for name in COMMAND_ARGUMENTS:
            if name in args:
                yield from strings_in(args[name])


def role_variables(role):
    """{name: text} of the role's vars and defaults (what an expression may stand for)."""
    variables = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", role, "defaults", "*.yml"))
                       + glob.glob(os.path.join(ROOT, "roles", role, "vars", "*.yml"))):
        with open(path) as fh:
            for name, value in (yaml.safe_load(fh) or {}).items():
                variables[name] = variables.get(name, "") + "\n" + "\n".join(strings_in(value))
    return variables


def refers(text, secrets, looping):
    """The secret options an expression text refers to."""
    hits = []
    for dotted in secrets:
        direct, item = reference_patterns(dotted)
        if any(p.search(text) for p in direct) or (looping and item is not None and item.search(text)):
            hits.append(dotted)
    return hits


def secret_variables(variables, secrets):
    """The role variables made from a secret, directly or through other such variables."""
    tainted = {}
    changed = True
    while changed:
        changed = False
        names = list(secrets) + list(tainted)
        for name, text in variables.items():
            if name in tainted or name in secrets:
                continue
            hits = refers(" ".join(e for pair in jinja_expressions(text) for e in pair), names, looping=False)
            if hits:
                tainted[name] = hits
                changed = True
    return tainted


def command_line_secrets(role, task_files, variables, secrets):
    """'file: task: option' for every command whose arguments carry a secret."""
    names = list(secrets) + list(secret_variables(variables, secrets))
    problems = []
    for path, tasks in task_files:
        for task in tasks_in(tasks):
            looping = any(k == "loop" or k.startswith("with_") for k in task)
            for text in command_texts(task):
                expressions = " ".join(e for pair in jinja_expressions(text) for e in pair)
                for hit in refers(expressions, names, looping):
                    problems.append("%s: %s: %s" % (os.path.relpath(path, ROOT), task.get("name"), hit))
    return problems


def task_files(role):
    files = []
    for kind in ("tasks", "handlers"):
        for path in sorted(glob.glob(os.path.join(ROOT, "roles", role, kind, "*.yml"))):
            with open(path) as fh:
                files.append((path, yaml.safe_load(fh)))
    return files


@pytest.mark.parametrize("role", ROLES)
def test_no_command_line_carries_a_secret(role):
    problems = command_line_secrets(role, task_files(role), role_variables(role), secret_options(role))
    assert not problems, (
        "a secret on a command line is readable in /proc/PID/cmdline by every user of the host; "
        "pass it on stdin, in a 0600 file or in the environment:\n" + "\n".join(problems))


@pytest.mark.parametrize("role", ROLES)
def test_every_option_named_as_a_secret_is_no_log(role):
    missing = [name for name, option in spec_options(role)
               if SECRET_NAME.search(name.rsplit(".", 1)[-1]) and not option.get("no_log")
               and option.get("type", "str") == "str" and (role, name) not in NOT_SECRETS]
    assert not missing, "%s: options named as secrets without no_log: true in meta/argument_specs.yml: %s" % (
        role, ", ".join(missing))


def test_the_guard_finds_the_helm_password_the_app_store_once_passed():
    """The app store's vars before 0ff08af: the registry password went to helm as --password."""
    variables = {"_appstore_helm_registry_args": (
        "{{ (['--ca-file', appstore_registry_auth.ca_file] if appstore_registry_auth.ca_file | default('') else [])\n"
        "   + (['--password', appstore_registry_auth.password] if appstore_registry_auth.password | default('') else []) }}")}
    tasks = [{"name": "Publish a chart", "ansible.builtin.command": {
        "argv": "{{ [appstore_helm_binary, 'push', item] + _appstore_helm_registry_args }}"}, "loop": "{{ x }}"}]
    problems = command_line_secrets("appstore", [(os.path.join(ROOT, "t.yml"), tasks)], variables,
                                    ["appstore_registry_auth.password"])
    assert problems == ["t.yml: Publish a chart: _appstore_helm_registry_args"]


@pytest.mark.parametrize("task", [
    {"name": "direct", "ansible.builtin.shell": "echo {{ tpcc_db_password }} | psql"},
    {"name": "cmd", "ansible.builtin.command": {"cmd": "tool --secret={{ registry_http_secret }}"}},
    {"name": "item", "ansible.builtin.command": {"argv": ["htpasswd", "-b", "f", "{{ item.name }}", "{{ item['password'] }}"]},
     "loop": "{{ registry_users }}"},
    {"name": "in a block", "block": [{"name": "inner", "command": "login -p {{ registry_users[0].password }}"}]},
])
def test_the_guard_finds_each_way_a_secret_reaches_a_command(task):
    secrets = ["tpcc_db_password", "registry_http_secret", "registry_users.password"]
    assert command_line_secrets("r", [(os.path.join(ROOT, "t.yml"), [task])], {}, secrets)


@pytest.mark.parametrize("task", [
    {"name": "stdin", "ansible.builtin.command": {"argv": ["htpasswd", "-i", "f", "{{ item.name }}"],
                                                  "stdin": "{{ item.password }}"}, "loop": "{{ registry_users }}"},
    {"name": "environment", "ansible.builtin.command": {"argv": ["psql", "-c", "select 1"]},
     "environment": {"PGPASSWORD": "{{ tpcc_db_password }}"}},
    {"name": "a longer name", "ansible.builtin.command": "echo {{ tpcc_db_password_file }}"},
])
def test_the_guard_lets_secrets_go_by_stdin_and_environment(task):
    secrets = ["tpcc_db_password", "registry_users.password"]
    assert command_line_secrets("r", [(os.path.join(ROOT, "t.yml"), [task])], {}, secrets) == []
