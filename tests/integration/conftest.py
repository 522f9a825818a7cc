"""Integration tests: fixtures live in tests/integration/fixtures_*.py (see tests/conftest.py)."""
