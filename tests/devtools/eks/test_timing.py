"""Fargate's simulated start: delays drawn within their bounds, the same for the same seed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devtools.eks.timing import FAST, REALISTIC, FargateTiming


@given(st.integers(min_value=0, max_value=2**32))
def test_drawn_delays_stay_within_their_jitter(seed: int) -> None:
    timing = FargateTiming(37.5, 7.5, 22.5, 7.5, seed=seed)
    provision, start = timing.draw(timing.rng())

    assert 30 <= provision <= 45
    assert 15 <= start <= 30


def test_the_same_seed_draws_the_same_delays() -> None:
    first, second = REALISTIC.rng(), REALISTIC.rng()

    assert [REALISTIC.draw(first) for _ in range(5)] == [REALISTIC.draw(second) for _ in range(5)]


def test_realistic_is_about_a_minute_and_fast_well_under_a_second() -> None:
    assert REALISTIC.typical_ready_s == 60
    assert FAST.provision_s + FAST.provision_jitter_s + FAST.start_s + FAST.start_jitter_s < 1


def test_a_jitter_larger_than_its_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="negative delays"):
        FargateTiming(1, 2, 1, 0)
