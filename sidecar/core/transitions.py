"""The transition table of the migration workflow, and nothing else.

States are :class:`spot_common.contract.State`; an :class:`Event` is what the state machine
concluded from what it observed. :data:`TRANSITIONS` holds every legal (state, event) pair, the
state it leads to, and the Kubernetes Event that announces it; :func:`transition` raises
:class:`~sidecar.core.errors.IllegalTransitionError` for every other pair (the model is h11's
``_state.py``: the table is the specification, the code only looks it up).

================  ====================  ===============  ======================
state             event                 next state       Event reason
================  ====================  ===============  ======================
Watching          Interrupted           Migrating        MigratingToFargate
Watching          FargateIncompatible   Failed           FargateIncompatible (W)
Migrating         RolloutSucceeded      OnFargate        MigratedToFargate
Migrating         RolloutFailed         RolledBack       RolledBack (W)
Migrating         RestoreImpossible     Failed           RollbackImpossible (W)
Migrating         QuotaRefused          Migrating        SurgeRefusedByQuota (W)
OnFargate         FailbackDue           FailingBack      FailingBack
OnFargate         RestoreImpossible     Failed           FailbackImpossible (W)
FailingBack       RolloutSucceeded      Watching         FailedBack
FailingBack       RolloutFailed         OnFargate        FailbackFailed (W)
FailingBack       QuotaRefused          FailingBack      SurgeRefusedByQuota (W)
RolledBack        Interrupted           Migrating        MigratingToFargate
RolledBack        FargateIncompatible   Failed           FargateIncompatible (W)
Failed            Interrupted           Migrating        MigratingToFargate
Failed            FargateIncompatible   Failed           FargateIncompatible (W)
================  ====================  ===============  ======================

(W): a Warning Event. :mod:`sidecar.core.steps` says when each event happens.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Final

from sidecar.core.errors import IllegalTransitionError
from spot_common.contract import State


class Event(enum.StrEnum):
    """What happened, as far as the state machine is concerned."""

    INTERRUPTED = "Interrupted"
    """This sidecar's node got a notice (or a rebalance, if opted in); Fargate can run the pods."""
    FARGATE_INCOMPATIBLE = "FargateIncompatible"
    """As INTERRUPTED, but Fargate cannot run the pods (or the move would change nothing)."""
    ROLLOUT_SUCCEEDED = "RolloutSucceeded"
    """The rollout is complete and the pods are healthy on the expected compute."""
    ROLLOUT_FAILED = "RolloutFailed"
    """The rollout failed, timed out, or the pods are definitely misplaced."""
    RESTORE_IMPOSSIBLE = "RestoreImpossible"
    """A move back to spot is due but the saved scheduling is missing or corrupt."""
    FAILBACK_DUE = "FailbackDue"
    """The cooldown on Fargate is over and spot capacity looks available."""
    QUOTA_REFUSED = "QuotaRefused"
    """A ResourceQuota refuses the move's surge: the strategy is made to fit it, the move goes
    on (the one edge that stays in its state; it keeps the time of the last transition)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Edge:
    """A transition: the state it leads to, and the Kubernetes Event that announces it."""

    target: State
    reason: str
    warning: bool = False


_TO_FARGATE: Final = {
    Event.INTERRUPTED: Edge(State.MIGRATING, "MigratingToFargate"),
    Event.FARGATE_INCOMPATIBLE: Edge(State.FAILED, "FargateIncompatible", warning=True),
}

_QUOTA: Final = Edge(State.MIGRATING, "SurgeRefusedByQuota", warning=True)

TRANSITIONS: Final[Mapping[State, Mapping[Event, Edge]]] = {
    State.WATCHING: _TO_FARGATE,
    State.MIGRATING: {
        Event.ROLLOUT_SUCCEEDED: Edge(State.ON_FARGATE, "MigratedToFargate"),
        Event.ROLLOUT_FAILED: Edge(State.ROLLED_BACK, "RolledBack", warning=True),
        Event.RESTORE_IMPOSSIBLE: Edge(State.FAILED, "RollbackImpossible", warning=True),
        Event.QUOTA_REFUSED: _QUOTA,
    },
    State.ON_FARGATE: {
        Event.FAILBACK_DUE: Edge(State.FAILING_BACK, "FailingBack"),
        Event.RESTORE_IMPOSSIBLE: Edge(State.FAILED, "FailbackImpossible", warning=True),
    },
    State.FAILING_BACK: {
        Event.ROLLOUT_SUCCEEDED: Edge(State.WATCHING, "FailedBack"),
        Event.ROLLOUT_FAILED: Edge(State.ON_FARGATE, "FailbackFailed", warning=True),
        Event.QUOTA_REFUSED: Edge(State.FAILING_BACK, "SurgeRefusedByQuota", warning=True),
    },
    State.ROLLED_BACK: _TO_FARGATE,
    State.FAILED: _TO_FARGATE,
}
"""Every legal (state, event) pair and where it leads; anything else is illegal."""

SETTLED: Final = frozenset({State.WATCHING, State.ON_FARGATE, State.ROLLED_BACK, State.FAILED})
"""States in which no rollout is being followed, so no sidecar needs to hold the lease."""

UNFINISHED: Final = frozenset({State.MIGRATING, State.FAILING_BACK})
"""States of a move under way: its rollout is followed by the lease holder, and any sidecar
resumes it when the holder is gone. Every state is either settled or unfinished."""


def transition(state: State, event: Event) -> Edge:
    """The edge for ``event`` in ``state``; :class:`IllegalTransitionError` if there is none."""
    edge = TRANSITIONS.get(state, {}).get(event)
    if edge is None:
        raise IllegalTransitionError(state, event)
    return edge
