"""The two tiers of the suite (docs/development.md, "Two tiers"), read from ``tests/tiers.yml``.

- **gate** (``make test``, CI): every test that the table does not move to the full tier.
- **full** (``make test-full``): every test.

A test is in the full tier only when a ``full`` entry of the table matches its node id (relative
to ``tests/``, where pytest.ini is): the entry ``integration/hpa/test_hpa_controller.py`` takes a
whole module, ``e2e/test_cluster.py::test_scale_adds_the_mips64el_machine`` one test with all its
parameters, ``e2e/test_hardening.py::test_x[xc-lab-mips64el]`` one parameter. Each entry says why.
Molecule scenarios are listed by name under ``molecule``; nothing else decides a tier.

Options: ``--tier gate|full`` (default: ``$XC_TIER``, else ``full``: a developer's ``pytest
PATH`` runs what it names); ``--tier-plan`` prints the table of both tiers instead of running
anything (``make test-plan``) and fails on an entry that matches no test.
Also ``python -m tests.tiers molecule gate|full`` prints the molecule scenarios of a tier.
"""

import collections
import os
import sys

import pytest
import yaml

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
TABLE = os.path.join(TESTS, "tiers.yml")
TIERS = ("gate", "full")


class TierTableError(Exception):
    """tests/tiers.yml is malformed: the message names the entry and the fix."""


def load(path=TABLE):
    """The table: {"full": [{"tests": prefix, "why": text}], "molecule": {scenario: tier}}."""
    with open(path) as fh:
        table = yaml.safe_load(fh) or {}
    unknown = set(table) - {"full", "molecule"}
    if unknown:
        raise TierTableError("%s: unknown keys %s; the table has `full` and `molecule`" % (path, sorted(unknown)))
    for i, entry in enumerate(table.get("full") or []):
        if not isinstance(entry, dict) or not entry.get("tests") or not entry.get("why"):
            raise TierTableError("%s: full entry %d (%r) needs `tests` (a node-id prefix under tests/) "
                                 "and `why`" % (path, i + 1, entry))
        if entry["tests"].startswith("tests/"):
            raise TierTableError("%s: full entry %r: node ids are relative to tests/; write %r"
                                 % (path, entry["tests"], entry["tests"][len("tests/"):]))
    for scenario, tier in (table.get("molecule") or {}).items():
        if tier not in TIERS:
            raise TierTableError("%s: molecule scenario %s has tier %r; use one of %s"
                                 % (path, scenario, tier, ", ".join(TIERS)))
    table.setdefault("full", [])
    table.setdefault("molecule", {})
    return table


def matches(prefix, nodeid):
    """Whether the entry PREFIX takes the test NODEID: the same id, a directory or module of
    it, or the test without its parameters (never a longer name that merely starts alike)."""
    if nodeid == prefix:
        return True
    if not nodeid.startswith(prefix):
        return False
    return prefix.endswith("/") or nodeid[len(prefix)] in ":["


def full_entry(table, nodeid):
    """The first full entry that takes NODEID, or None (the test is in the gate)."""
    for entry in table["full"]:
        if matches(entry["tests"], nodeid):
            return entry
    return None


# --- the pytest plugin (tests/conftest.py loads it) ------------------------------------------
def pytest_addoption(parser):
    group = parser.getgroup("tiers", "the gate and full tiers (tests/tiers.yml)")
    group.addoption("--tier", choices=TIERS, default=os.environ.get("XC_TIER") or "full",
                    help="run the gate's tests or all of them (default: $XC_TIER, else full)")
    group.addoption("--tier-plan", action="store_true",
                    help="print which tier each collected test is in, run nothing")


def pytest_configure(config):
    config.addinivalue_line("markers", "tier_full: in the full tier only (set from tests/tiers.yml)")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    table = load()
    keep, moved, plan = [], [], []
    for item in items:
        entry = full_entry(table, item.nodeid)
        if entry is not None:
            item.add_marker(pytest.mark.tier_full)
        plan.append((item.nodeid, entry))
        (moved if entry is not None and config.getoption("tier") == "gate" else keep).append(item)
    if config.getoption("tier_plan"):
        config._tier_plan = (table, plan)
        config.hook.pytest_deselected(items=list(items))
        items[:] = []
        return
    if moved:
        config.hook.pytest_deselected(items=moved)
        items[:] = keep


def plan_report(table, plan, all_collected):
    """The lines of `make test-plan`, and the entries that took no test (when ALL_COLLECTED)."""
    per_file = collections.OrderedDict()
    for nodeid, entry in plan:
        path = nodeid.split("::", 1)[0]
        counts = per_file.setdefault(path, {"gate": 0, "full": 0, "why": []})
        if entry is None:
            counts["gate"] += 1
        else:
            counts["full"] += 1
            if entry["why"] not in counts["why"]:
                counts["why"].append(entry["why"])
    lines = ["%-62s %5s %5s  %s" % ("tests (pytest, relative to tests/)", "gate", "full", "why not in the gate")]
    for path, counts in per_file.items():
        why = " ".join(counts["why"][0].split()) if counts["why"] else ""
        why = (why[:90] + "...") if len(why) > 93 else why
        if len(counts["why"]) > 1:
            why += " (+%d more)" % (len(counts["why"]) - 1)
        lines.append("%-62s %5d %5d  %s" % (path, counts["gate"], counts["full"] + counts["gate"], why))
    gate = sum(1 for _n, e in plan if e is None)
    lines.append("%-62s %5d %5d" % ("total", gate, len(plan)))
    lines.append("")
    lines.append("molecule scenarios: gate %s; full only %s" % (
        ", ".join(s for s, t in sorted(table["molecule"].items()) if t == "gate") or "none",
        ", ".join(s for s, t in sorted(table["molecule"].items()) if t == "full") or "none"))
    stale = []
    if all_collected:
        ids = [n for n, _e in plan]
        stale = [e["tests"] for e in table["full"] if not any(matches(e["tests"], n) for n in ids)]
        scenarios = molecule_scenarios_on_disk()
        stale += ["molecule scenario %s: no tier in tests/tiers.yml" % s
                  for s in scenarios if s not in table["molecule"]]
        stale += ["molecule scenario %s: no such scenario under molecule/" % s
                  for s in table["molecule"] if s not in scenarios]
    return lines, stale


def pytest_terminal_summary(terminalreporter, config):
    if not getattr(config, "_tier_plan", None):
        return
    table, plan = config._tier_plan
    args = [os.path.abspath(a.split("::")[0]) for a in config.args]
    all_collected = any(os.path.abspath(a) in (TESTS, ROOT) for a in args)
    lines, stale = plan_report(table, plan, all_collected)
    for line in lines:
        terminalreporter.write_line(line)
    if stale:
        terminalreporter.write_line("")
        for s in stale:
            terminalreporter.write_line("STALE tests/tiers.yml entry: %s" % s)
        config._tier_plan_stale = stale


def pytest_sessionfinish(session, exitstatus):
    if getattr(session.config, "_tier_plan_stale", None):
        session.exitstatus = 3
    elif getattr(session.config, "_tier_plan", None) and exitstatus == 5:
        session.exitstatus = 0  # the plan deselects everything on purpose


def molecule_scenarios_on_disk():
    """The scenarios under molecule/ (a directory with a molecule.yml)."""
    base = os.path.join(ROOT, "molecule")
    return sorted(d for d in os.listdir(base) if os.path.isfile(os.path.join(base, d, "molecule.yml")))


def molecule_scenarios(tier, table=None):
    """The molecule scenarios a run of TIER plays: the gate's, or all of them."""
    table = table or load()
    return sorted(s for s, t in table["molecule"].items() if tier == "full" or t == "gate")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "molecule" or sys.argv[2] not in TIERS:
        sys.exit("usage: python -m tests.tiers molecule gate|full")
    print("\n".join(molecule_scenarios(sys.argv[2])))
