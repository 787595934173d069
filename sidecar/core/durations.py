"""Durations as users write them in annotations and settings, e.g. ``failback-after``.

Accepted forms, and nothing else:

* a whole number of seconds: ``"600"``;
* a Go-style duration of whole hours, minutes and seconds, each unit at most once and in
  that order: ``"1h30m"``, ``"10m"``, ``"90s"``, ``"2h0m5s"``;
* ``"never"``, which disables whatever the duration schedules.

Go's ``time.ParseDuration`` also takes fractions, negative values and sub-second units; a
cooldown has no use for them, and accepting them would let ``"1.5d"``-style typos through, so
they are rejected with a message that names the source and shows what to write instead.
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta
from typing import Final, TypeAlias

from sidecar.core.errors import InvalidValueError


class Never(enum.Enum):
    """The ``never`` duration: the thing it schedules does not happen."""

    NEVER = "never"


NEVER: Final = Never.NEVER

Duration: TypeAlias = timedelta | Never
"""A parsed duration: a non-negative :class:`~datetime.timedelta`, or :data:`NEVER`."""

_GO_STYLE = re.compile(r"(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?")
_EXPECTED = (
    'set whole seconds ("600"), a duration in hours, minutes and seconds '
    '("10m", "1h30m", "90s"), or "never"'
)


def parse_duration(text: str, *, source: str) -> Duration:
    """Parse ``text``; :class:`~sidecar.core.errors.InvalidValueError` naming ``source`` if invalid.

    ``source`` is the annotation key or setting the text came from; it appears in the error.
    """
    value = text.strip()
    if value.lower() == NEVER.value:
        return NEVER
    try:
        if value.isascii() and value.isdigit():
            return timedelta(seconds=int(value))
        match = _GO_STYLE.fullmatch(value)
        if not value or match is None:
            raise InvalidValueError(source, text, _EXPECTED)
        hours, minutes, seconds = (int(match.group(unit) or 0) for unit in ("h", "m", "s"))
        return timedelta(hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise InvalidValueError(source, text, f"too long a duration; {_EXPECTED}") from None


def format_duration(duration: Duration) -> str:
    """The canonical text of ``duration`` (``"1h30m"``, ``"45s"``, ``"never"``).

    ``parse_duration(format_duration(d)) == d`` for every whole-second duration.
    """
    if isinstance(duration, Never):
        return NEVER.value
    total = int(duration.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return "".join(parts) or "0s"
