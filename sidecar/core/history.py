"""The bounded history of transitions kept on the Deployment.

Whoever looks at a Deployment after an interruption wants to know what the add-on did, when,
and which sidecar did it, even after the pods involved are gone. The ``spot-failover/history``
annotation keeps the last :data:`~spot_common.contract.HISTORY_LIMIT` transitions, newest last:
``[{"time": ..., "from": ..., "to": ..., "reason": ..., "by": <pod>}]``. Annotations share a
256 KiB budget per object, so the list is bounded and each reason is clipped.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sidecar.core.errors import CorruptStateError
from sidecar.core.times import format_time, parse_time
from spot_common.contract import HISTORY, HISTORY_LIMIT, State

REASON_LIMIT: Final = 300
"""Characters kept of each entry's reason."""


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One transition: when, from which state to which, why, and by which pod."""

    time: datetime
    from_state: State
    to_state: State
    reason: str
    by: str

    def to_json(self) -> dict[str, Any]:
        """The entry as stored in the annotation."""
        return {
            "time": format_time(self.time),
            "from": str(self.from_state),
            "to": str(self.to_state),
            "reason": self.reason[:REASON_LIMIT],
            "by": self.by,
        }


def parse_history(text: str) -> tuple[HistoryEntry, ...]:
    """The entries in the annotation value; :class:`CorruptStateError` if it is not one."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise CorruptStateError(HISTORY, "not JSON") from None
    if not isinstance(document, list):
        raise CorruptStateError(HISTORY, "not a JSON list")
    return tuple(_entry(index, element) for index, element in enumerate(document))


def append(
    history: Sequence[HistoryEntry], entry: HistoryEntry, limit: int = HISTORY_LIMIT
) -> tuple[HistoryEntry, ...]:
    """``history`` plus ``entry``, keeping only the newest ``limit`` entries."""
    if limit < 1:
        raise ValueError(f"history limit must be positive, got {limit}")
    return (*history, entry)[-limit:]


def dump_history(history: Sequence[HistoryEntry]) -> str:
    """The annotation value for ``history`` (compact JSON)."""
    return json.dumps([entry.to_json() for entry in history], separators=(",", ":"))


def _entry(index: int, element: object) -> HistoryEntry:
    if not isinstance(element, dict) or set(element) != {"time", "from", "to", "reason", "by"}:
        raise CorruptStateError(HISTORY, f"entry {index} is not {{time, from, to, reason, by}}")
    values = [element[key] for key in ("time", "from", "to", "reason", "by")]
    if not all(isinstance(value, str) for value in values):
        raise CorruptStateError(HISTORY, f"entry {index}: every field must be a string")
    time = parse_time(element["time"])
    if time is None:
        raise CorruptStateError(HISTORY, f"entry {index}: time is not RFC 3339")
    try:
        from_state, to_state = State(element["from"]), State(element["to"])
    except ValueError:
        raise CorruptStateError(HISTORY, f"entry {index}: unknown state") from None
    return HistoryEntry(time, from_state, to_state, element["reason"], element["by"])
