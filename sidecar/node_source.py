"""The node signal source: this sidecar's own Node, watched.

For clusters where IMDS is unreachable, and on Fargate (no IMDS), the Node is where an
interruption shows: taints from the node termination handler or Karpenter, or a deletion. One
long watch (an hour per request, starting with the Node's current state) is all the API traffic
an idle sidecar makes.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime

from sidecar.adapters.errors import ApiError
from sidecar.adapters.kube import JSON, Kube
from sidecar.core import node_signal
from sidecar.core.signals import Interruption

log = logging.getLogger(__name__)

WATCH_SECONDS = 3600
"""One watch request per hour: the idle sidecar's whole API budget."""


class NodeSource:
    """Keeps the latest copy of one Node in a background thread."""

    def __init__(
        self,
        kube: Kube,
        node_name: str,
        taint_keys: frozenset[str],
        *,
        on_change: Callable[[], None] | None = None,
        retry_s: float = 5.0,
    ) -> None:
        self.kube = kube
        self.node_name = node_name
        self.taint_keys = taint_keys
        self._on_change = on_change or (lambda: None)
        self._retry_s = retry_s
        self._node: JSON | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="node-source", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end; a watch blocked on the network ends with the process."""
        self._stop.set()
        self._thread.join(timeout=0.1)

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait for the first read of the Node (or its failure)."""
        return self._ready.wait(timeout_s)

    @property
    def node(self) -> JSON | None:
        with self._lock:
            return self._node

    def interruption(self, now: datetime) -> Interruption | None:
        node = self.node
        return None if node is None else node_signal.interruption(node, self.taint_keys, now)

    def on_fargate(self) -> bool | None:
        node = self.node
        return None if node is None else node_signal.is_fargate(node)

    def _set(self, node: JSON) -> None:
        with self._lock:
            self._node = node
        self._on_change()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                timeout = WATCH_SECONDS + random.uniform(0, 60)  # noqa: S311 - jitter only
                # Without a resourceVersion the watch starts with the Node as it is now.
                for node in self.kube.watch_node(self.node_name, timeout):
                    self._set(node)
                    self._ready.set()
                    failures = 0
                    if self._stop.is_set():
                        return
            except ApiError as error:
                failures += 1
                self._ready.set()
                log.warning(
                    "node source failed",
                    extra={"node": self.node_name, "error": str(error), "failures": failures},
                )
                self._stop.wait(min(60.0, self._retry_s * failures))
