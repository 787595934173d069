"""The failover states of the opted-in Deployments, summed up for Prometheus.

The sidecars' own metrics die with their pods: a leader that rolls a move back or gives up is
replaced moments later, and a counter first seen already incremented shows no increase to a
rate() or increase(). The webhook watches every Deployment anyway (its owner cache), so it
reports, at each scrape, how many opted-in Deployments are in each state and since when the
oldest unfinished move has been running: alerts on a failed or rolled-back move and on a move
past its deadline read these. Counts only; names of Deployments never become labels (run
``spot-failover status -A`` to see which). :func:`summarize` computes the figures;
:class:`webhook.metrics.FailoverStates` exports them at scrape time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Final

from spot_common.contract import State
from webhook.core.owners import DeploymentFacts

STATES: Final = tuple(str(state) for state in State)
"""The values of ``spot-failover/state``, each always exported (0 when none)."""
UNSETTLED: Final = (str(State.MIGRATING), str(State.FAILING_BACK))
"""States a move passes through; a Deployment should not stay in one for long."""
UNKNOWN: Final = "Unknown"
"""A state annotation that is none of :data:`STATES`."""


@dataclasses.dataclass(frozen=True, slots=True)
class Summary:
    deployments: dict[str, int]
    """Opted-in Deployments by state (no annotation yet counts as ``Watching``)."""
    unsettled_since: dict[str, float]
    """For each unsettled state held by some Deployment: the oldest last transition into it
    (Unix time). Deployments whose last-transition does not parse are left out."""


def summarize(deployments: Iterable[DeploymentFacts]) -> Summary:
    counts = dict.fromkeys((*STATES, UNKNOWN), 0)
    since: dict[str, float] = {}
    for facts in deployments:
        if not facts.opted_in:
            continue
        state = facts.state or State.WATCHING
        counts[state if state in STATES else UNKNOWN] += 1
        if state in UNSETTLED:
            at = _timestamp(facts.last_transition)
            if at is not None:
                since[state] = min(at, since.get(state, at))
    return Summary(counts, since)


def _timestamp(value: str) -> float | None:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None
