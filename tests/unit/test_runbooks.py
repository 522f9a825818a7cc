"""The runbooks (docs/runbooks/) name checks that exist and quote what those checks print.

A runbook is read in an incident: a task name that was renamed, a filter that moved or a
message that was reworded sends the reader searching the run's output for something that is
no longer there. Each runbook therefore has the sections an operator reads in order, and its
"Detected by" section is checked against the code:
- a role or playbook task, written as its name in backquotes (``Component | What it does``),
  is a ``- name:`` of a task under roles/ or playbooks/;
- a plugin, written ``xinchuang.cloud.NAME``, is a module, filter, inventory plugin or role of
  the collection;
- a message, written ``prints: `FRAGMENT` ``, is in the source of roles/ or plugins/ (Python
  format placeholders such as ``%s`` kept, whitespace and string-literal line joins ignored).
"""

import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNBOOKS = os.path.join(ROOT, "docs", "runbooks")
INDEX = os.path.join(RUNBOOKS, "README.md")
SECTIONS = ("## Symptoms", "## Cause", "## Detected by", "## Fix", "## Verify")
# One runbook per failure the paper describes (section 3.2; docs/references.md).
EXPECTED = {"dns-x86-nodes.md", "dns-conflict-feiteng.md", "image-missing-architecture.md"}

TASK = re.compile(r"`([A-Z][A-Za-z ]+ \| [^`]+)`")
PLUGIN = re.compile(r"`xinchuang\.cloud\.([a-z0-9_]+)`")
PRINTS = re.compile(r"prints:\s+`([^`]+)`")


def _read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _runbooks():
    return sorted(n for n in os.listdir(RUNBOOKS) if n.endswith(".md") and n != "README.md")


def _section(text, heading):
    start = text.index(heading) + len(heading)
    following = text.find("\n## ", start)
    return text[start:] if following < 0 else text[start:following]


def _yaml_files(*tops):
    for top in tops:
        for base, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            for name in files:
                if name.endswith((".yml", ".yaml")):
                    yield os.path.join(base, name)


def _task_names(node, names):
    if isinstance(node, list):
        for item in node:
            _task_names(item, names)
    elif isinstance(node, dict):
        if isinstance(node.get("name"), str):
            names.add(node["name"])
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            if key in node:
                _task_names(node[key], names)


def task_names():
    names = set()
    for path in _yaml_files("roles", "playbooks"):
        if os.sep + "tasks" + os.sep not in path and os.sep + "playbooks" + os.sep not in path:
            continue
        try:
            _task_names(yaml.safe_load(_read(path)), names)
        except yaml.YAMLError:
            continue
    return names


def plugin_exists(name):
    candidates = [os.path.join(ROOT, "plugins", "modules", name + ".py"),
                  os.path.join(ROOT, "plugins", "filter", name + ".yml"),
                  os.path.join(ROOT, "plugins", "inventory", name + ".py"),
                  os.path.join(ROOT, "roles", name, "meta", "argument_specs.yml")]
    return any(os.path.isfile(c) for c in candidates)


def _flatten(text):
    # Python's implicit concatenation ("... " \n "...") and YAML's folded lines read as one.
    text = re.sub(r"\"\s*\n\s*[rbf]?\"", "", text)
    return re.sub(r"\s+", " ", text)


def source_text():
    chunks = []
    for top in ("roles", "plugins"):
        for base, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            for name in sorted(files):
                if name.endswith((".py", ".yml", ".yaml", ".j2")):
                    chunks.append(_flatten(_read(os.path.join(base, name))))
    return "\n".join(chunks)


@pytest.fixture(scope="module")
def code():
    return {"tasks": task_names(), "source": source_text()}


def test_there_is_a_runbook_per_failure_of_the_paper():
    assert set(_runbooks()) == EXPECTED


def test_the_index_links_every_runbook():
    index = _read(INDEX)
    assert [n for n in _runbooks() if "](%s)" % n not in index] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_runbook_has_the_sections_in_order(name):
    text = _read(os.path.join(RUNBOOKS, name))
    positions = [text.find(s + "\n") for s in SECTIONS]
    assert -1 not in positions, "missing: %s" % [s for s, p in zip(SECTIONS, positions) if p < 0]
    assert positions == sorted(positions)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_runbook_names_tasks_that_exist(name, code):
    detected = _section(_read(os.path.join(RUNBOOKS, name)), "## Detected by")
    named = TASK.findall(detected)
    assert named, "%s names no task in Detected by" % name
    assert sorted(set(named) - code["tasks"]) == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_runbook_names_plugins_that_exist(name):
    text = _read(os.path.join(RUNBOOKS, name))
    named = PLUGIN.findall(_section(text, "## Detected by"))
    assert named, "%s names no filter or module in Detected by" % name
    assert sorted(n for n in set(PLUGIN.findall(text)) if not plugin_exists(n)) == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_runbook_quotes_messages_the_code_prints(name, code):
    quoted = PRINTS.findall(_section(_read(os.path.join(RUNBOOKS, name)), "## Detected by"))
    assert quoted, "%s quotes no message of its checks" % name
    assert [q for q in quoted if _flatten(q) not in code["source"]] == []


def test_the_checks_catch_a_renamed_task_and_a_reworded_message(code):
    assert "CoreDNS | The node's resolver cannot make CoreDNS loop" in code["tasks"]
    assert "CoreDNS | The node's resolver may make CoreDNS loop" not in code["tasks"]
    assert _flatten("CoreDNS would forward to itself and its loop plugin would stop it") in code["source"]
    assert _flatten("CoreDNS would forward to itself and loop") not in code["source"]
    assert plugin_exists("dns_resolver_plan") and plugin_exists("image_manifest_info")
    assert plugin_exists("coredns") and not plugin_exists("dns_resolver")
