"""The Karpenter signal source: its record of a spot interruption, among this Node's Events.

Karpenter taints every node it disrupts alike, so the Node alone shows a removal, not whether
the instance is being reclaimed (:mod:`sidecar.sources.node`). When the interruption message
arrives, Karpenter records Warning Events on the Node (``SpotInterrupted``,
``TerminatingOnInterruption``; :mod:`sidecar.core.node_events`): that is the interruption, for
clusters where IMDS is unreachable (Karpenter's default hop limit of 1).

Nothing is asked while the Node is not being removed: Karpenter disrupts (taints) every node it
removes, and records the interruption before it does. Once the node source sees the Node
disrupted (:meth:`~sidecar.sources.node.NodeSource.disrupted`), this source lists the Node's
Warning Events in ``default`` (where Node Events live) and then watches them, in a background
thread, for as long as the sidecar runs: one list and one watch, only on a node that is going
away. The first poll after the disruption waits a moment for that list, so an interruption
recorded before the taint is seen on the same tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Final

from sidecar.adapters.kube import JSON, Kube
from sidecar.core import node_events
from sidecar.core.signals import Interruption
from sidecar.follower import version_of
from sidecar.sources import PollContext
from spot_common.api_errors import ApiError

log = logging.getLogger(__name__)

WATCH_S: Final = 600
"""Server-side limit of one watch of the Node's Events; the next resumes where it ended."""
READY_S: Final = 1.0
"""How long the poll that starts the source waits for the first list."""
GONE: Final = 410
"""A watch resumed from a version the API server no longer keeps: list again."""


class KarpenterSource:
    """The Node's Warning Events, followed from the first poll that finds the Node disrupted."""

    kind = "karpenter"

    def __init__(
        self,
        kube: Kube,
        node_name: str,
        *,
        disrupted: Callable[[], bool],
        node_uid: Callable[[], str | None],
        retry_s: float = 5.0,
        max_retry_s: float = 60.0,
        ready_s: float = READY_S,
    ) -> None:
        self.kube = kube
        self.node_name = node_name
        self._disrupted = disrupted
        self._node_uid = node_uid
        self._retry_s, self._max_retry_s = retry_s, max_retry_s
        self.ready_s = ready_s
        self._lock = threading.Lock()
        self._events: dict[str, JSON] = {}
        self._listed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> KarpenterSource:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def stop(self) -> None:
        """Ask the thread to end; a watch blocked on the network ends with the process."""
        self._stop.set()

    def poll(self, now: datetime, context: PollContext) -> Interruption | None:
        """The interruption the Node's Events record, once the Node is being removed."""
        if context.on_fargate:
            return None
        if self._thread is None:
            if not self._disrupted():
                return None
            self._start()
            self._listed.wait(self.ready_s)
        with self._lock:
            events = list(self._events.values())
        return node_events.interruption(events, self.node_name, self._node_uid(), now)

    # --- the thread ---------------------------------------------------------------------------

    def _start(self) -> None:
        log.info("the node is being removed: following its events", extra={"node": self.node_name})
        self._thread = threading.Thread(
            target=self._run, name=f"events-{self.node_name}", daemon=True
        )
        self._thread.start()

    def _keep(self, events: list[JSON], *, replace: bool) -> None:
        with self._lock:
            if replace:
                self._events = {}
            for event in events:
                metadata = event.get("metadata")
                if not isinstance(metadata, dict):
                    continue
                key = metadata.get("uid") or metadata.get("name")
                if isinstance(key, str):
                    self._events[key] = event

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                items, version = self.kube.list_node_events(self.node_name)
                self._keep(items, replace=True)
                self._listed.set()
                failures = 0
                while version is not None and not self._stop.is_set():
                    version = self._watch(version)
            except ApiError as error:
                self._listed.set()  # the first poll waits no longer for a list that failed
                if error.status == GONE:
                    continue  # list again at once: nothing is wrong but the version's age
                failures += 1
                log.warning(
                    "the node's events cannot be read",
                    extra={"node": self.node_name, "error": str(error), "failures": failures},
                )
                self._stop.wait(min(self._max_retry_s, self._retry_s * failures))

    def _watch(self, version: str) -> str | None:
        """One watch request from ``version``; the version to resume from when it ends."""
        for event in self.kube.watch_node_events(self.node_name, version, WATCH_S):
            if self._stop.is_set():
                return None
            body = event.get("object")
            if not isinstance(body, dict):
                continue
            if event.get("type") in {"ADDED", "MODIFIED"}:
                self._keep([body], replace=False)
            version = version_of(body) or version
        return version
