"""What the step of a state concludes: :class:`Stay` (nothing to change yet) or :class:`Move`.

Each state's step (:data:`sidecar.core.steps.STEPS`) returns one, and
:func:`sidecar.core.machine.decide` turns a :class:`Move` into the write of a transition and a
:class:`Stay` into its actions.
"""

from __future__ import annotations

import dataclasses
from typing import TypeAlias

from sidecar.core import strategy as rollout_strategy
from sidecar.core.actions import Action
from sidecar.core.annotations import Notice
from sidecar.core.objects import JSONObject
from sidecar.core.saved_scheduling import SavedScheduling
from sidecar.core.transitions import Event


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
    kept: tuple[str, ...] = ()
    """Fields the move owns that were written since it and keep the value written instead of
    the saved one (:mod:`~sidecar.core.restore`, :func:`~sidecar.core.strategy.ending`)."""


Step: TypeAlias = Stay | Move
