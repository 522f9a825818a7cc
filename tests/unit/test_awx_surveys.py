"""AWX job templates made from the argument specs (hack/awx_survey.py): the
committed files are what the table and the specs make now; each option maps to the question
AWX takes; the extra_vars bridge gives the role its option's type from what AWX sends."""

import glob
import os
import re

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.plugin_docs import read_docstring
from ansible.template import Templar, trust_as_template
from ansible.module_utils.common.yaml import yaml_load

from hack import awx_survey
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = "run hack/awx.sh surveys and commit awx/job_templates/"


def generated():
    table, specs = awx_survey.load_inputs(ROOT)
    return table, specs, awx_survey.job_templates(table, specs)


def test_committed_templates_are_what_the_specs_make_now():
    problems = awx_survey.drift(ROOT)
    assert not problems, "; ".join(problems) + " (%s)" % FIX


def test_a_drifted_spec_is_named_with_the_file_and_the_fix(tmp_path):
    for path in ["awx/job_templates.yml"] + glob.glob(os.path.join(ROOT, "awx", "job_templates", "*.yml")):
        dest = tmp_path / os.path.relpath(os.path.join(ROOT, path), ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(os.path.join(ROOT, path)) as fh:
            dest.write_text(fh.read())
    table = yaml_load((tmp_path / "awx" / "job_templates.yml").read_text())
    for role in {g["role"] for row in table["templates"] for g in row["survey"] if "role" in g}:
        src = os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")
        dest = tmp_path / "roles" / role / "meta" / "argument_specs.yml"
        dest.parent.mkdir(parents=True)
        with open(src) as fh:
            text = fh.read()
        if role == "canary_release":
            text = text.replace("Seconds to wait after each step", "Seconds to pause after each step")
        dest.write_text(text)
    assert awx_survey.drift(str(tmp_path)) == ["awx/job_templates/canary.yml differs from the specs"]
    assert awx_survey.cli(["surveys", str(tmp_path)]) == 0
    assert awx_survey.drift(str(tmp_path)) == []


# --- the mapping, option by option ---

def test_a_no_log_option_is_a_password_question_without_its_default():
    q, expression = awx_survey.question("harbor_admin_password", {
        "type": "str", "no_log": True, "default": "Harbor12345", "description": "Admin password."})
    assert q["type"] == "password" and "default" not in q
    assert "Harbor12345" not in str(q)
    assert expression.endswith('else "Harbor12345" }}')  # blank: the role's own default


@pytest.mark.parametrize("name, spec, secret", [
    ("storage_ceph_key", {"type": "str", "default": ""}, True),
    ("storage_ceph_registry_password", {"type": "str", "default": ""}, True),
    ("registry_http_secret", {"type": "str", "no_log": True}, True),
    ("vault_token", {"type": "str"}, True),
    ("registry_tls_key_file", {"type": "path", "default": ""}, False),
    ("registry_tls_ca_key", {"type": "path", "default": ""}, False),
    ("pki_key_mode", {"type": "str", "default": "0600"}, False),
    ("pki_key_host", {"type": "str"}, False),
])
def test_secrets_by_no_log_or_by_name(name, spec, secret):
    q = awx_survey.question(name, spec)[0]
    assert (q["type"] == "password") is secret
    if secret:
        assert "default" not in q


def test_types_choices_and_lists():
    q = awx_survey.question("a_int", {"type": "int", "default": 3})[0]
    assert (q["type"], q["default"]) == ("integer", 3)
    q = awx_survey.question("a_float", {"type": "float", "default": 0})[0]
    assert q["type"] == "float" and isinstance(q["default"], float)
    q = awx_survey.question("a_bool", {"type": "bool", "default": False})[0]
    assert (q["type"], q["choices"], q["default"]) == ("multiplechoice", ["true", "false"], "false")
    q = awx_survey.question("a_mode", {"type": "str", "choices": ["x", "y"], "default": "y"})[0]
    assert (q["type"], q["choices"], q["default"]) == ("multiplechoice", ["x", "y"], "y")
    many = {"type": "list", "elements": "str", "choices": ["x", "y", "z"], "default": ["x", "z"]}
    q = awx_survey.question("a_many", many)[0]
    assert (q["type"], q["default"]) == ("multiselect", "x\nz")
    q = awx_survey.question("a_lines", {"type": "list", "elements": "str", "default": ["p", "q"]})[0]
    assert (q["type"], q["default"]) == ("textarea", "p\nq")
    q = awx_survey.question("a_path", {"type": "path"})[0]
    assert q["type"] == "text" and "default" not in q


def test_required_follows_the_spec_and_has_no_default_branch():
    q, expression = awx_survey.question("a_route", {"type": "str", "required": True, "description": ["One.", "C(Two)."]})
    assert q["required"] is True and "default" not in q
    assert expression == "{{ survey_a_route }}"
    assert q["question_description"] == "One. Two."
    q = awx_survey.question("a_opt", {"type": "str", "default": "v"})[0]
    assert q["required"] is False


@pytest.mark.parametrize("name, spec, words", [
    ("a_dict", {"type": "dict", "default": {}}, "type dict"),
    ("a_dicts", {"type": "list", "elements": "dict"}, "list of dict"),
    ("a_class", {"type": "str", "choices": ["", "rbd"]}, "'' is one of its choices"),
    ("a_user", {"type": "str", "default": "{{ other }}"}, "is a template"),
    ("a_mode", {"type": "str", "choices": ["x"], "default": "y"}, "not among its choices"),
    ("awx_thing", {"type": "str"}, "not a name"),
])
def test_what_a_survey_cannot_ask_is_refused_naming_the_option(name, spec, words):
    with pytest.raises(XinchuangError, match=re.escape(name)) as err:
        awx_survey.question(name, spec)
    assert words in str(err.value)


def test_every_option_of_every_role_maps_or_is_refused_by_name():
    for path in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        with open(path) as fh:
            specs = yaml_load(fh)["argument_specs"]
        for entry in specs.values():
            for name, spec in (entry.get("options") or {}).items():
                try:
                    q = awx_survey.question(name, spec)[0]
                except XinchuangError as err:
                    assert name in str(err)
                    continue
                assert awx_survey.survey_problems({"name": "n", "description": "", "spec": [q]}) == [], name


# --- the bridge: what AWX sends becomes the option's type ---

def evaluate(expression, answers):
    return Templar(loader=DataLoader(), variables=answers).template(trust_as_template(expression))


def strict_type(value, spec):
    kind = spec.get("type", "str")
    python = {"str": str, "path": str, "int": int, "float": float, "bool": bool, "list": list}[kind]
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, python) and (kind == "int" or not isinstance(value, bool) or kind == "bool")


def awx_answers(q):
    """The answers AWX may send for a question: its default as the form shows it, a blank
    (null in AWX 24.6.1, "" elsewhere), none at all (newer AWX drops blank optional answers)."""
    var = q["variable"]
    out = []
    if "default" in q:
        value = q["default"]
        out.append({var: value.splitlines() if q["type"] == "multiselect" else value})
    if not q["required"]:
        out += [{var: None}, {var: ""}, {}]
    return out


def test_every_answer_awx_may_send_gives_the_role_its_option_type_and_default():
    table, specs, templates = generated()
    for name, template in templates.items():
        row = [r for r in table["templates"] if r["file"] == name][0]
        options = {}
        for group in row["survey"]:
            if "playbook_variables" in group:
                options.update(group["playbook_variables"])
            else:
                options.update(awx_survey.entry_point_options(specs, group["role"], group.get("entry_point", "main")))
        for q in template["survey_spec"]["spec"]:
            option = q["variable"][len(awx_survey.SURVEY_PREFIX):]
            spec = options[option]
            for answers in awx_answers(q):
                value = evaluate(template["extra_vars"][option], answers)
                assert strict_type(value, spec), (name, option, answers, value)
                if "default" in spec:
                    assert value == spec["default"], (name, option, answers, value)
                result = ArgumentSpecValidator({option: spec}).validate({option: value})
                assert not result.error_messages, (name, option, result.error_messages)


def test_answers_are_converted_not_evaluated():
    q, expression = awx_survey.question("a_bool", {"type": "bool", "default": True})
    assert evaluate(expression, {q["variable"]: "false"}) is False
    q, expression = awx_survey.question("a_steps", {"type": "list", "elements": "int", "default": [10, 100]})
    assert evaluate(expression, {q["variable"]: "5\n 50 \n\n100\n"}) == [5, 50, 100]
    q, expression = awx_survey.question("a_text", {"type": "str", "default": "x"})
    assert evaluate(expression, {q["variable"]: "{{ 7 * 6 }}"}) == "{{ 7 * 6 }}"


# --- the files as awx.awx.job_template and the AWX API take them ---

def job_template_module_spec():
    import ansible_collections
    for base in ansible_collections.__path__:
        path = os.path.join(base, "awx", "awx", "plugins", "modules", "job_template.py")
        if os.path.exists(path):
            options = read_docstring(path)["doc"]["options"]
            spec = {}
            for key, doc in options.items():
                spec[key] = {k: doc[k] for k in ("type", "elements", "choices", "aliases") if k in doc}
                spec[key].setdefault("type", "str")
            return spec
    pytest.skip("the awx.awx collection (the ansible package) is not installed")


def test_each_file_is_options_of_awx_awx_job_template():
    spec = job_template_module_spec()
    for path in glob.glob(os.path.join(ROOT, "awx", "job_templates", "*.yml")):
        with open(path) as fh:
            template = yaml_load(fh)
        result = ArgumentSpecValidator(spec).validate(template)
        assert not result.error_messages, (path, result.error_messages)
        assert not result.unsupported_parameters, path
        assert awx_survey.survey_problems(template["survey_spec"]) == [], path


def test_the_survey_rules_catch_what_awx_refuses():
    base = {"type": "text", "question_name": "q", "variable": "v", "required": False}
    bad = [
        dict(base, default=3),
        dict(base, type="password", default="s"),
        dict(base, type="multiplechoice", choices=["a", ""]),
        dict(base, type="multiplechoice", choices=["a", "b"], default="a\nb"),
        dict(base, type="integer", default=True),
        dict(base, type="checkbox"),
        dict(base, variable="awx_job_id"),
        dict(base, required="yes"),
    ]
    for item in bad:
        assert awx_survey.survey_problems({"name": "n", "description": "", "spec": [item]}), item
    assert awx_survey.survey_problems({"name": "n", "description": "", "spec": [base, base]})
    assert awx_survey.survey_problems({"name": "n", "spec": [base]})


# --- the table against the playbooks ---

def playbook_text(path, seen=None):
    """A playbook's text with the playbooks it imports."""
    seen = seen if seen is not None else set()
    if path in seen:
        return ""
    seen.add(path)
    with open(path) as fh:
        text = fh.read()
    # Imports only, not a comment that shows one.
    for name in re.findall(r"^[ \t-]*(?:ansible\.builtin\.)?import_playbook:\s*(\S+)", text, re.M):
        text += playbook_text(os.path.join(os.path.dirname(path), name), seen)
    return text


def test_the_table_names_playbooks_roles_and_variables_that_exist():
    table = generated()[0]
    for row in table["templates"]:
        path = os.path.join(ROOT, row["playbook"])
        # AWX refuses a template whose playbook the project lacks: no row is "planned".
        assert os.path.exists(path), "template %s: %s does not exist" % (row["name"], row["playbook"])
        text = playbook_text(path)
        for group in row["survey"]:
            if "playbook_variables" in group:
                for name in group["playbook_variables"]:
                    assert re.search(r"\b%s\b" % name, text), "%s does not read %s" % (row["playbook"], name)
            else:
                assert "xinchuang.cloud.%s" % group["role"] in text, (
                    "template %s asks options of %s, which %s does not run" % (row["name"], group["role"], row["playbook"]))
