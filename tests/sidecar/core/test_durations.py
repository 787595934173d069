"""Durations such as ``failback-after``: seconds, Go-style ``1h30m``, or ``never``; nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.core.durations import NEVER, Duration, format_duration, parse_duration
from sidecar.core.errors import InvalidValueError
from spot_common import contract


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("600", timedelta(seconds=600)),
        ("0", timedelta(0)),
        ("10m", timedelta(minutes=10)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2h0m5s", timedelta(hours=2, seconds=5)),
        ("48h", timedelta(hours=48)),
        (" 10m ", timedelta(minutes=10)),
        ("never", NEVER),
        ("Never", NEVER),
    ],
)
def test_accepted_forms_parse(text: str, expected: Duration) -> None:
    assert parse_duration(text, source=contract.FAILBACK_AFTER) == expected


@pytest.mark.parametrize(
    "text",
    [
        *("", " ", "-5", "1.5h", "1d", "10 minutes", "5m10h", "1h1h", "300ms", "m", "+60", "٣"),
        *("1h\n2", "99999999999999999999h", "9" * 30),
    ],
)
def test_anything_else_is_refused_naming_the_annotation_and_an_example(text: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        parse_duration(text, source=contract.FAILBACK_AFTER)
    error = caught.value
    assert error.source == contract.FAILBACK_AFTER
    assert contract.FAILBACK_AFTER in str(error)
    assert '"1h30m"' in str(error)
    assert '"never"' in str(error)


@given(st.integers(min_value=0, max_value=10**7))
def test_formatting_and_parsing_agree(seconds: int) -> None:
    duration = timedelta(seconds=seconds)
    assert parse_duration(format_duration(duration), source="x") == duration


@given(st.text())
def test_any_text_parses_or_is_refused_with_the_typed_error(text: str) -> None:
    try:
        parsed = parse_duration(text, source="x")
    except InvalidValueError:
        return
    assert parsed is NEVER or (isinstance(parsed, timedelta) and parsed >= timedelta(0))


def test_never_formats_as_never() -> None:
    assert format_duration(NEVER) == "never"
