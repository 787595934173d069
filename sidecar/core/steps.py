"""What each state of the migration waits for, and the move it makes when that happens.

One function per state (:data:`STEPS`) looks at the Deployment view, the facts and the policy,
and returns either :class:`Stay` (nothing to change yet; the actions say what to watch) or
:class:`Move` (an :class:`~sidecar.core.transitions.Event` plus what the write must change).
They do not check the lease, pause, dry run or the transition table:
:func:`sidecar.core.machine.decide` does, the same way for every state.

When an event happens:

* ``Interrupted`` / ``FargateIncompatible``: in Watching, this sidecar's node has an
  interruption notice (or a rebalance recommendation, if opted in per Deployment or by
  policy). In RolledBack or Failed (template on spot) only a *new* signal counts: another node,
  or another kind than the stored notice; the signal behind the failed move would otherwise
  restart it for as long as it lasts. Failed with the template on Fargate (the move could not
  be undone) waits for a human. The move is refused (``FargateIncompatible``) if Fargate cannot
  run the pods, if the move would not change the template, or if the Fargate labels would break
  the Deployment's selector.
* ``RolloutSucceeded`` / ``RolloutFailed``: in Migrating and FailingBack, from the rollout
  verdict (:mod:`~sidecar.core.rollout`), the health verdict (:mod:`~sidecar.core.health`) and
  the overall deadline (``last_transition + policy.rollout_timeout``). An Unhealthy verdict
  fails the move at once; a complete rollout asks for a health verdict before it succeeds.
* ``FailbackDue``: in OnFargate, once ``last_transition + failback_after <= now`` (``never``
  disables it) and spot capacity looks available.
* ``RestoreImpossible``: a move back to spot is due but the saved scheduling is missing or
  corrupt; the template is left on Fargate, where the pods run.
* ``QuotaRefused``: in Migrating and FailingBack, a ResourceQuota refuses the pods the move's
  strategy surges; the strategy is made to fit (:func:`~sidecar.core.strategy.within_quota`).
  While the quota still refuses pods of the fitted move, the leader asks for them again every
  :data:`~sidecar.core.strategy.QUOTA_RETRY_EVERY`
  (:class:`~sidecar.core.actions.AskForRefusedPods`): the quota has room again seconds after
  the doomed pods go, but the ReplicaSet controller would retry only after its back-off.

Both moves (to Fargate, and back to spot) set the move's fast strategy in the write that changes
the template, and every write that ends a move restores the user's (:mod:`~sidecar.core.strategy`).

Back to spot (rollback and failback) restores exactly the saved scheduling, plus the template
annotation ``eks.amazonaws.com/compute-type: ec2`` when ``policy.add_ec2_annotation_on_failback``.
A failed failback goes back to Fargate with a fresh saved scheduling and waits out the cooldown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final, TypeAlias

from sidecar.core import fargate, fargate_checks, health, objects, rollout, selectors
from sidecar.core import strategy as rollout_strategy
from sidecar.core.actions import Action, AskForRefusedPods, CheckHealth, Nothing, Wait
from sidecar.core.annotations import DeploymentView, Notice, quota_retry_body
from sidecar.core.durations import Never, format_duration
from sidecar.core.errors import InvalidSavedSchedulingError
from sidecar.core.failback import failback_cooldown, failback_due_at
from sidecar.core.inputs import Facts, Policy
from sidecar.core.objects import JSONObject
from sidecar.core.saved_scheduling import SavedScheduling
from sidecar.core.signals import Interruption, Kind
from sidecar.core.transitions import Event
from spot_common import contract
from spot_common.contract import ComputeType, State

_BY_HAND: Final = f"restore the pod template by hand, then set {contract.STATE} to {State.WATCHING}"


@dataclasses.dataclass(frozen=True)
class Stay:
    """No transition now; ``needs_lease`` if this state needs a leader to watch it."""

    actions: tuple[Action, ...]
    needs_lease: bool


@dataclasses.dataclass(frozen=True)
class Move:
    """A transition to make, with what it changes besides the state annotations."""

    event: Event
    message: str
    template: JSONObject | None = None
    """The new pod template; ``None`` leaves it (and the saved scheduling) as it is."""
    saved: SavedScheduling | None = None
    """With a new template: what the move to Fargate changed (``None``: moving to spot)."""
    notice: Notice | None = None
    """The interruption that starts this move, if it is one."""
    strategy: rollout_strategy.Change | None = None
    """What the write does to ``spec.strategy`` and the saved strategy (``None``: nothing)."""
    warning: str | None = None
    """Something the user must know besides the move (a Warning Event of its own)."""


Step: TypeAlias = Stay | Move


def _watching(view: DeploymentView, facts: Facts, policy: Policy, _now: datetime) -> Step:
    signal = _trigger(view, facts, policy)
    if signal is None:
        return Stay((Nothing("no interruption signal for this node"),), needs_lease=False)
    return _move_to_fargate(view, policy, signal)


def _after_failure(view: DeploymentView, facts: Facts, policy: Policy, _now: datetime) -> Step:
    if view.compute_type is ComputeType.FARGATE:
        return Stay(
            (Nothing(f"{view.state} with the template on Fargate: waiting for a human"),),
            needs_lease=False,
        )
    signal = _trigger(view, facts, policy)
    if signal is None or (view.notice is not None and view.notice.same_signal(signal)):
        return Stay((Nothing(f"{view.state}: no new interruption signal"),), needs_lease=False)
    return _move_to_fargate(view, policy, signal)


def _migrating(view: DeploymentView, facts: Facts, policy: Policy, now: datetime) -> Step:
    outcome = _follow(view, facts, policy, now, expected=ComputeType.FARGATE)
    if isinstance(outcome, Stay):
        return _within_quota(view, facts, now, outcome)
    ending, warning = rollout_strategy.ending(view.body, view.saved_strategy)
    if isinstance(outcome, _Succeeded):
        return Move(
            Event.ROLLOUT_SUCCEEDED,
            f"all {view.replicas} replicas ready on Fargate",
            strategy=ending,
            warning=warning,
        )
    saved = _saved(view)
    if isinstance(saved, InvalidSavedSchedulingError):
        return Move(
            Event.RESTORE_IMPOSSIBLE,
            f"move to Fargate failed ({outcome.reason}) and cannot be undone: {saved}; {_BY_HAND}",
        )
    template = fargate.restore(view.template, saved, policy.add_ec2_annotation_on_failback)
    return Move(
        Event.ROLLOUT_FAILED,
        f"move to Fargate failed: {outcome.reason}; pod template restored to spot",
        template=template,
        strategy=ending,
        warning=warning,
    )


def _on_fargate(view: DeploymentView, facts: Facts, policy: Policy, now: datetime) -> Step:
    cooldown = failback_cooldown(view, policy)
    due = failback_due_at(view, policy, now)
    if isinstance(cooldown, Never) or due is None:
        return Stay((Nothing("failback is disabled (never)"),), needs_lease=False)
    if now < due:
        return Stay((Wait(due, f"failback cooldown of {format_duration(cooldown)}"),), False)
    if not facts.spot_available:
        return Stay((Nothing("cooldown over; waiting for spot capacity"),), needs_lease=False)
    saved = _saved(view)
    if isinstance(saved, InvalidSavedSchedulingError):
        return Move(
            Event.RESTORE_IMPOSSIBLE,
            f"cannot move back to spot: {saved}; the pods stay on Fargate. {_BY_HAND}",
        )
    template = fargate.restore(view.template, saved, policy.add_ec2_annotation_on_failback)
    current = rollout_strategy.current(view.body)
    return Move(
        Event.FAILBACK_DUE,
        f"on Fargate for {format_duration(cooldown)} or more and spot capacity is available: "
        "moving back to spot",
        template=template,
        strategy=rollout_strategy.for_move(current),
        warning=rollout_strategy.downtime_warning(current, "spot"),
    )


def _failing_back(view: DeploymentView, facts: Facts, policy: Policy, now: datetime) -> Step:
    outcome = _follow(view, facts, policy, now, expected=ComputeType.SPOT)
    if isinstance(outcome, Stay):
        return _within_quota(view, facts, now, outcome)
    ending, warning = rollout_strategy.ending(view.body, view.saved_strategy)
    if isinstance(outcome, _Succeeded):
        return Move(
            Event.ROLLOUT_SUCCEEDED,
            f"all {view.replicas} replicas ready on spot",
            strategy=ending,
            warning=warning,
        )
    labels, profile = _fargate_target(view, policy)
    template, saved = fargate.to_fargate(view.template, labels, profile, policy.ec2_keys)
    return Move(
        Event.ROLLOUT_FAILED,
        f"move back to spot failed: {outcome.reason}; back on Fargate, failback will be "
        "retried after the cooldown",
        template=template,
        saved=saved,
        strategy=ending,
        warning=warning,
    )


StepFunction: TypeAlias = Callable[[DeploymentView, Facts, Policy, datetime], Step]

STEPS: Final[Mapping[State, StepFunction]] = {
    State.WATCHING: _watching,
    State.MIGRATING: _migrating,
    State.ON_FARGATE: _on_fargate,
    State.FAILING_BACK: _failing_back,
    State.ROLLED_BACK: _after_failure,
    State.FAILED: _after_failure,
}
"""What each state waits for: one step function per state."""


# --- Shared steps -----------------------------------------------------------------------------


def _trigger(view: DeploymentView, facts: Facts, policy: Policy) -> Interruption | None:
    """The signal that should start a move, if any: a notice, or an opted-in rebalance."""
    signal = facts.interruption
    if signal is None or signal.kind is Kind.INTERRUPTION:
        return signal
    return signal if policy.rebalance_wanted(view.overrides) else None


def _fargate_target(view: DeploymentView, policy: Policy) -> tuple[Mapping[str, str], str | None]:
    labels = view.overrides.fargate_labels
    return (
        policy.fargate_labels if labels is None else labels,
        view.overrides.fargate_profile or policy.fargate_profile,
    )


def _move_to_fargate(view: DeploymentView, policy: Policy, signal: Interruption) -> Move:
    """Start a move for ``signal``, or refuse it with reasons if Fargate cannot run the pods."""
    notice = Notice.of(signal)
    labels, profile = _fargate_target(view, policy)
    template, saved = fargate.to_fargate(view.template, labels, profile, policy.ec2_keys)
    reasons = fargate_checks.incompatibilities(view.template)
    if template == view.template:
        reasons.append(
            f"the move would not change the pod template: set {contract.FARGATE_LABELS} or "
            f"{contract.FARGATE_PROFILE} (or the sidecar's defaults) to match a Fargate profile"
        )
    new_labels = objects.string_map(objects.child(template, "metadata", ""), "labels", "metadata")
    selector = objects.child(objects.child(view.body, "spec", ""), "selector", "spec")
    if not selectors.matches(selector, new_labels, "spec.selector"):
        reasons.append(
            "the Fargate labels change a label that spec.selector relies on; choose labels the "
            "selector does not use"
        )
    what = f"{signal.kind} for node {signal.node} from {signal.source}"
    current = rollout_strategy.current(view.body)
    if reasons:
        return Move(
            Event.FARGATE_INCOMPATIBLE,
            f"{what}, but the pods cannot move to Fargate: " + "; ".join(reasons),
            notice=notice,
        )
    return Move(
        Event.INTERRUPTED,
        f"{what}: moving to Fargate",
        template=template,
        saved=saved,
        notice=notice,
        strategy=rollout_strategy.for_move(current),
        warning=rollout_strategy.downtime_warning(current, "Fargate"),
    )


def _within_quota(view: DeploymentView, facts: Facts, now: datetime, waiting: Stay) -> Step:
    """While a ResourceQuota refuses the move's surge: the move's strategy made to fit it; once
    fitted, the refused pods asked for again every
    :data:`~sidecar.core.strategy.QUOTA_RETRY_EVERY`. Otherwise ``waiting`` as it is."""
    refusal = rollout_strategy.quota_refusal(view.body)
    if refusal is None:
        return waiting
    current = rollout_strategy.current(view.body)
    if rollout_strategy.encode(current) == contract.MOVE_STRATEGY:
        change = rollout_strategy.within_quota(
            view.replicas, facts.doomed_pods, view.saved_strategy
        )
        unavailable = (change.strategy or {})["rollingUpdate"]["maxUnavailable"]
        return Move(
            Event.QUOTA_REFUSED,
            f"a ResourceQuota refuses the pods the move starts at once ({refusal[:300]}); the "
            f"move goes on with maxUnavailable {unavailable}: the pods on the interrupted node "
            "go first",
            strategy=change,
        )
    if not rollout_strategy.is_moves(current):
        return waiting  # the user's own strategy: theirs
    last = view.quota_retry
    if last is not None and now < last + rollout_strategy.QUOTA_RETRY_EVERY:
        return waiting
    return Stay(
        (*waiting.actions, AskForRefusedPods(quota_retry_body(view, now))),
        needs_lease=True,
    )


@dataclasses.dataclass(frozen=True)
class _Succeeded:
    """The rollout is complete and the pods are healthy where expected."""


@dataclasses.dataclass(frozen=True)
class _Broke:
    """The move failed; ``reason`` says why."""

    reason: str


def _follow(
    view: DeploymentView, facts: Facts, policy: Policy, now: datetime, expected: ComputeType
) -> Stay | _Succeeded | _Broke:
    """Follow the rollout of a move until it succeeds, fails, or runs out of time."""
    verdict = rollout.status(view.body)
    judged = facts.health
    if isinstance(judged, health.Unhealthy):
        return _Broke(judged.reason)
    if isinstance(verdict, rollout.Failed):
        return _Broke(verdict.reason)
    if isinstance(verdict, rollout.Complete):
        if judged is None:
            url = view.overrides.health_url
            return Stay((CheckHealth(expected, view.replicas, url),), needs_lease=True)
        if isinstance(judged, health.Healthy):
            return _Succeeded()
        waiting_for = judged.reason
    else:
        waiting_for = verdict.reason
    started = view.last_transition or now
    if rollout.past_deadline(started, policy.rollout_timeout, now):
        return _Broke(f"not done after {format_duration(policy.rollout_timeout)} ({waiting_for})")
    return Stay((Nothing(waiting_for),), needs_lease=True)


def _saved(view: DeploymentView) -> SavedScheduling | InvalidSavedSchedulingError:
    """The saved scheduling, or the error that says why it cannot be used."""
    if view.saved_scheduling is None:
        return InvalidSavedSchedulingError(
            contract.SAVED_SCHEDULING, "missing: nothing records what the move changed"
        )
    try:
        return SavedScheduling.from_json(view.saved_scheduling)
    except InvalidSavedSchedulingError as error:
        return error
