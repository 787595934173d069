"""Where the sidecar hears that its instance is going away: one module per signal source.

Every source has the same small interface, :class:`SignalSource`: it is polled once per tick
with ``now`` and a :class:`PollContext`, answers an
:class:`~sidecar.core.signals.Interruption` or ``None``, and says what kind of source it is.
The daemon takes a list of them (built in :mod:`sidecar.__main__`) and polls them in order: the
first to see a signal wins (:func:`first_signal`). A source that needs a background task (a
watch) is also a context manager, entered before the loop starts and left after it ends.

* :mod:`.imds` — the EC2 instance metadata service (the notice, the rebalance recommendation);
* :mod:`.node` — this sidecar's Node: interruption taints and its deletion.

A new source is one new module here and one entry in the list :mod:`sidecar.__main__` builds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sidecar.core.signals import Interruption


@dataclasses.dataclass(frozen=True, slots=True)
class PollContext:
    """What the sidecar knows when it polls, for the sources whose question depends on it."""

    on_fargate: bool
    """Whether this sidecar's pod runs on Fargate (no IMDS there; Fargate is not spot)."""
    rebalance_wanted: bool
    """Whether a rebalance recommendation would start a move (the Deployment's
    ``spot-failover/rebalance-trigger``, else the sidecar's setting): only then is it asked for."""


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
    """Poll ``sources`` in order until one sees a signal; the sources after it are not asked."""
    for source in sources:
        signal = source.poll(now, context)
        if signal is not None:
            return signal
    return None
