"""The node signal source: this sidecar's own Node, watched.

For clusters where IMDS is unreachable, the Node is where an interruption shows: taints from
the node termination handler or Karpenter, or a deletion. One long watch (an hour per request,
starting with the Node's current state) is all the API traffic an idle sidecar on spot makes.
On Fargate there is nothing to watch (Fargate capacity is not reclaimed like spot), so a sidecar
there follows no Node at all.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from sidecar.adapters.kube import JSON, Kube
from sidecar.core import node_signal
from sidecar.core.signals import Interruption
from sidecar.follower import Follower

WATCH_SECONDS = 3600
"""One watch request per hour: the idle sidecar's whole API budget."""


class NodeSource:
    """Keeps the latest copy of one Node, followed in a background thread."""

    def __init__(
        self,
        kube: Kube,
        node_name: str,
        taint_keys: frozenset[str],
        *,
        on_change: Callable[[], None] | None = None,
        retry_s: float = 5.0,
    ) -> None:
        self.node_name = node_name
        self.taint_keys = taint_keys
        self._follower = Follower(
            f"node {node_name}",
            lambda version: kube.watch_node(
                node_name,
                WATCH_SECONDS + random.uniform(0, 60),  # noqa: S311 - jitter only
                resource_version=version,
            ),
            retry_s=retry_s,
            on_change=on_change,
        )

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait for the first read of the Node (or its failure)."""
        return self._follower.wait_ready(timeout_s)

    @property
    def node(self) -> JSON | None:
        return self._follower.latest

    def interruption(self, now: datetime) -> Interruption | None:
        node = self.node
        return None if node is None else node_signal.interruption(node, self.taint_keys, now)

    def on_fargate(self) -> bool | None:
        node = self.node
        return None if node is None else node_signal.is_fargate(node)
