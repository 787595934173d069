"""A clock that moves only when a test says so, shared by the simulator and the client."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

START = datetime(2026, 1, 2, 15, 0, 0, tzinfo=UTC)


class ManualClock:
    """Callable like ``lambda: datetime.now(UTC)``; ``advance()`` moves it forward."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
