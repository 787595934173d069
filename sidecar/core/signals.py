"""What a signal source tells the sidecar about its own node, as plain data.

Signal sources (:mod:`sidecar.sources`: IMDS, the Node object) are adapters; they translate
what they see into these values, and the pure decisions in :mod:`sidecar.core` consume nothing
else.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime


class Source(enum.StrEnum):
    """Where an interruption signal came from."""

    IMDS_INSTANCE_ACTION = "imds/spot/instance-action"
    IMDS_REBALANCE = "imds/events/recommendations/rebalance"
    NODE_TAINT = "node/taint"
    NODE_DELETION = "node/deletion-timestamp"


class Kind(enum.StrEnum):
    """How certain the interruption is."""

    INTERRUPTION = "interruption"
    """The node will be stopped, hibernated or terminated soon (about 120 s)."""
    REBALANCE = "rebalance"
    """EC2 recommends moving away; an interruption may follow (opt-in trigger)."""


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
