# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes resource quantities (``250m``, ``1.5``, ``64Mi``, ``1e3``, ``0.25``). No I/O.

The one reader of the API's ``resource.Quantity`` strings in the collection: the HPA
tolerances of hpa_thresholds, and the CPU and memory requests and node capacities that
canary_weights' verify adds up. Same grammar as the API machinery
(k8s.io/apimachinery/pkg/api/resource): a signed decimal number, then a binary suffix
(Ki..Ei), a decimal exponent (e3, E-2) or a decimal suffix (n, u, m, k, M..E).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class QuantityError(XinchuangError, ValueError):
    """A string that is not a Kubernetes quantity."""


_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
# Binary suffixes before the exponent, the exponent before the one-letter suffixes: "2E" is
# two exa, "2E3" two thousand.
_QUANTITY = re.compile(
    r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)$")


def parse_quantity(value):
    """A quantity (string, int, float or Decimal) -> its exact Decimal value."""
    if isinstance(value, bool):
        raise QuantityError("%r is a boolean, not a quantity" % (value,))
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise QuantityError(
            "cannot read the quantity %r; write a number with an optional suffix, such as "
            "250m, 1.5, 64Mi or 1e3" % (value,))
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise QuantityError("cannot read the quantity %r" % (value,))
    suffix = match.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number.scaleb(int(suffix[1:]))
    return number.scaleb(_DECIMAL[suffix])


def _scaled(value, scale):
    """``value`` in units of 10**-scale, rounded up as the API machinery's ScaledValue does;
    0 for an absent value (no request)."""
    if value in (None, ""):
        return 0
    return int((parse_quantity(value).scaleb(scale)).to_integral_value(rounding=ROUND_CEILING))


def cpu_millis(value):
    """CPU quantity -> millicores (``1.5`` -> 1500, ``250m`` -> 250)."""
    return _scaled(value, 3)


def memory_bytes(value):
    """Memory quantity -> bytes (``1Gi`` -> 1073741824, ``500M`` -> 500000000)."""
    return _scaled(value, 0)
