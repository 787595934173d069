"""Actions due at a moment, run in order by one thread: how the simulators keep their delays
(a Fargate node provisioned in 40 s, an instance gone at its deadline) without a thread each.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Agenda:
    """Run ``action()`` at ``time.monotonic() >= due``; one action per key (a new one replaces
    it, :meth:`cancel` drops it). A failing action is logged; the others still run."""

    def __init__(self, name: str) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._actions: dict[str, tuple[int, Callable[[], None]]] = {}
        self._counter = itertools.count()
        self._changed = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()
        if self._thread.ident is not None:
            self._thread.join()

    def at(self, due: float, key: str, action: Callable[[], None]) -> None:
        with self._changed:
            ticket = next(self._counter)
            self._actions[key] = (ticket, action)
            heapq.heappush(self._heap, (due, ticket, key))
            self._changed.notify()

    def after(self, delay_s: float, key: str, action: Callable[[], None]) -> None:
        self.at(time.monotonic() + delay_s, key, action)

    def cancel(self, key: str) -> None:
        with self._changed:
            self._actions.pop(key, None)

    def pending(self, key: str) -> bool:
        with self._changed:
            return key in self._actions

    def _next(self) -> Callable[[], None] | None:
        with self._changed:
            while not self._stopping:
                if not self._heap:
                    self._changed.wait()
                    continue
                due, ticket, key = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                heapq.heappop(self._heap)
                current = self._actions.get(key)
                if current is not None and current[0] == ticket:
                    del self._actions[key]
                    return current[1]
            return None

    def _run(self) -> None:
        while (action := self._next()) is not None:
            try:
                action()
            except Exception:
                log.exception("scheduled action failed", extra={"agenda": self._thread.name})
