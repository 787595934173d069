"""The node signal source: this sidecar's own Node, watched.

For clusters where IMDS is unreachable, the Node is where an interruption shows: the node
termination handler's interruption taint. Karpenter's disruption taint and a deletion show that
the node is being removed, which alone is a voluntary disruption (a move only where a Deployment
opts in: :mod:`sidecar.core.node_signal`); Karpenter's record of an interruption is in the
Node's Events (:mod:`sidecar.sources.karpenter`, which asks :meth:`NodeSource.disrupted` when to
look). One long watch (an hour per request, starting with the Node's current state) is all the
API traffic this source makes. On Fargate there is nothing to watch (Fargate capacity is not
reclaimed like spot), so a sidecar there follows no Node at all.

The followed Node also tells where this sidecar runs (:func:`on_fargate`): Fargate or not.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from sidecar.adapters.kube import JSON, Kube
from sidecar.core import node_signal
from sidecar.core.signals import Interruption
from sidecar.follower import Follower
from sidecar.sources import PollContext

WATCH_SECONDS = 3600
"""One watch request per hour: the idle sidecar's whole API budget."""
READY_S = 5.0
"""How long entering the source waits for the first read of the Node (to know whether it is
Fargate) before the loop starts without it."""


class NodeSource:
    """Keeps the latest copy of one Node, followed in a background thread while entered."""

    kind = "node"

    def __init__(
        self,
        kube: Kube,
        node_name: str,
        taints: node_signal.NodeTaints,
        *,
        on_change: Callable[[], None] | None = None,
        retry_s: float = 5.0,
        ready_s: float = READY_S,
    ) -> None:
        self.node_name = node_name
        self.ready_s = ready_s
        self.taints = taints
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

    def __enter__(self) -> NodeSource:
        self.start()
        self.wait_ready(self.ready_s)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

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

    def poll(self, now: datetime, context: PollContext) -> Interruption | None:
        """The strongest wanted signal the Node shows now (read from the latest copy: no
        request); a node source exists only off Fargate."""
        node = self.node
        if node is None:
            return None
        return node_signal.interruption(node, self.taints, now, wanted=context.wanted)

    def disrupted(self) -> bool:
        """Whether the Node, as last seen, is being removed (a disruption taint, or deleted)."""
        node = self.node
        return node is not None and node_signal.disrupted(node, self.taints)

    def uid(self) -> str | None:
        """The uid of the Node as last seen (``None`` before the first read)."""
        node = self.node
        return None if node is None else node_signal.uid(node)

    def on_fargate(self) -> bool | None:
        node = self.node
        return None if node is None else node_signal.is_fargate(node)


def on_fargate(source: NodeSource | None, node_name: str) -> Callable[[], bool]:
    """Whether this sidecar runs on Fargate: as its followed Node says, else as the node's name
    says (before the first read, or with no node source at all)."""

    def where() -> bool:
        seen = source.on_fargate() if source is not None else None
        return node_signal.fargate_by_name(node_name) if seen is None else seen

    return where
