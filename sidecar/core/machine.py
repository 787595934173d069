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

from sidecar import contract
from sidecar.contract import ComputeType, State
from sidecar.core.actions import (
    AcquireLease,
    Action,
    Nothing,
    RecordEvent,
    ReleaseLease,
    WriteTransition,
)
from sidecar.core.annotations import DeploymentView, transition_body
from sidecar.core.history import HistoryEntry, append
from sidecar.core.inputs import Facts, Policy
from sidecar.core.objects import JSONObject
from sidecar.core.steps import STEPS, Move, Stay
from sidecar.core.times import require_utc
from sidecar.core.transitions import SETTLED, Edge, transition


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
        return Decision(None, (RecordEvent("DryRun", message, edge.warning),))
    body = _write(view, step, edge, facts.me, now)
    changed = step.template is not None and step.template != view.template
    actions: list[Action] = [
        WriteTransition(body, view.state, edge.target, edge.reason, step.message, changed),
        RecordEvent(edge.reason, step.message, edge.warning),
    ]
    if edge.target in SETTLED:
        actions.append(ReleaseLease())
    return Decision(edge.target, tuple(actions))


def _write(view: DeploymentView, step: Move, edge: Edge, me: str, now: datetime) -> JSONObject:
    compute_type = view.compute_type
    saved = view.saved_scheduling
    if step.template is not None:
        moving_to_fargate = step.saved is not None
        compute_type = ComputeType.FARGATE if moving_to_fargate else ComputeType.SPOT
        saved = step.saved.to_json() if step.saved is not None else None
    notice = step.notice or (None if edge.target is State.WATCHING else view.notice)
    entry = HistoryEntry(now, view.state, edge.target, f"{edge.reason}: {step.message}", me)
    return transition_body(
        view,
        state=edge.target,
        compute_type=compute_type,
        now=now,
        message=step.message,
        history=append(view.history, entry),
        saved_scheduling=saved,
        notice=notice,
        template=step.template,
    )
