"""Ages as kubectl prints them: ``45s``, ``5m``, ``2d3h``, ``<unknown>``.

People read ``spot-failover status`` next to ``kubectl get``, so a duration must look the same in
both. :func:`human_duration` follows apimachinery's ``duration.HumanDuration`` (about two
significant figures; more precision for short spans, less for long ones), and :func:`age` is
kubectl's ``translateTimestampSince``: ``<unknown>`` when there is no timestamp, ``<invalid>``
when it lies more than a second in the future (a skewed clock).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from sidecar.core.times import require_utc

UNKNOWN: Final = "<unknown>"
INVALID: Final = "<invalid>"

_MINUTE: Final = 60
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR
_YEAR: Final = 365 * _DAY


def _two_units(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big}{big_unit}" if small == 0 else f"{big}{big_unit}{small}{small_unit}"


_STEPS: Final[tuple[tuple[int, Callable[[int], str]], ...]] = (
    (2 * _MINUTE, lambda s: f"{s}s"),
    (10 * _MINUTE, lambda s: _two_units(s // _MINUTE, "m", s % _MINUTE, "s")),
    (3 * _HOUR, lambda s: f"{s // _MINUTE}m"),
    (8 * _HOUR, lambda s: _two_units(s // _HOUR, "h", s // _MINUTE % 60, "m")),
    (48 * _HOUR, lambda s: f"{s // _HOUR}h"),
    (8 * _DAY, lambda s: _two_units(s // _DAY, "d", s // _HOUR % 24, "h")),
    (2 * _YEAR, lambda s: f"{s // _DAY}d"),
    (8 * _YEAR, lambda s: _two_units(s // _YEAR, "y", s // _DAY % 365, "d")),
)
"""HumanDuration's table: below each bound (in seconds), the format that applies."""


def human_duration(span: timedelta) -> str:
    """``span`` with limited precision, exactly as ``kubectl get`` prints an age."""
    seconds = int(span.total_seconds())  # truncates toward zero, as Go's int(d.Seconds())
    if seconds < -1:
        return INVALID
    if seconds < 0:
        return "0s"
    for bound, render in _STEPS:
        if seconds < bound:
            return render(seconds)
    return f"{seconds // _YEAR}y"


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was, or :data:`UNKNOWN` without one."""
    if moment is None:
        return UNKNOWN
    return human_duration(require_utc(now, "now") - require_utc(moment))


def until(moment: datetime, now: datetime) -> str:
    """How long until ``moment``: ``in 5m``, or ``due`` once it has passed."""
    remaining = require_utc(moment) - require_utc(now, "now")
    if remaining <= timedelta(0):
        return "due"
    return f"in {human_duration(remaining)}"
