"""Kubernetes Events about this sidecar's Deployment, so ``kubectl describe`` tells the story.

Best effort: an Event that cannot be recorded is logged, and the move goes on. An Event names
the Deployment as last read (its uid and version), from the loop's :class:`~sidecar.memory.Memory`
unless the caller gives the view it acts on.

A report made once (IMDS unreachable, a stranger holding the Lease) is tried again while it is
refused, at the loop's ticks after a growing pause (:meth:`Events.retry_pending`): a sidecar can
start before the webhook has provisioned its RBAC, and its one report would be lost otherwise.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from sidecar.adapters.kube import Kube
from sidecar.core.annotations import DeploymentView
from sidecar.core.objects import JSONObject
from sidecar.memory import Memory
from sidecar.settings import Settings
from spot_common.api_errors import ApiError

log = logging.getLogger(__name__)

RETRY_FIRST_S: Final = 5.0
RETRY_MAX_S: Final = 60.0
RETRY_TRIES: Final = 10
"""How often a refused one-time report is tried again at most, before it is only logged."""


@dataclasses.dataclass
class _Pending:
    reason: str
    message: str
    tries: int
    due: datetime


class Events:
    def __init__(
        self, kube: Kube, settings: Settings, clock: Callable[[], datetime], memory: Memory
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.clock = clock
        self.memory = memory
        self._pending: list[_Pending] = []

    def record(
        self,
        reason: str,
        message: str,
        *,
        warning: bool,
        about: DeploymentView | JSONObject | None = None,
    ) -> bool:
        """An Event about the Deployment ``about`` (a view, or a body that could not be
        parsed), else as last read; whether it was recorded."""
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
                extra={**self.memory.context(self.settings), "error": str(error), "reason": reason},
            )
            return False
        return True

    def report(self, reason: str, message: str, *, tries: int = 0) -> None:
        """A Warning Event reported once: tried again later while refused."""
        if self.record(reason, message, warning=True) or tries + 1 >= RETRY_TRIES:
            return
        pause_s = min(RETRY_MAX_S, RETRY_FIRST_S * 2**tries)
        self._pending.append(
            _Pending(reason, message, tries + 1, self.clock() + timedelta(seconds=pause_s))
        )

    def retry_pending(self) -> None:
        """Try again the refused reports whose pause is over (nothing to do, no request)."""
        if not self._pending:
            return
        now = self.clock()
        due = [p for p in self._pending if p.due <= now]
        self._pending = [p for p in self._pending if p.due > now]
        for pending in due:
            self.report(pending.reason, pending.message, tries=pending.tries)

    def lease_stranger(self, message: str) -> None:
        self.report("LeaseHeldByStranger", message)

    def imds_unreachable(self, message: str) -> None:
        self.report("ImdsUnreachable", message)
