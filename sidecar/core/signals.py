"""What a signal source tells the sidecar about its own node, as plain data.

Signal sources (:mod:`sidecar.sources`: IMDS, the Node object, the Node's Events) are
adapters; they translate what they see into these values, and the pure decisions in
:mod:`sidecar.core` consume nothing else.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Final


class Source(enum.StrEnum):
    """Where an interruption signal came from."""

    IMDS_INSTANCE_ACTION = "imds/spot/instance-action"
    IMDS_REBALANCE = "imds/events/recommendations/rebalance"
    NODE_TAINT = "node/taint"
    NODE_DELETION = "node/deletion-timestamp"
    NODE_EVENT = "node/event"
    """An Event about the Node recording a spot interruption (Karpenter's)."""


class Kind(enum.StrEnum):
    """How certain the interruption is."""

    INTERRUPTION = "interruption"
    """The node will be stopped, hibernated or terminated soon (about 120 s)."""
    REBALANCE = "rebalance"
    """EC2 recommends moving away; an interruption may follow (opt-in trigger)."""
    DISRUPTION = "disruption"
    """The node is being removed on purpose (Karpenter's consolidation, drift or expiry, a
    deletion of the Node) with no interruption recorded: replacements start first and drains
    honour PodDisruptionBudgets, so this is no reason to move (opt-in trigger)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Interruption:
    """A signal that this sidecar's node is doomed (or at elevated risk, for a rebalance)."""

    node: str
    source: Source
    kind: Kind
    seen_at: datetime
    """When the sidecar observed the signal (UTC)."""
    action: str | None = None
    """``terminate`` | ``stop`` | ``hibernate`` for an IMDS notice; ``None`` otherwise."""
    deadline: datetime | None = None
    """When the action happens, if the source says (UTC)."""
    detail: str = ""
    """Free text for the message and Event, e.g. the taint key."""


STRENGTH: Final = (Kind.INTERRUPTION, Kind.DISRUPTION, Kind.REBALANCE)
"""Kinds from the most certain and urgent to the least: where a node shows several signals,
the first of these is the one to act on (and to record as the notice)."""


def strongest(signals: Iterable[Interruption], wanted: Collection[Kind]) -> Interruption | None:
    """The first of ``signals`` of the strongest kind in ``wanted`` (an opt-in kind is wanted
    only where a Deployment asks for it), or ``None``."""
    found = [signal for signal in signals if signal.kind in wanted]
    if not found:
        return None
    return min(found, key=lambda signal: STRENGTH.index(signal.kind))
