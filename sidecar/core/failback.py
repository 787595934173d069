"""When a Deployment on Fargate may move back to spot: the cooldown that applies, and its end.

The step of ``OnFargate`` (:mod:`sidecar.core.steps`) waits for it; the loop's wake-up
(:mod:`sidecar.core.wakeup`) and the search for spot capacity look only once it is over; the
``spot-failover`` command shows it.
"""

from __future__ import annotations

from datetime import datetime

from sidecar.core.annotations import DeploymentView
from sidecar.core.durations import Duration, Never
from sidecar.core.inputs import Policy
from spot_common.contract import State


def failback_cooldown(view: DeploymentView, policy: Policy) -> Duration:
    """The cooldown on Fargate that applies: the Deployment's annotation, else the policy's."""
    after = view.overrides.failback_after
    return policy.failback_after if after is None else after


def failback_due_at(view: DeploymentView, policy: Policy, now: datetime) -> datetime | None:
    """When an OnFargate Deployment may move back (``None``: never, or not on Fargate)."""
    cooldown = failback_cooldown(view, policy)
    if view.state is not State.ON_FARGATE or isinstance(cooldown, Never):
        return None
    return (view.last_transition or now) + cooldown
