"""A refusal that retrying cannot mend backs off, from seconds (a Role not provisioned yet, the
usual order at opt-in) to five minutes (a Role withdrawn for good), never crash-looping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sidecar.core.wakeup import REFUSED_BACKOFF_S, REFUSED_FIRST_S, refused_backoff_s


def test_the_first_refusal_waits_seconds_not_minutes() -> None:
    assert refused_backoff_s(1) == REFUSED_FIRST_S


def test_each_further_refusal_doubles_the_wait_up_to_five_minutes() -> None:
    waits = [refused_backoff_s(n) for n in range(1, 10)]

    assert waits == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]


@given(st.integers(min_value=1, max_value=10_000))
def test_the_wait_never_shrinks_and_never_exceeds_the_cap(refusals: int) -> None:
    assert REFUSED_FIRST_S <= refused_backoff_s(refusals) <= REFUSED_BACKOFF_S
    assert refused_backoff_s(refusals) <= refused_backoff_s(refusals + 1)
