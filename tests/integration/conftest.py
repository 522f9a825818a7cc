"""Integration tests: fixtures live in tests/integration/fixtures_*.py and the parallel
schedule in tests/integration/parallel_schedule.py (see tests/conftest.py)."""
