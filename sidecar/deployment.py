"""This sidecar's Deployment: followed by one watch, read, and replaced conditionally.

Reads are spent carefully, because fifty sidecars may act on one Deployment. The sidecar
follows its Deployment with one long watch (a :class:`~sidecar.follower.Follower`) for as long
as it runs, so an idle sidecar learns at once of a setting its user changes
(``spot-failover/rebalance-trigger``, say) and a decision reads the watch's copy instead of the
API server; a leader of a move wakes on each of its changes instead of polling. After a write,
the API server's answer is the next read (the write is conditional, so a stale read costs a
409, never a lost edit). While the watch fails, or after a conflict, a read is a GET.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from sidecar.adapters.kube import WATCH_SILENCE_MARGIN_S, Kube
from sidecar.core import objects
from sidecar.core.annotations import DeploymentView
from sidecar.core.objects import JSONObject
from sidecar.follower import Follower
from sidecar.metrics import Metrics
from spot_common.api_errors import Conflict

WATCH_S = 3600
"""Server-side limit of one watch of the Deployment; the next resumes where it ended. Each
sidecar's is drawn a little longer (up to a minute), so a crowd does not reconnect at once."""
READY_S = 2.0
"""How long starting the watch waits for the Deployment's first copy before the loop starts."""


class OwnDeployment:
    """The Deployment as this sidecar best knows it."""

    def __init__(self, kube: Kube, metrics: Metrics) -> None:
        self.kube = kube
        self.metrics = metrics
        self.following: Follower | None = None
        """The Deployment's watch, once :meth:`watch` started it."""
        self.leading = False
        """Whether this sidecar leads a move: then the loop wakes on each change."""
        self.written: JSONObject | None = None
        """The API server's answer to our last write of the Deployment."""
        self.last_body: JSONObject | None = None
        """The body of the last read, whether or not it could be parsed."""

    def watch(self, ready_s: float = READY_S) -> None:
        """Start following the Deployment (once), and wait up to ``ready_s`` for its first
        copy: the first tick then reads it there, not with a request of its own."""
        if self.following is None:
            timeout_s = WATCH_S + random.uniform(0, 60)  # noqa: S311 - jitter only
            self.following = Follower(
                f"deployment {self.kube.deployment}",
                lambda version: self.kube.watch_deployment(
                    version, timeout_s, quiet_s=timeout_s + WATCH_SILENCE_MARGIN_S
                ),
            ).start()
            self.following.wait_ready(ready_s)

    def latest(self) -> JSONObject | None:
        """The watch's newest copy, if it has one at least as new as our last write."""
        following = self.following
        if following is None or following.failing:
            return None
        return following.current()

    def read(self, *, again: bool = False) -> DeploymentView:
        """The watch's copy (or our own write, which the watch has not shown yet); a read
        while there is none, or ``again`` after a conflict or a wait. Raises what
        :meth:`DeploymentView.parse` raises, with :attr:`last_body` set to what was read."""
        body: JSONObject | None = None
        following = self.following
        if not again and following is not None and not following.failing:
            body = following.current() or self.written
        if body is None:
            self.written = None
            body = self.kube.get_deployment()
        self.last_body = body
        return DeploymentView.parse(body)

    def replace(self, body: JSONObject) -> bool:
        """The conditional replace of the Deployment; ``False`` if it changed since read."""
        try:
            written = self.kube.replace_deployment(body)
        except Conflict:
            self.metrics.conflicts.inc()
            return False
        self.written = written
        if self.following is not None:
            self.following.expect(_version(written))
        return True

    def follow(self, *, leading: bool) -> None:
        """Whether this sidecar now leads a move (the watch runs either way)."""
        self.leading = leading

    def unfollow(self) -> None:
        if self.following is not None:
            self.following.stop()
            self.following = None
        self.written = None
        self.leading = False


def annotations_of(body: JSONObject | None) -> Mapping[str, str] | None:
    """The annotations of a Deployment body (``None`` without a body)."""
    if body is None:
        return None
    metadata = objects.child(body, "metadata", "")
    return objects.string_map(metadata, "annotations", "metadata")


def _version(body: JSONObject) -> str | None:
    version = objects.child(body, "metadata", "").get("resourceVersion")
    return version if isinstance(version, str) else None
