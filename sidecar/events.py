"""Kubernetes Events about this sidecar's Deployment, so ``kubectl describe`` tells the story.

Best effort: an Event that cannot be recorded is logged, and the move goes on. An Event names
the Deployment as last read (its uid and version), from the loop's :class:`~sidecar.memory.Memory`
unless the caller gives the view it acts on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sidecar.adapters.kube import Kube
from sidecar.core.annotations import DeploymentView
from sidecar.core.objects import JSONObject
from sidecar.memory import Memory
from sidecar.settings import Settings
from spot_common.api_errors import ApiError

log = logging.getLogger(__name__)


class Events:
    def __init__(
        self, kube: Kube, settings: Settings, clock: Callable[[], datetime], memory: Memory
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.clock = clock
        self.memory = memory

    def record(
        self,
        reason: str,
        message: str,
        *,
        warning: bool,
        about: DeploymentView | JSONObject | None = None,
    ) -> None:
        """An Event about the Deployment ``about`` (a view, or a body that could not be
        parsed), else as last read."""
        if isinstance(about, DeploymentView):
            body: JSONObject = about.body
        elif about is not None:
            body = about
        else:
            view = self.memory.view
            body = view.body if view is not None else {"metadata": {}}
        try:
            self.kube.record_event(
                body,
                reason=reason,
                message=message,
                warning=warning,
                reporter=self.settings.pod_name,
                now=self.clock(),
            )
        except ApiError as error:
            log.warning(
                "event not recorded",
                extra={**self.memory.context(self.settings), "error": str(error)},
            )

    def lease_stranger(self, message: str) -> None:
        self.record("LeaseHeldByStranger", message, warning=True)

    def imds_unreachable(self, message: str) -> None:
        self.record("ImdsUnreachable", message, warning=True)
