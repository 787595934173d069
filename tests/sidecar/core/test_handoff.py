"""Handing a move's Lease on: the destination side goes first, and a settled release ends the
move for those standing by."""

from __future__ import annotations

import pytest

from sidecar.core.handoff import on_destination_side, released_in
from sidecar.core.lease import LeaseRecord
from spot_common.contract import State
from tests.sidecar.core.builders import NOW


def record(holder: str | None) -> LeaseRecord:
    return LeaseRecord(
        holder=holder,
        duration_s=15,
        acquire_time=NOW,
        renew_time=NOW,
        transitions=1,
        resource_version="7",
    )


@pytest.mark.parametrize(
    ("state", "on_fargate", "expected"),
    [
        (State.MIGRATING, True, True),
        (State.MIGRATING, False, False),
        (State.FAILING_BACK, False, True),
        (State.FAILING_BACK, True, False),
        (State.WATCHING, False, True),
        (State.ON_FARGATE, True, True),
    ],
)
def test_the_side_a_move_goes_to_takes_its_lease_first(
    state: State, on_fargate: bool, expected: bool
) -> None:
    assert on_destination_side(state, on_fargate=on_fargate) is expected


@pytest.mark.parametrize(
    "state", [State.WATCHING, State.ON_FARGATE, State.ROLLED_BACK, State.FAILED]
)
def test_a_release_stamped_with_a_settled_state_says_where_the_move_ended(state: State) -> None:
    assert released_in(record(None), state) is state


@pytest.mark.parametrize(
    ("holder", "stamped"),
    [
        ("web-1", State.ON_FARGATE),
        (None, State.MIGRATING),
        (None, None),
    ],
    ids=["still held", "released mid-move", "never stamped"],
)
def test_anything_else_does_not_end_the_move(holder: str | None, stamped: State | None) -> None:
    assert released_in(record(holder), stamped) is None


def test_without_a_record_nothing_was_released() -> None:
    assert released_in(None, State.WATCHING) is None
