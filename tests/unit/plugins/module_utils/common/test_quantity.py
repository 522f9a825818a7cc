"""Kubernetes quantities read once for the collection (plugins/module_utils/common/quantity.py):
the HPA tolerances of hpa_thresholds and the requests and capacities canary verify adds up.
The oracle is the kubernetes client's own parser, written apart from ours."""

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from kubernetes.utils import parse_quantity as client_parse_quantity

from ansible_collections.xinchuang.cloud.plugins.module_utils.common import quantity


@pytest.mark.parametrize("text,value", [
    ("0.25", "0.25"), ("250m", "0.25"), ("1", "1"), ("666700u", "0.6667"), ("5n", "0.000000005"),
])
def test_quantities_compare_as_numbers(text, value):
    assert quantity.parse_quantity(text) == Decimal(value)


def test_quantities():
    assert quantity.cpu_millis("250m") == 250
    assert quantity.cpu_millis("1.5") == 1500
    assert quantity.memory_bytes("1Gi") == 2 ** 30
    assert quantity.memory_bytes("500M") == 5 * 10 ** 8
    assert quantity.memory_bytes("123") == 123


def test_every_suffix_and_exponent_of_the_api_grammar():
    assert quantity.parse_quantity("1Ei") == 2 ** 60
    assert quantity.parse_quantity("2E") == 2 * 10 ** 18  # exa, not an exponent
    assert quantity.parse_quantity("1e3") == 1000
    assert quantity.parse_quantity("15E-1") == Decimal("1.5")
    assert quantity.parse_quantity(".5") == Decimal("0.5")
    assert quantity.parse_quantity(3) == 3 and quantity.parse_quantity(0.5) == Decimal("0.5")


def test_absent_requests_count_as_zero_and_fractions_round_up_as_the_api_does():
    assert quantity.cpu_millis(None) == 0 and quantity.memory_bytes("") == 0
    assert quantity.cpu_millis("0.0001") == 1  # a request never rounds down to nothing
    assert quantity.memory_bytes("1.5k") == 1500


@pytest.mark.parametrize("text", ["lots", "1.5.2", "1Xi", "m", "1 Gi", True])
def test_what_is_not_a_quantity_is_refused_naming_it(text):
    with pytest.raises(quantity.QuantityError, match="quantity"):
        quantity.parse_quantity(text)
    with pytest.raises(ValueError):  # callers that catch ValueError keep working
        quantity.parse_quantity(text)


SUFFIXES = ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
            "e3", "E-2", "e0"]


@given(st.decimals(min_value=0, max_value=10 ** 6, places=3, allow_nan=False,
                   allow_infinity=False), st.sampled_from(SUFFIXES))
def test_agrees_with_the_kubernetes_clients_parser(number, suffix):
    text = format(number, "f") + suffix
    assert quantity.parse_quantity(text) == client_parse_quantity(text)
