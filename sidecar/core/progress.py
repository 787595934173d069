"""Following the rollout of a move under way until it succeeds, fails or runs out of time.

In Migrating and FailingBack the step follows the rollout: the rollout verdict
(:mod:`~sidecar.core.rollout`), then the health verdict (:mod:`~sidecar.core.health`), asked for
once the rollout is complete, and the overall deadline (``last_transition +
policy.rollout_timeout``). An Unhealthy verdict fails the move at once.
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
    if isinstance(verdict, rollout.Complete):
        if judged is None:
            url = view.overrides.health_url
            return Stay((CheckHealth(expected, view.replicas, url),), needs_lease=True)
        if isinstance(judged, health.Healthy):
            return Succeeded()
        waiting_for = judged.reason
    else:
        waiting_for = verdict.reason
    started = view.last_transition or now
    if rollout.past_deadline(started, policy.rollout_timeout, now):
        return Broke(f"not done after {format_duration(policy.rollout_timeout)} ({waiting_for})")
    return Stay((Nothing(waiting_for),), needs_lease=True)
