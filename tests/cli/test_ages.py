"""Ages read as ``kubectl get`` prints them (apimachinery's ``duration.HumanDuration``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spot_failover.ages import age, human_duration, until

NOW = datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("span", "printed"),
    [
        (timedelta(seconds=0), "0s"),
        (timedelta(seconds=1), "1s"),
        (timedelta(seconds=70), "70s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(seconds=120), "2m"),
        (timedelta(seconds=190), "3m10s"),
        (timedelta(minutes=9, seconds=59), "9m59s"),
        (timedelta(minutes=10), "10m"),
        (timedelta(minutes=70), "70m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=3, minutes=5), "3h5m"),
        (timedelta(hours=7, minutes=59), "7h59m"),
        (timedelta(hours=8, minutes=30), "8h"),
        (timedelta(hours=47), "47h"),
        (timedelta(hours=48), "2d"),
        (timedelta(hours=49), "2d1h"),
        (timedelta(hours=8 * 24 + 2), "8d"),
        (timedelta(days=367), "367d"),
        (timedelta(days=365 * 2, hours=25), "2y1d"),
        (timedelta(days=365 * 8, hours=2), "8y"),
        (timedelta(milliseconds=-900), "0s"),
        (timedelta(seconds=-1), "0s"),
        (timedelta(seconds=-2), "<invalid>"),
    ],
)
def test_a_span_is_printed_as_kubectl_prints_an_age(span: timedelta, printed: str) -> None:
    assert human_duration(span) == printed


def test_an_age_without_a_timestamp_is_unknown() -> None:
    assert age(None, NOW) == "<unknown>"


def test_an_age_counts_from_the_timestamp_to_now() -> None:
    assert age(NOW - timedelta(minutes=5), NOW) == "5m"


def test_a_timestamp_in_the_future_beyond_a_second_is_invalid_as_with_a_skewed_clock() -> None:
    assert age(NOW + timedelta(minutes=1), NOW) == "<invalid>"


def test_time_until_a_moment_reads_in_or_due_once_passed() -> None:
    assert until(NOW + timedelta(minutes=25), NOW) == "in 25m"
    assert until(NOW, NOW) == "due"
    assert until(NOW - timedelta(hours=1), NOW) == "due"


def test_a_naive_now_is_refused_rather_than_shifted_by_the_local_offset() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        age(NOW, datetime(2026, 1, 2, 15, 4, 5))  # noqa: DTZ001
