"""Handing a move's Lease on: who takes it first, and when a release means the move is over.

A move's leader dies with the pod it is moving away from, so a successor on the same side would
soon die too: candidates on the move's destination side take a free Lease first
(:func:`on_destination_side`; :mod:`sidecar.leadership` makes the others wait a term). Every
write of the Lease is stamped with the Deployment's state, so a release stamped with a settled
state tells a standby that the move ended, and where, without a read of the Deployment
(:func:`released_in`).
"""

from __future__ import annotations

from sidecar.core.lease import LeaseRecord
from sidecar.core.transitions import SETTLED
from spot_common.contract import State


def on_destination_side(state: State, *, on_fargate: bool) -> bool:
    """Whether a sidecar runs where the move in ``state`` goes (it outlives the move): on
    Fargate while Migrating, on spot while FailingBack; anywhere when no move is under way."""
    if state is State.MIGRATING:
        return on_fargate
    if state is State.FAILING_BACK:
        return not on_fargate
    return True


def released_in(record: LeaseRecord | None, stamped: State | None) -> State | None:
    """The settled state a leader released the Lease in, if the last record seen is such a
    release (no holder, stamped settled); ``None`` otherwise."""
    if record is None or record.holder is not None or stamped not in SETTLED:
        return None
    return stamped
