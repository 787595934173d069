"""The migration state machine: from what a sidecar observes now to its next write.

:func:`decide` is the whole workflow as one pure function. It takes one read of the Deployment
(:class:`~sidecar.core.annotations.DeploymentView`), what this sidecar observes
(:class:`~sidecar.core.inputs.Facts`), the settings (:class:`~sidecar.core.inputs.Policy`) and
``now``, and returns a :class:`Decision`: the state it moves to, if any, and the
:mod:`~sidecar.core.actions` for the shell to run. What each state waits for is in
:mod:`~sidecar.core.steps`; the legal transitions are the table in :mod:`~sidecar.core.transitions`.

The rules that hold for every state live here:

* **Paused or not enabled: nothing at all** (no Deployment write, no lease, no Event).
* **Only the lease holder writes.** A sidecar without the lease that has something to do is
  told :class:`~sidecar.core.actions.AcquireLease` and nothing else. Migrating and FailingBack
  always need a leader to follow the rollout, so any sidecar can resume them when the leader's
  node disappears; the lease is released on reaching a settled state.
* **Every transition is one conditional write** of the Deployment: state annotations and pod
  template together (:class:`~sidecar.core.actions.WriteTransition`). A 409 means someone else
  acted first; the caller reads again and decides again. Because the state annotation says
  what is already done, a sidecar resuming after a dead leader never repeats a transition.
* **Dry run:** the leader records an Event saying what it would do and writes nothing.
* **A move back keeps what was written since the move:** a field it owns that someone wrote
  meanwhile keeps their value (:mod:`~sidecar.core.restore`), and the write says which, in the
  status message, the history and a Normal Event :data:`KEPT_USER_EDIT_REASON`.
* **The doomed node's pods go first:** the write that starts a move is preceded by
  :class:`~sidecar.core.actions.MarkDoomedPods` for the interrupted node (before the rollout
  can scale anything down), and a rollback is followed by
  :class:`~sidecar.core.actions.ClearDoomedPods`.

Pseudo-loop of the shell::

    while running:
        view = DeploymentView.parse(get_deployment())      # InvalidInputError: report, sleep
        facts = Facts(me, holds_lease=lease.holds(...), interruption=..., spot_available=...)
        decision = decide(view, facts, policy, now())
        run decision.actions in order; on AcquireLease / CheckHealth run them and decide again
        with the new facts; on 409 from WriteTransition, start over from the read
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sidecar.core.actions import (
    AcquireLease,
    Action,
    ClearDoomedPods,
    MarkDoomedPods,
    Nothing,
    RecordEvent,
    ReleaseLease,
    WriteTransition,
)
from sidecar.core.annotations import DeploymentView, transition_body
from sidecar.core.history import HistoryEntry, append
from sidecar.core.inputs import Facts, Policy
from sidecar.core.moves import Move, Stay
from sidecar.core.objects import JSONObject
from sidecar.core.steps import STEPS
from sidecar.core.times import require_utc
from sidecar.core.transitions import SETTLED, Edge, Event, transition
from spot_common import contract
from spot_common.contract import ComputeType, State

DOWNTIME_OR_STRATEGY_REASON = "RolloutStrategy"
"""Reason of the Warning Event that comes with a move whose strategy the user must know about
(``Recreate`` means downtime; a saved strategy that could not be read)."""

KEPT_USER_EDIT_REASON = "KeptUserEdit"
"""Reason of the Normal Event that comes with a write that gave the saved values back except in
fields written since the move (by the user, or a GitOps controller), which keep theirs."""


@dataclasses.dataclass(frozen=True)
class Decision:
    """The state the actions lead to (``None``: no transition) and the actions, in order."""

    next_state: State | None
    actions: tuple[Action, ...]


def decide(view: DeploymentView, facts: Facts, policy: Policy, now: datetime) -> Decision:
    """The next step for this sidecar. Pure: the same arguments give the same decision."""
    now = require_utc(now, "now")
    if not view.overrides.enabled:
        return Decision(None, (Nothing(f"{contract.ENABLED} is not 'true'"),))
    if view.overrides.paused:
        return Decision(None, (Nothing(f"{contract.PAUSED} is 'true': no writes"),))
    step = STEPS[view.state](view, facts, policy, now)
    needs_lease = step.needs_lease if isinstance(step, Stay) else True
    if needs_lease and not facts.holds_lease:
        return Decision(None, (AcquireLease(),))
    if isinstance(step, Stay):
        release = (ReleaseLease(),) if facts.holds_lease and not step.needs_lease else ()
        return Decision(None, step.actions + release)
    edge = transition(view.state, step.event)
    if policy.dry_run:
        message = f"dry run: would go from {view.state} to {edge.target}: {step.message}"
        if step.kept:
            message += "; would " + kept_message(step.kept, verb="keep")
        return Decision(None, (RecordEvent("DryRun", message, edge.warning),))
    body = _write(view, step, edge, facts.me, now)
    changed = step.template is not None and step.template != view.template
    actions: list[Action] = []
    if step.event is Event.INTERRUPTED and step.notice is not None:
        actions.append(MarkDoomedPods(step.notice.node))  # before the rollout can scale down
    actions += [
        WriteTransition(body, view.state, edge.target, edge.reason, step.message, changed),
        RecordEvent(edge.reason, step.message, edge.warning),
    ]
    if step.warning is not None:
        actions.append(RecordEvent(DOWNTIME_OR_STRATEGY_REASON, step.warning, warning=True))
    if step.kept:
        actions.append(RecordEvent(KEPT_USER_EDIT_REASON, kept_message(step.kept), warning=False))
    if edge.target is State.ROLLED_BACK and view.notice is not None:
        actions.append(ClearDoomedPods(view.notice.node))
    if edge.target in SETTLED:
        actions.append(ReleaseLease())
    return Decision(edge.target, tuple(actions))


def kept_message(fields: tuple[str, ...], verb: str = "kept") -> str:
    """What a write says about the fields it left as they were written since the move."""
    return (
        f"{verb} {', '.join(fields)} as written since the move (by a user or a GitOps "
        "controller) instead of restoring the saved values"
    )


def _write(view: DeploymentView, step: Move, edge: Edge, me: str, now: datetime) -> JSONObject:
    compute_type = view.compute_type
    saved = view.saved_scheduling
    if step.template is not None:
        moving_to_fargate = step.saved is not None
        compute_type = ComputeType.FARGATE if moving_to_fargate else ComputeType.SPOT
        saved = step.saved.to_json() if step.saved is not None else None
    notice = step.notice or (None if edge.target is State.WATCHING else view.notice)
    told = (step.warning, kept_message(step.kept) if step.kept else None)
    message = "; ".join([step.message, *(part for part in told if part is not None)])
    entry = HistoryEntry(now, view.state, edge.target, f"{edge.reason}: {message}", me)
    # A write that stays in its state (a quota fitted) keeps the move's start: its deadline.
    since = view.last_transition if edge.target is view.state and view.last_transition else now
    return transition_body(
        view,
        state=edge.target,
        compute_type=compute_type,
        now=since,
        message=message,
        history=append(view.history, entry),
        saved_scheduling=saved,
        notice=notice,
        template=step.template,
        strategy=step.strategy,
    )
