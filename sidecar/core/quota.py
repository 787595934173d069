"""A ResourceQuota that refuses a move's surge: the move is made to fit it, and goes on.

While a quota refuses pods of a move under way (Migrating or FailingBack), the move's strategy
(:data:`~spot_common.contract.MOVE_STRATEGY`) is made to fit it
(:func:`sidecar.core.strategy.within_quota`: ``maxUnavailable`` the pods on the interrupted
node); once fitted, the leader asks for the refused pods again every
:data:`~sidecar.core.strategy.QUOTA_RETRY_EVERY`
(:class:`~sidecar.core.actions.AskForRefusedPods`): the quota has room again seconds after the
doomed pods go, but the ReplicaSet controller would retry only after its back-off.
"""

from __future__ import annotations

from datetime import datetime

from sidecar.core import strategy as rollout_strategy
from sidecar.core.actions import AskForRefusedPods
from sidecar.core.annotations import DeploymentView, quota_retry_body
from sidecar.core.inputs import Facts
from sidecar.core.moves import Move, Stay, Step
from sidecar.core.transitions import Event
from spot_common import contract


def within_quota(view: DeploymentView, facts: Facts, now: datetime, waiting: Stay) -> Step:
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
