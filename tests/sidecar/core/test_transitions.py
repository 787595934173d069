"""Every state is either settled or a move under way, never both."""

from __future__ import annotations

from sidecar.core.transitions import SETTLED, UNFINISHED
from spot_common.contract import State


def test_every_state_is_settled_or_unfinished() -> None:
    assert set(State) == SETTLED | UNFINISHED


def test_no_state_is_both_settled_and_unfinished() -> None:
    assert not SETTLED & UNFINISHED
