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
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


RETRY_S = 1.0
"""After a failed action (e.g. the API server restarting), how long until it runs again."""


BUSY_S = 0.02
"""A due action whose key is still running waits this long before it is tried again."""


class Agenda:
    """Run ``action()`` at ``time.monotonic() >= due``; one action per key (a new one replaces
    it, :meth:`cancel` drops it). A failing action is logged and runs again :data:`RETRY_S`
    later (unless its key was given another action or cancelled meanwhile); the others still
    run. ``workers`` actions of different keys may run at once (as Fargate provisions many
    pods at a time); actions of one key never overlap."""

    def __init__(self, name: str, workers: int = 1) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._actions: dict[str, tuple[int, Callable[[], None]]] = {}
        self._counter = itertools.count()
        self._changed = threading.Condition()
        self._stopping = False
        self._running: set[str] = set()
        self._cancelled_running: set[str] = set()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()
        if self._thread.ident is not None:
            self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)

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
            if key in self._running:
                self._cancelled_running.add(key)

    def pending(self, key: str) -> bool:
        with self._changed:
            return key in self._actions

    def _next(self) -> tuple[str, Callable[[], None]] | None:
        """The next due action, once it is due; ``None`` when stopping."""
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
                if current is None or current[0] != ticket:
                    continue  # replaced or cancelled
                if key in self._running:
                    heapq.heappush(self._heap, (due + BUSY_S, ticket, key))
                    continue
                del self._actions[key]
                self._running.add(key)
                self._cancelled_running.discard(key)
                return key, current[1]
            return None

    def _run(self) -> None:
        while (due := self._next()) is not None:
            self._pool.submit(self._execute, *due)

    def _execute(self, key: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            log.exception(
                "scheduled action failed; retrying",
                extra={"agenda": self._thread.name, "key": key},
            )
            with self._changed:
                if key not in self._actions and key not in self._cancelled_running:
                    self.after(RETRY_S, key, action)
        finally:
            with self._changed:
                self._running.discard(key)
                self._cancelled_running.discard(key)
                self._changed.notify()
