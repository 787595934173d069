"""Resource quantities read as the API server reads them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.core import quantities
from sidecar.core.errors import MalformedObjectError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        (2, Decimal(2)),
        ("1.5", Decimal("1.5")),
        ("64Mi", Decimal(64 * 2**20)),
        ("1Gi", Decimal(2**30)),
        ("1G", Decimal(10**9)),
        ("2e3", Decimal(2000)),
        ("1E", Decimal(10**18)),
        ("100k", Decimal(100_000)),
    ],
)
def test_a_quantity_is_its_number_of_units(text: object, value: Decimal) -> None:
    assert quantities.parse(text, "cpu") == value


@pytest.mark.parametrize("text", ["", "lots", "1Xi", "Mi", "1.2.3"])
def test_what_is_not_a_quantity_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(MalformedObjectError, match=r"requests\.cpu"):
        quantities.parse(text, "requests.cpu")


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["Ki", "Mi", "Gi"]))
def test_binary_suffixes_are_powers_of_two(number: int, suffix: str) -> None:
    power = {"Ki": 10, "Mi": 20, "Gi": 30}[suffix]
    assert quantities.parse(f"{number}{suffix}", "memory") == number * 2**power


@given(st.integers(min_value=0, max_value=10**6))
def test_milli_units_are_thousandths(number: int) -> None:
    assert quantities.parse(f"{number}m", "cpu") * 1000 == number
