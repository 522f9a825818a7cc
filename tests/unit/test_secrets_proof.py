"""tests/proof/secrets.py: what the leak tests search for."""

import base64

import pytest

from tests.proof.secrets import forms, leaks


def test_a_secret_is_found_plain_and_base64_and_only_where_it_is():
    key = "Lab-San-Chap-42"
    encoded = base64.b64encode(key.encode()).decode()
    assert forms(key) == (key, encoded)
    secrets = {"chap": key, "other": "not-printed-anywhere"}
    assert leaks("ok: [node] => %s" % key, secrets) == ["chap"]
    assert leaks('"data": {"password": "%s"}' % encoded, secrets) == ["chap"]
    assert leaks("ok: [node] => VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", secrets) == []


def test_a_value_too_short_to_search_for_is_refused():
    with pytest.raises(AssertionError, match="too short"):
        leaks("anything", {"port": "5000"})
