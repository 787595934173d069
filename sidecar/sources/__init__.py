"""Where the sidecar hears that its instance is going away: one module per signal source.

Every source has the same small interface, :class:`SignalSource`: it is polled once per tick
with ``now`` and a :class:`PollContext`, answers an
:class:`~sidecar.core.signals.Interruption` or ``None``, and says what kind of source it is.
The daemon takes a list of them (built in :mod:`sidecar.__main__`) and polls them in order: the
first to see an interruption wins, and a weaker signal (a voluntary disruption, a rebalance
recommendation) is acted on only if no later source sees an interruption (:func:`first_signal`).
A source that needs a background task (a watch) is also a context manager, entered before the
loop starts and left after it ends.

* :mod:`.imds` — the EC2 instance metadata service (the notice, the rebalance recommendation);
* :mod:`.karpenter` — Karpenter's record of a spot interruption: Events on this sidecar's Node,
  looked for once the Node is being removed;
* :mod:`.node` — this sidecar's Node: the node termination handler's interruption taints,
  Karpenter's disruption taint and the Node's deletion (voluntary disruptions on their own).

A new source is one new module here and one entry in the list :mod:`sidecar.__main__` builds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sidecar.core.signals import Interruption, Kind, strongest


@dataclasses.dataclass(frozen=True, slots=True)
class PollContext:
    """What the sidecar knows when it polls, for the sources whose question depends on it."""

    on_fargate: bool
    """Whether this sidecar's pod runs on Fargate (no IMDS there; Fargate is not spot)."""
    wanted: frozenset[Kind]
    """The kinds of signal that would start a move (:meth:`sidecar.core.inputs.Policy.wanted`:
    an interruption always; a rebalance recommendation or a voluntary disruption as the
    Deployment's ``spot-failover/*-trigger`` says, else the sidecar's setting). A source asks
    for an opt-in kind only when it is wanted."""

    @property
    def rebalance_wanted(self) -> bool:
        return Kind.REBALANCE in self.wanted


class SignalSource(Protocol):
    """One source of "this instance is going away", polled once per tick."""

    @property
    def kind(self) -> str:
        """What source this is (``imds``, ``node``), for logs."""
        ...

    def poll(self, now: datetime, context: PollContext) -> Interruption | None:
        """This node's signal now, if the source sees one; never raises on the source's own
        failures (a source that cannot be reached says so itself and answers ``None``)."""
        ...


def first_signal(
    sources: Sequence[SignalSource], now: datetime, context: PollContext
) -> Interruption | None:
    """Poll ``sources`` in order until one sees an interruption (the sources after it are not
    asked); otherwise the strongest weaker signal, the earliest source's among equals."""
    weaker: list[Interruption] = []
    for source in sources:
        signal = source.poll(now, context)
        if signal is not None and signal.kind is Kind.INTERRUPTION:
            return signal
        if signal is not None:
            weaker.append(signal)
    return strongest(weaker, tuple(Kind))
