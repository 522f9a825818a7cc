"""Data the tests compare the code with, kept apart from the code it checks (oracles).

The paper's tables are in docs/paper-tables.yml, the project's shared reference copied byte
for byte (tests/unit/test_references.py pins its digest; what the paper is and what each table
means: docs/references.md). A test that checks the product's copy of a
number, or a module's output built from it, compares with this, never with the module's own
constant: a typo in the product would otherwise agree with itself.
"""

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAPER_TABLES = os.path.join(ROOT, "docs", "paper-tables.yml")


def paper_table(key):
    """One table of docs/paper-tables.yml, e.g. ``autoscaling_thresholds`` (Table 3)."""
    with open(PAPER_TABLES) as fh:
        return yaml.safe_load(fh)[key]


def table3(family=None):
    """Table 3, {family: {cpu_scale_out, cpu_scale_in, memory_scale_out, memory_scale_in}}, or
    one family's row."""
    table = paper_table("autoscaling_thresholds")
    return dict(table[family]) if family else table


def envelope(families):
    """The thresholds safe for all ``families`` of Table 3, computed here from the paper's
    numbers: the earliest scale-out and the latest scale-in of each."""
    table = table3()
    keys = table[families[0]].keys()
    return dict((k, min(table[f][k] for f in families)) for k in keys)
