"""Timestamps in the two text forms Kubernetes uses, and nothing else.

``metav1.Time`` is RFC 3339 in UTC with whole seconds (``2006-01-02T15:04:05Z``); the
``last-transition`` and history annotations use it. ``metav1.MicroTime`` has exactly six
fractional digits (``2006-01-02T15:04:05.000000Z``); Lease ``acquireTime``/``renewTime`` use it.

The core compares times, so every datetime it accepts or returns is timezone-aware UTC. A naive
datetime passed as ``now`` is a bug in the caller and raises ``ValueError`` at once rather than
shifting a cooldown by the machine's UTC offset.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)


def require_utc(moment: datetime, what: str = "time") -> datetime:
    """``moment`` converted to UTC; ``ValueError`` if it is naive."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """``metav1.Time``: RFC 3339, UTC, whole seconds (the fraction is dropped)."""
    return require_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(moment: datetime) -> str:
    """``metav1.MicroTime``: RFC 3339, UTC, exactly six fractional digits."""
    return require_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 timestamp (any fraction, ``Z`` or an offset) as UTC; ``None`` if malformed.

    Fractions finer than microseconds (Go writes up to nanoseconds) are truncated.
    """
    if _RFC3339.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
