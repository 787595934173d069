"""This sidecar's Deployment: read, replaced conditionally, and followed while leading a move.

Reads are spent carefully, because fifty sidecars may act on one Deployment: after a write, the
API server's answer is the next read (the write is conditional, so a stale read costs a 409,
never a lost edit); and while it leads a move, the leader follows its Deployment with one watch
(a :class:`~sidecar.follower.Follower`) and wakes on each change instead of polling.
"""

from __future__ import annotations

from sidecar.adapters.kube import Kube
from sidecar.core import objects
from sidecar.core.annotations import DeploymentView
from sidecar.core.objects import JSONObject
from sidecar.follower import Follower
from sidecar.metrics import Metrics
from spot_common.api_errors import Conflict

WATCH_S = 300
"""Server-side limit of one watch of the Deployment while leading a move."""


class OwnDeployment:
    """The Deployment as this sidecar best knows it."""

    def __init__(self, kube: Kube, metrics: Metrics) -> None:
        self.kube = kube
        self.metrics = metrics
        self.following: Follower | None = None
        """The Deployment, followed while this sidecar leads a move."""
        self.written: JSONObject | None = None
        """The API server's answer to our last write of the Deployment."""

    def read(self, *, again: bool = False) -> DeploymentView:
        """While following it, the watch's copy (or our own write, which the watch has not
        shown yet); otherwise, or ``again`` after a conflict or a wait, a read."""
        following = self.following
        if following is not None and not again and not following.failing:
            body = following.current() or self.written
            if body is not None:
                return DeploymentView.parse(body)
        self.written = None
        return DeploymentView.parse(self.kube.get_deployment())

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
        """Follow the Deployment while ``leading`` a move; stop once no longer."""
        if leading and self.following is None:
            # Its first copy is listed after our last write, so nothing to expect().
            self.following = Follower(
                f"deployment {self.kube.deployment}",
                lambda version: self.kube.watch_deployment(version, WATCH_S),
            ).start()
        elif not leading:
            self.unfollow()

    def unfollow(self) -> None:
        if self.following is not None:
            self.following.stop()
            self.following = None
        self.written = None


def _version(body: JSONObject) -> str | None:
    version = objects.child(body, "metadata", "").get("resourceVersion")
    return version if isinstance(version, str) else None
