"""Following the rollout of a move under way until it succeeds, fails or runs out of time.

In Migrating and FailingBack the step follows the rollout: the rollout verdict
(:mod:`~sidecar.core.rollout`), then the health verdict (:mod:`~sidecar.core.health`), asked for
once the rollout is complete, and the overall deadline (``last_transition +
policy.rollout_timeout``). An Unhealthy verdict fails the move at once. While a move to Fargate
rolls out, an early verdict is asked for on every tick (:func:`sidecar.core.health.early`): a
pod Fargate refuses ends the move within seconds, not at the deadline.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sidecar.core import health, rollout
from sidecar.core.actions import CheckHealth, Nothing
from sidecar.core.annotations import DeploymentView
from sidecar.core.durations import format_duration
from sidecar.core.inputs import Facts, Policy
from sidecar.core.moves import Stay
from spot_common.contract import ComputeType


@dataclasses.dataclass(frozen=True)
class Succeeded:
    """The rollout is complete and the pods are healthy where expected."""


@dataclasses.dataclass(frozen=True)
class Broke:
    """The move failed; ``reason`` says why."""

    reason: str


def follow(
    view: DeploymentView, facts: Facts, policy: Policy, now: datetime, expected: ComputeType
) -> Stay | Succeeded | Broke:
    """Follow the rollout of a move until it succeeds, fails, or runs out of time."""
    verdict = rollout.status(view.body)
    judged = facts.health
    if isinstance(judged, health.Unhealthy):
        return Broke(judged.reason)
    if isinstance(verdict, rollout.Failed):
        return Broke(verdict.reason)
    started = view.last_transition or now
    late = rollout.past_deadline(started, policy.rollout_timeout, now)
    check = _check_wanted(view, verdict, judged, expected, late=late)
    if check is not None:
        return Stay((check,), needs_lease=True)
    if isinstance(verdict, rollout.Complete) and isinstance(judged, health.Healthy):
        return Succeeded()
    if isinstance(verdict, rollout.Progressing):
        waiting_for = verdict.reason
    else:
        waiting_for = judged.reason if isinstance(judged, health.NotYet) else "health"
    if late:
        return Broke(f"not done after {format_duration(policy.rollout_timeout)} ({waiting_for})")
    return Stay((Nothing(waiting_for),), needs_lease=True)


def _check_wanted(
    view: DeploymentView,
    verdict: rollout.Verdict,
    judged: health.Verdict | None,
    expected: ComputeType,
    *,
    late: bool,
) -> CheckHealth | None:
    """The health check to run before deciding, if any: the whole one once the rollout is
    complete; an early one on every tick while a move to Fargate rolls out (Fargate refuses
    pods by leaving them Pending: look now, not at the deadline), until the deadline."""
    if judged is not None:
        return None
    if isinstance(verdict, rollout.Complete):
        return CheckHealth(expected, view.replicas, view.overrides.health_url)
    if expected is ComputeType.FARGATE and not late:
        return CheckHealth(expected, view.replicas, None, early=True)
    return None
