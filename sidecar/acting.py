"""Running the actions of one decision, and how the tick goes on after them.

:func:`sidecar.core.machine.decide` returns a :class:`~sidecar.core.machine.Decision`; the
:class:`Actor` runs its actions in order and answers an :class:`Outcome`: done, or decide again
(on the same read, on the API server's answer to a write, on a new read after a conflict), or
stand by for the Lease. Setting the doomed pods' deletion cost is best effort and never stops
a move.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
from datetime import datetime

from sidecar.adapters.kube import Kube
from sidecar.core import actions, doomed, machine
from sidecar.core import problems as core_problems
from sidecar.core.annotations import DeploymentView, Notice
from sidecar.core.errors import CorruptStateError
from sidecar.core.selectors import deployment_query
from sidecar.core.transitions import UNFINISHED
from sidecar.deployment import OwnDeployment
from sidecar.events import Events
from sidecar.facts import FactFinder
from sidecar.leadership import Leadership
from sidecar.memory import Memory
from sidecar.metrics import Metrics
from sidecar.problems import Problems
from sidecar.settings import Settings
from spot_common import contract
from spot_common.api_errors import ApiError, Invalid

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    DONE = "done"
    AGAIN = "again"
    """Decide again on the same read (the Lease was taken, health was checked)."""
    WRITTEN = "written"
    """Decide again on the API server's answer to our write."""
    REREAD = "reread"
    """Decide again on a new read (someone else wrote first)."""
    WAIT_FOR_LEASE = "wait-for-lease"


@dataclasses.dataclass
class Actor:
    """Runs decisions for the loop, remembering what they tell it in ``memory``."""

    settings: Settings
    kube: Kube
    deployment: OwnDeployment
    leader: Leadership
    facts: FactFinder
    events: Events
    metrics: Metrics
    memory: Memory
    problems: Problems

    def run(self, decision: machine.Decision, view: DeploymentView, now: datetime) -> Outcome:
        outcome = Outcome.DONE
        for action in decision.actions:
            match action:
                case actions.AcquireLease():
                    # Mid-move the Lease exists: wait on it rather than try to create it.
                    if self.leader.acquire(now, view.state, fetch=view.state not in UNFINISHED):
                        return Outcome.AGAIN
                    return Outcome.WAIT_FOR_LEASE
                case actions.CheckHealth():
                    self.memory.health = self.facts.health(view, action)
                    return Outcome.AGAIN
                case actions.WriteTransition():
                    if not self._write(action, view):
                        log.info("deployment changed under us; deciding again", extra=self._log())
                        self.memory.health = None
                        return Outcome.REREAD
                    self._record_transition(action, view, now)
                    outcome = Outcome.WRITTEN
                case actions.AskForRefusedPods() if self.deployment.replace(action.body):
                    # On a conflict nothing is lost: the next tick asks again.
                    log.info("asked again for the pods a quota refused", extra=self._log())
                    outcome = Outcome.WRITTEN
                case actions.RecordEvent():
                    self.events.record(
                        action.reason, action.message, warning=action.warning, about=view
                    )
                case actions.ReleaseLease():
                    self.leader.release(now, decision.next_state or view.state)
                case actions.MarkDoomedPods() | actions.ClearDoomedPods():
                    self._deletion_cost(view, action)
                case actions.Wait():
                    self.memory.wake_at = action.until
                case actions.Nothing():
                    log.debug("nothing to do", extra={**self._log(), "reason": action.reason})
        return outcome

    def _write(self, action: actions.WriteTransition, view: DeploymentView) -> bool:
        """The transition's conditional write; ``False`` on a conflict. A write refused because
        the annotations would be too large is said on the Deployment, and raised (the loop
        backs off and tries again while the signal lasts)."""
        try:
            return self.deployment.replace(action.body)
        except Invalid as error:
            if not core_problems.is_too_large(error.status, str(error)):
                raise
            node = view.notice.node if view.notice is not None else None
            notice = action.body.get("metadata", {}).get("annotations", {}).get(contract.NOTICE)
            if notice is not None:
                with contextlib.suppress(CorruptStateError):
                    node = Notice.from_json(notice).node
            problem = core_problems.too_large(action.from_state, action.to_state, node)
            self.problems.too_large(view, problem, detail=str(error))
            raise

    def _record_transition(
        self, action: actions.WriteTransition, view: DeploymentView, now: datetime
    ) -> None:
        self.metrics.transitions.labels(str(action.from_state), str(action.to_state)).inc()
        moved = action.from_state is not action.to_state
        if moved and action.from_state in UNFINISHED and view.last_transition is not None:
            seconds = (now - view.last_transition).total_seconds()
            self.metrics.move_seconds.labels(str(action.to_state)).observe(seconds)
        log.info(
            "transition",
            extra={
                **self._log(),
                "from": str(action.from_state),
                "to": str(action.to_state),
                "reason": action.reason,
                "detail": action.message,
                "template_changed": action.template_changed,
            },
        )
        self.memory.view = dataclasses.replace(view, state=action.to_state)
        self.memory.health = None

    def _deletion_cost(
        self, view: DeploymentView, action: actions.MarkDoomedPods | actions.ClearDoomedPods
    ) -> None:
        """Set or clear the doomed pods' deletion cost; best effort, never stops the move."""
        marking = isinstance(action, actions.MarkDoomedPods)
        try:
            pods = self.kube.list_pods(deployment_query(view.body))
            names = (doomed.to_mark if marking else doomed.to_clear)(pods, action.node)
            value = contract.DOOMED_POD_DELETION_COST if marking else None
            for name in names:
                self.kube.annotate_pod(name, contract.POD_DELETION_COST, value)
        except ApiError as error:
            log.warning(
                "pod deletion cost not changed; the rollout picks the pods to remove itself",
                extra={**self._log(), "node": action.node, "error": str(error)},
            )
            return
        log.info(
            "pod deletion cost set" if marking else "pod deletion cost cleared",
            extra={**self._log(), "node": action.node, "pods": names},
        )

    def _log(self) -> dict[str, str]:
        return self.memory.context(self.settings)
