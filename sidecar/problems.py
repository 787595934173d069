"""Saying on the Deployment what stops spot-failover, and taking it back once it is over.

The words are :mod:`sidecar.core.problems`'; this module writes them. A report is one
conditional replace that sets only :data:`~spot_common.contract.PROBLEM`; the sidecar whose
write goes through records the one Warning Event (a sidecar that finds the problem already
said says nothing more), so fifty sidecars of one Deployment report a problem once. A write
refused because someone wrote first is simply dropped: the next look at the Deployment decides
again. Best effort, like the Events: a report that cannot be written is logged.
"""

from __future__ import annotations

import logging

from sidecar.core import problems
from sidecar.core.annotations import DeploymentView
from sidecar.core.errors import InvalidInputError
from sidecar.core.objects import JSONObject
from sidecar.deployment import OwnDeployment
from sidecar.events import Events
from spot_common.api_errors import ApiError

log = logging.getLogger(__name__)


class Problems:
    def __init__(self, deployment: OwnDeployment, events: Events) -> None:
        self.deployment = deployment
        self.events = events
        self._said: str | None = None
        """The last problem this sidecar recorded an Event for."""

    def unusable(self, error: InvalidInputError, body: JSONObject | None) -> bool:
        """The Deployment as read (``body``) cannot be used: say why, once. ``True`` if the
        Deployment was written (then its answer is in ``deployment.written``)."""
        reason, problem = problems.unusable(error)
        if body is None:
            log.error("the deployment cannot be read", extra={"error": problem})
            return False
        return self.report(reason, problem, body)

    def too_large(self, view: DeploymentView, problem: str, detail: str) -> None:
        """A transition's write was refused for the size of the annotations."""
        self.report(problems.TOO_LARGE_REASON, problem, view.body, detail=detail)

    def report(self, reason: str, problem: str, body: JSONObject, *, detail: str = "") -> bool:
        """Write ``problem`` on the Deployment unless it says so already; the Warning Event
        if this write made it say so. ``True`` if it was written now."""
        if problems.reported(body, problem):
            return False
        try:
            written = self.deployment.replace(problems.report_body(body, problem))
        except (ApiError, InvalidInputError) as error:
            # Not on the Deployment: the Event is all this sidecar can say, once.
            log.warning("problem not written on the deployment", extra={"error": str(error)})
            self._say(reason, _with(problem, detail), body)
            return False
        if written:
            log.error("spot-failover cannot act on the deployment", extra={"problem": problem})
            self.events.record(reason, _with(problem, detail), warning=True, about=body)
        return written

    def _say(self, reason: str, message: str, body: JSONObject) -> None:
        if message != self._said:
            self._said = message
            self.events.record(reason, message, warning=True, about=body)

    def clear_if_outdated(self, view: DeploymentView) -> bool | None:
        """Remove a problem with an annotation that reading the Deployment whole shows to be
        over: ``None`` if there is none, ``True`` if the Deployment was written (the next view
        is the write's answer), ``False`` if someone wrote first (read again, and again)."""
        self._said = None
        if not problems.outdated(view.body):
            return None
        if self.deployment.replace(problems.cleared_body(view.body)):
            log.info("the deployment can be read again: its problem is removed")
            return True
        return False


def _with(problem: str, detail: str) -> str:
    return problem if not detail else f"{problem} (the API server: {detail})"
