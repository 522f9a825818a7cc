"""hack/tools.tsv names every external command the tests, bench and hack scripts call, so the
set-up installs (hack/deps.sh, hack/setup.sh) and checks each of them (hack/tools.sh check).

The scan is simple and its limits are known:
- Python (tests/, bench/, hack/, plugins/): the first element of a list literal given to
  ``subprocess.run/Popen/check_output/check_call/call``, or to a function of the same module
  that passes its first parameter on to one of those (``sh([...])``); the argument of
  ``shutil.which``; a module-level string constant counts as a literal. Not seen: commands
  built at run time (``[binary_path, ...]``, ``find_tool(name)``).
- bash (*.sh and scripts with a shell shebang): every simple command, parsed by shfmt (a real
  bash parser), inside functions, pipelines, ``$(...)`` and conditions; the word after
  ``exec``, ``command [-v]``, ``xargs``, ``timeout``, ``setsid``, ``env``, ``nohup``; an
  absolute path counts by its base name. Not seen: names in variables (``"$triplet-gcc"``,
  ``"${LAB_MACHINE_QEMU[$arch]}"``), commands inside ``bash -c``/``python3 -c`` strings, in
  chroots, containers or over ssh (those are not this machine's tools), and Ansible tasks.
Not counted: shell builtins and keywords, functions the scripts define, and programs of the
repository (a path with a ``/`` in it: ``hack/bundle.sh``, ``"$XC_ROOT/..."``).
"""

import ast
import json
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCANNED = ("tests", "bench", "hack", "plugins")
LIST = os.path.join(ROOT, "hack", "tools.tsv")
SUBPROCESS_CALLS = {"run", "Popen", "check_output", "check_call", "call"}
BUILTINS = set(""": . [ alias bg bind break builtin caller cd command compgen complete compopt
continue declare dirs disown echo enable eval exec exit export false fc fg getopts hash help
history jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly return
set shift shopt source suspend test times trap true type typeset ulimit umask unalias unset
wait""".split())
# Commands that run the next word as a command, and how many option-free words they take first.
WRAPPERS = {"exec": 0, "command": 0, "xargs": 0, "setsid": 0, "nohup": 0, "env": 0, "timeout": 1}


def listed():
    names = {}
    with open(LIST) as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            assert len(cols) == 3 and all(c.strip() for c in cols), \
                "hack/tools.tsv line %d: want command TAB source TAB used-by, got %r" % (number, line)
            names[cols[0]] = cols[1]
    return names


def files_under(suffix=None):
    for top in SCANNED:
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
            for name in sorted(files):
                yield os.path.join(folder, name)


# ---------------------------------------------------------------------------------------
# Python
# ---------------------------------------------------------------------------------------

def _is_subprocess(func):
    return (isinstance(func, ast.Attribute) and func.attr in SUBPROCESS_CALLS
            and isinstance(func.value, ast.Name) and func.value.id == "subprocess")


def python_commands(source, path="<source>"):
    """[(command, line)] a Python module starts (see the module docstring for the limits)."""
    tree = ast.parse(source, path)
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value

    def text(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        return None

    def argv0(node):
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            node = node.left
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
            return text(node.elts[0])
        return None

    def passes_on(call, param):
        node = call.args[0] if call.args else None
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            node = node.right if isinstance(node.right, ast.Name) and node.right.id == param \
                else node.left
        return isinstance(node, ast.Name) and node.id == param

    wrappers = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.args.args:
            param = fn.args.args[0].arg
            if any(isinstance(c, ast.Call) and _is_subprocess(c.func) and passes_on(c, param)
                   for c in ast.walk(fn)):
                wrappers.add(fn.name)
    found = []
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call) or not call.args:
            continue
        func = call.func
        if _is_subprocess(func) or (isinstance(func, ast.Name) and func.id in wrappers):
            name = argv0(call.args[0])
        elif isinstance(func, ast.Attribute) and func.attr == "which" \
                and isinstance(func.value, ast.Name) and func.value.id == "shutil":
            name = text(call.args[0])
        else:
            continue
        if name:
            found.append((name, call.lineno))
    return found


# ---------------------------------------------------------------------------------------
# bash, parsed by shfmt
# ---------------------------------------------------------------------------------------

def is_shell_script(path):
    if path.endswith(".sh"):
        return True
    if path.endswith(".py") or not os.access(path, os.X_OK):
        return False
    with open(path, "rb") as fh:
        first = fh.readline()
    return first.startswith(b"#!") and (first.rstrip().endswith(b"sh") or b"bash" in first)


def shell_tree(source):
    if shutil.which("shfmt") is None:
        pytest.fail("shfmt is not installed: run hack/deps.sh (Debian package shfmt, "
                    "hack/tools.tsv)", pytrace=False)
    proc = subprocess.run(["shfmt", "-ln", "bash", "-tojson"], input=source.encode(),
                          capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def _word(word):
    """The text of a word made of literals and quotes only, else None (it expands)."""
    out = []
    for part in word.get("Parts") or []:
        kind = part.get("Type")
        if kind in ("Lit", "SglQuoted"):
            out.append(part.get("Value", ""))
        elif kind == "DblQuoted":
            inner = _word(part)
            if inner is None:
                return None
            out.append(inner)
        else:
            return None
    return "".join(out)


def _command_of(words):
    """The external command of a simple command's words, or None."""
    while words:
        first = words[0]
        if first in WRAPPERS:
            rest = words[1:]
            while rest and rest[0] is not None and (rest[0].startswith("-") or "=" in rest[0]):
                rest = rest[1:]
            words = rest[WRAPPERS[first]:]
            if first == "command" or not words:
                return words[0] if words else None
            continue
        return first
    return None


def shell_commands(tree):
    """([(command, line)], {function names}) of a parsed script."""
    calls, functions = [], set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("Type") == "FuncDecl":
                functions.add(node["Name"]["Value"])
            if node.get("Type") == "CallExpr" and node.get("Args"):
                name = _command_of([_word(w) for w in node["Args"]])
                if name:
                    calls.append((name, node["Pos"]["Line"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return calls, functions


def external(name, functions):
    if name.startswith("/"):
        return os.path.basename(name)
    if "/" in name or name in BUILTINS or name in functions or name.endswith("=") or not name:
        return None
    return name


def scanned_commands():
    """{command: [where]} over tests/, bench/, hack/ and plugins/."""
    found, functions, shell = {}, set(), []
    for path in files_under():
        rel = os.path.relpath(path, ROOT)
        if path.endswith(".py"):
            with open(path) as fh:
                for name, line in python_commands(fh.read(), rel):
                    found.setdefault(name, []).append("%s:%d" % (rel, line))
        elif is_shell_script(path):
            with open(path) as fh:
                calls, defined = shell_commands(shell_tree(fh.read()))
            functions |= defined  # the scripts source each other's functions
            shell.append((rel, calls))
    for rel, calls in shell:
        for name, line in calls:
            name = external(name, functions)
            if name:
                found.setdefault(name, []).append("%s:%d" % (rel, line))
    return found


def test_every_command_the_scripts_and_tests_call_is_in_the_list():
    known = listed()
    missing = dict((name, where) for name, where in scanned_commands().items()
                   if name not in known)
    assert missing == {}, "add a row to hack/tools.tsv (command TAB Debian package or venv TAB " \
        "used by) for: " + "; ".join("%s (%s)" % (n, ", ".join(w[:3])) for n, w in sorted(missing.items()))


def test_the_scan_sees_the_commands_it_claims_to():
    found = scanned_commands()
    # One of each kind the docstring promises, from files that call them today.
    assert "tests/integration/coredns/conftest.py" in " ".join(found["dig"])  # shutil.which
    assert "docker-registry" in found  # subprocess.Popen([BINARY, ...]), BINARY a constant
    assert any(w.startswith("hack/common.sh") for w in found["dockerd"])  # setsid /usr/sbin/dockerd
    assert any(w.startswith("hack/molecule.sh") for w in found["molecule"])  # command -v
    # The collection's own controller-side code (the image builder's cross chroot).
    assert any(w.startswith("plugins/module_utils/images/builder.py") for w in found["debootstrap"])
    assert "xc_die" not in found and "img_store" not in found and "hack/bundle.sh" not in found


# ---------------------------------------------------------------------------------------
# The scanner on hand-made sources (so a broken scanner cannot pass the test above by
# finding nothing)
# ---------------------------------------------------------------------------------------

def test_python_scan_reads_argv0_which_constants_and_one_level_wrappers():
    source = '''
import shutil, subprocess
TOOL = "docker-registry"
def sh(argv, check=True):
    return subprocess.run(argv + ["--quiet"], check=check)
def build(path):
    subprocess.run([path, "build"])
subprocess.run(["skopeo", "copy"])
subprocess.Popen([TOOL, "serve"])
subprocess.check_output(["openssl"] + ["req"])
shutil.which("dig")
sh(["kubectl", "get"])
build("./x")
subprocess.run(cmd)
platforms(["c86", "arm"])
'''
    assert sorted(n for n, _l in python_commands(source)) == \
        ["dig", "docker-registry", "kubectl", "openssl", "skopeo"]


def test_shell_scan_reads_commands_everywhere_and_skips_what_is_not_a_tool():
    source = r'''#!/usr/bin/env bash
source "$(dirname "$0")/common.sh"
helper() { jq . | sort -u; }
xc_die() { echo "$*" >&2; exit 1; }
FOO=1 curl -s "$url" && exec 7>/tmp/lock
flock 7
if ! command -v debootstrap >/dev/null; then xc_die "x"; fi
out="$(git ls-files | xargs -r -n1 basename)"
timeout 30 go list ./...
setsid /usr/sbin/dockerd &
"$XC_ROOT/hack/bundle.sh"
hack/images.sh build
"$triplet-gcc" -o x x.c
python3 - <<'PY'
import os
os.system("nope")
PY
for x in a b; do helper; done
'''
    calls, functions = shell_commands(shell_tree(source))
    names = sorted(set(filter(None, (external(n, functions) for n, _l in calls))))
    assert functions == {"helper", "xc_die"}
    assert names == ["basename", "curl", "debootstrap", "dirname", "dockerd", "flock", "git",
                     "go", "jq", "python3", "sort"]


def test_the_list_rows_are_well_formed_and_unique():
    seen = set()
    with open(LIST) as fh:
        for line in fh:
            if line.strip() and not line.lstrip().startswith("#"):
                name = line.split("\t")[0]
                assert name not in seen, "%s is listed twice in hack/tools.tsv" % name
                seen.add(name)


def test_the_check_names_a_missing_command_and_its_package(tmp_path):
    tools = tmp_path / "tools.tsv"
    tools.write_text("sh\tdash\tevery script\n"
                     "xc-no-such-command\txc-no-such-package\ta test of hack/tools.sh\n"
                     "/xc/no/such/file\tlibxc-dev\ta test\n")
    env = dict(os.environ, XC_TOOLS_LIST=str(tools))
    proc = subprocess.run([os.path.join(ROOT, "hack", "tools.sh"), "check", "debian"],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "xc-no-such-command" in proc.stderr and "Debian package xc-no-such-package" in proc.stderr
    assert "/xc/no/such/file" in proc.stderr and "libxc-dev" in proc.stderr
    assert "MISSING sh " not in proc.stderr
    assert "2 tool(s) of hack/tools.tsv missing" in proc.stderr
