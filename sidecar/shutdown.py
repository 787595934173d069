"""Graceful SIGTERM: stop between steps, or at once where the sidecar is only waiting.

The kubelet sends SIGTERM when the pod goes away (often because of the very rollout the
sidecar started) and SIGKILL after the grace period. A request to stop sets :attr:`requested`;
the loop checks it between steps, so no write is cut in half. Where the sidecar only waits (a
watch on the Lease), the handler raises :class:`ShutdownRequested` instead, so that a long watch
does not eat the grace period; the caller's ``finally`` then releases the Lease.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class ShutdownRequested(BaseException):
    """Raised out of an interruptible wait when SIGTERM arrives (a BaseException, so no
    ``except Exception`` in between swallows it)."""


class Shutdown:
    def __init__(self) -> None:
        self.requested = threading.Event()
        self._interruptible = 0
        self.signal_name = ""

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self.requested.set()
        if self._interruptible:
            raise ShutdownRequested(self.signal_name)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A section that only waits: SIGTERM ends it at once."""
        if self.requested.is_set():
            raise ShutdownRequested(self.signal_name)
        self._interruptible += 1
        try:
            yield
        finally:
            self._interruptible -= 1
