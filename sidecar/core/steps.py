"""What each state of the migration waits for, and the move it makes when that happens.

One function per state (:data:`STEPS`) looks at the Deployment view, the facts and the policy,
and returns either :class:`~sidecar.core.moves.Stay` (nothing to change yet; the actions say
what to watch) or :class:`~sidecar.core.moves.Move` (an :class:`~sidecar.core.transitions.Event`
plus what the write must change).
They do not check the lease, pause, dry run or the transition table:
:func:`sidecar.core.machine.decide` does, the same way for every state.

When an event happens:

* ``Interrupted`` / ``FargateIncompatible``: in Watching, this sidecar's node has an
  interruption notice (or a rebalance recommendation or a voluntary disruption, if opted in per
  Deployment or by policy: :meth:`~sidecar.core.inputs.Policy.wanted`). In RolledBack or
  Failed (template on spot) only a *new* signal counts: another node, or another kind than the
  stored notice; the signal behind the failed move would otherwise restart it for as long as
  it lasts. Failed with the template on Fargate (the move could not
  be undone) waits for a human. The move is refused (``FargateIncompatible``) if Fargate cannot
  run the pods, if the move would not change the template, or if the Fargate labels would break
  the Deployment's selector.
* ``RolloutSucceeded`` / ``RolloutFailed``: in Migrating and FailingBack, as following the
  rollout ends (:mod:`~sidecar.core.progress`: the rollout verdict, the health verdict and the
  overall deadline ``last_transition + policy.rollout_timeout``).
* ``FailbackDue``: in OnFargate, once ``last_transition + failback_after <= now`` (``never``
  disables it; :mod:`~sidecar.core.failback`) and spot capacity looks available.
* ``RestoreImpossible``: a move back to spot is due but the saved scheduling is missing or
  corrupt; the template is left on Fargate, where the pods run.
* ``QuotaRefused``: in Migrating and FailingBack, a ResourceQuota refuses the pods the move's
  strategy surges; the strategy is made to fit, and the refused pods are asked for again
  (:mod:`~sidecar.core.quota`).

Both moves (to Fargate, and back to spot) set the move's fast strategy in the write that changes
the template, and every write that ends a move restores the user's (:mod:`~sidecar.core.strategy`).

Back to spot (rollback and failback) restores the saved scheduling as a three-way merge
(:mod:`~sidecar.core.restore`): a field nobody wrote since the move gets its saved value back,
one written since keeps what was written, and the move names it (``kept``); the same holds for
the strategy (:func:`~sidecar.core.strategy.ending`). With
``policy.add_ec2_annotation_on_failback`` the template gets the annotation
``eks.amazonaws.com/compute-type: ec2`` too. A failed failback goes back to Fargate with a fresh
saved scheduling and waits out the cooldown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final, TypeAlias

from sidecar.core import fargate, fargate_checks, objects, progress, quota, restore, selectors
from sidecar.core import strategy as rollout_strategy
from sidecar.core.actions import Nothing, Wait
from sidecar.core.annotations import DeploymentView, Notice
from sidecar.core.durations import Never, format_duration
from sidecar.core.errors import InvalidSavedSchedulingError
from sidecar.core.failback import failback_cooldown, failback_due_at
from sidecar.core.inputs import Facts, Policy
from sidecar.core.moves import Move, Stay, Step
from sidecar.core.saved_scheduling import SavedScheduling
from sidecar.core.signals import Interruption
from sidecar.core.transitions import Event
from spot_common import contract
from spot_common.contract import ComputeType, State

_BY_HAND: Final = f"restore the pod template by hand, then set {contract.STATE} to {State.WATCHING}"


def _watching(view: DeploymentView, facts: Facts, policy: Policy, _now: datetime) -> Step:
    signal = _trigger(view, facts, policy)
    if signal is None:
        return Stay((Nothing("no interruption signal for this node"),), needs_lease=False)
    return _move_to_fargate(view, policy, signal, facts.ebs_claims)


def _after_failure(view: DeploymentView, facts: Facts, policy: Policy, _now: datetime) -> Step:
    if view.compute_type is ComputeType.FARGATE:
        return Stay(
            (Nothing(f"{view.state} with the template on Fargate: waiting for a human"),),
            needs_lease=False,
        )
    signal = _trigger(view, facts, policy)
    if signal is None or (view.notice is not None and view.notice.same_signal(signal)):
        return Stay((Nothing(f"{view.state}: no new interruption signal"),), needs_lease=False)
    return _move_to_fargate(view, policy, signal, facts.ebs_claims)


def _migrating(view: DeploymentView, facts: Facts, policy: Policy, now: datetime) -> Step:
    outcome = progress.follow(view, facts, policy, now, expected=ComputeType.FARGATE)
    if isinstance(outcome, Stay):
        return quota.within_quota(view, facts, now, outcome)
    ending = rollout_strategy.ending(view.body, view.saved_strategy)
    if isinstance(outcome, progress.Succeeded):
        return Move(
            Event.ROLLOUT_SUCCEEDED,
            f"all {view.replicas} replicas ready on Fargate",
            strategy=ending.change,
            warning=ending.warning,
            kept=ending.kept,
        )
    saved = _saved(view)
    if isinstance(saved, InvalidSavedSchedulingError):
        return Move(
            Event.RESTORE_IMPOSSIBLE,
            f"move to Fargate failed ({outcome.reason}) and cannot be undone: {saved}; {_BY_HAND}",
        )
    restored = restore.merge(view.template, saved, policy.add_ec2_annotation_on_failback)
    return Move(
        Event.ROLLOUT_FAILED,
        f"move to Fargate failed: {outcome.reason}; pod template restored to spot",
        template=restored.template,
        strategy=ending.change,
        warning=ending.warning,
        kept=restored.kept + ending.kept,
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
    restored = restore.merge(view.template, saved, policy.add_ec2_annotation_on_failback)
    current = rollout_strategy.current(view.body)
    return Move(
        Event.FAILBACK_DUE,
        f"on Fargate for {format_duration(cooldown)} or more and spot capacity is available: "
        "moving back to spot",
        template=restored.template,
        strategy=rollout_strategy.for_move(current),
        warning=rollout_strategy.downtime_warning(current, "spot"),
        kept=restored.kept,
    )


def _failing_back(view: DeploymentView, facts: Facts, policy: Policy, now: datetime) -> Step:
    outcome = progress.follow(view, facts, policy, now, expected=ComputeType.SPOT)
    if isinstance(outcome, Stay):
        return quota.within_quota(view, facts, now, outcome)
    ending = rollout_strategy.ending(view.body, view.saved_strategy)
    if isinstance(outcome, progress.Succeeded):
        return Move(
            Event.ROLLOUT_SUCCEEDED,
            f"all {view.replicas} replicas ready on spot",
            strategy=ending.change,
            warning=ending.warning,
            kept=ending.kept,
        )
    labels, profile = _fargate_target(view, policy)
    template, saved = fargate.to_fargate(view.template, labels, profile, policy.ec2_keys)
    return Move(
        Event.ROLLOUT_FAILED,
        f"move back to spot failed: {outcome.reason}; back on Fargate, failback will be "
        "retried after the cooldown",
        template=template,
        saved=saved,
        strategy=ending.change,
        warning=ending.warning,
        kept=ending.kept,
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

STARTS_A_MOVE: Final = frozenset({State.WATCHING, State.ROLLED_BACK, State.FAILED})
"""The states whose step starts a move to Fargate on a wanted signal (after the checks)."""


# --- Shared steps -----------------------------------------------------------------------------


def _trigger(view: DeploymentView, facts: Facts, policy: Policy) -> Interruption | None:
    """The signal that should start a move, if any: an interruption, or an opted-in rebalance
    recommendation or voluntary disruption."""
    signal = facts.interruption
    if signal is None or signal.kind in policy.wanted(view.overrides):
        return signal
    return None


def _fargate_target(view: DeploymentView, policy: Policy) -> tuple[Mapping[str, str], str | None]:
    labels = view.overrides.fargate_labels
    return (
        policy.fargate_labels if labels is None else labels,
        view.overrides.fargate_profile or policy.fargate_profile,
    )


def _move_to_fargate(
    view: DeploymentView, policy: Policy, signal: Interruption, ebs_claims: frozenset[str]
) -> Move:
    """Start a move for ``signal``, or refuse it with reasons if Fargate cannot run the pods
    (``ebs_claims``: the claims known to be backed by EBS)."""
    notice = Notice.of(signal)
    labels, profile = _fargate_target(view, policy)
    template, saved = fargate.to_fargate(view.template, labels, profile, policy.ec2_keys)
    reasons = fargate_checks.incompatibilities(view.template, ebs_claims=ebs_claims)
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
