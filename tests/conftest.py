"""Makes the collection importable as ansible_collections.xinchuang.cloud in every test."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
_link = os.path.join(COLLECTIONS, "ansible_collections", "xinchuang", "cloud")
if not os.path.islink(_link):
    os.makedirs(os.path.dirname(_link), exist_ok=True)
    os.symlink(ROOT, _link)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

# Fixtures of the real servers, one module per server, and the parallel schedule of the
# integration stage (pytest_plugins must be declared here,
# in the top-level conftest).
pytest_plugins = [
    "tests.integration.ansible_run",
    "tests.integration.parallel_schedule",
    "tests.tiers",
] + [
    "tests.integration." + name[:-3]
    for name in sorted(os.listdir(os.path.join(ROOT, "tests", "integration")))
    if name.startswith("fixtures_") and name.endswith(".py")
]
