"""The tier table (tests/tiers.py, tests/tiers.yml): how an entry takes tests, its errors, and
the plan's stale entries."""

import pytest

from tests import tiers


@pytest.mark.parametrize("prefix,nodeid,taken", [
    ("integration/hpa/", "integration/hpa/test_x.py::test_a", True),
    ("integration/hpa/test_x.py", "integration/hpa/test_x.py::test_a", True),
    ("e2e/a.py::test_scale", "e2e/a.py::test_scale", True),
    ("e2e/a.py::test_scale", "e2e/a.py::test_scale[xc-lab-arm64]", True),
    ("e2e/a.py::test_scale[xc-lab-arm64]", "e2e/a.py::test_scale[xc-lab-arm64]", True),
    # A longer name that merely starts alike is another test.
    ("e2e/a.py::test_scale", "e2e/a.py::test_scale_adds_more", False),
    ("integration/hpa", "integration/hpa_other/test_x.py::test_a", False),
    ("e2e/a.py::test_scale[xc-lab-arm64]", "e2e/a.py::test_scale[xc-lab-mips64el]", False),
])
def test_an_entry_takes_the_test_itself_its_parameters_and_what_is_under_it(prefix, nodeid, taken):
    assert tiers.matches(prefix, nodeid) is taken


def write(tmp_path, text):
    path = tmp_path / "tiers.yml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text,named", [
    ("full:\n  - tests: e2e/a.py\n", "needs `tests`"),
    ("full:\n  - why: because\n", "needs `tests`"),
    ("full:\n  - {tests: tests/e2e/a.py, why: x}\n", "write 'e2e/a.py'"),
    ("molecule:\n  lab: sometimes\n", "lab has tier 'sometimes'"),
    ("fulll: []\n", "unknown keys ['fulll']"),
])
def test_a_malformed_table_is_refused_naming_the_entry_and_the_fix(tmp_path, text, named):
    with pytest.raises(tiers.TierTableError) as err:
        tiers.load(write(tmp_path, text))
    assert named in str(err.value)


def test_the_plan_counts_both_tiers_and_names_stale_entries(tmp_path):
    table = tiers.load(write(tmp_path, "full:\n"
                                       "  - {tests: e2e/a.py::test_b, why: costly}\n"
                                       "  - {tests: e2e/a.py::test_gone, why: renamed since}\n"
                                       "molecule: {}\n"))
    ids = ["e2e/a.py::test_a", "e2e/a.py::test_b[1]", "e2e/a.py::test_b[2]"]
    plan = [(n, tiers.full_entry(table, n)) for n in ids]
    lines, stale = tiers.plan_report(table, plan, all_collected=True)
    row = [line for line in lines if line.startswith("e2e/a.py")][0].split()
    assert row[1:4] == ["1", "3", "costly"], row
    assert "e2e/a.py::test_gone" in stale
    # Every scenario under molecule/ needs a tier: this table names none.
    assert any(s.startswith("molecule scenario") and "no tier" in s for s in stale), stale
    # A run that collected part of the tree cannot tell a stale entry from an uncollected one.
    assert tiers.plan_report(table, plan, all_collected=False)[1] == []


def test_the_real_table_loads_and_gives_every_molecule_scenario_a_tier():
    table = tiers.load()
    scenarios = tiers.molecule_scenarios_on_disk()
    assert scenarios, "no molecule scenario found under molecule/"
    assert sorted(table["molecule"]) == scenarios
    assert tiers.molecule_scenarios("full", table) == scenarios
    assert set(tiers.molecule_scenarios("gate", table)) <= set(scenarios)
