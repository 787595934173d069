"""How many replicas really served through a reclaim, from what a pod watch saw (pure: no I/O).

A reclaim trial watches the pods of one Deployment from just before the spot notice until the
Deployment has settled and the reclaimed instance is gone. Each watch event becomes a
:class:`Sighting`: when it arrived, which pod, on which node, whether the API called it Ready
and whether it still existed. The API is not the whole truth: from the notice's deadline the
instance is gone, so its pods serve nothing, although the API keeps calling them Ready until the
node lifecycle controller notices (its grace period) and they stay listed until the Node is
deleted. So a pod is **live and Ready** at an instant when the API's last word on it says Ready,
it is not being deleted, and its node had not been reclaimed by then.

From those step functions come the benchmark's figures: the lowest number of live Ready
replicas during the trial, the pods still on the instance at the deadline, and the time from the
notice until every replica is live and Ready again (on Fargate for a move; anywhere for the
baseline without spot-failover).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence


class ReclaimEvidenceError(ValueError):
    """The sightings do not cover the trial (nothing seen, or the window is empty)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Sighting:
    """One watch event of one pod, at ``at`` seconds since the trial's notice."""

    at: float
    pod: str
    node: str | None
    ready: bool
    """Ready condition True, and no deletionTimestamp (a pod being deleted leaves endpoints)."""
    exists: bool = True
    """False for the DELETED event."""


@dataclasses.dataclass(frozen=True, slots=True)
class PodState:
    node: str | None
    ready: bool
    exists: bool


@dataclasses.dataclass(frozen=True)
class Reclaim:
    """The instance that was reclaimed: its node and its deadline (seconds since the notice)."""

    node: str
    deadline: float


def states_at(sightings: Sequence[Sighting], at: float) -> dict[str, PodState]:
    """Every pod's last known state at ``at`` (sightings in arrival order)."""
    states: dict[str, PodState] = {}
    for seen in sightings:
        if seen.at > at:
            break
        states[seen.pod] = PodState(seen.node, seen.ready, seen.exists)
    return states


def live_ready(
    states: Mapping[str, PodState],
    at: float,
    reclaim: Reclaim,
    where: frozenset[str] | None = None,
) -> int:
    """Pods live and Ready at ``at``; ``where``: only those on these nodes (None: anywhere)."""
    dead = reclaim.node if at >= reclaim.deadline else None
    return sum(
        1
        for s in states.values()
        if s.exists
        and s.ready
        and s.node is not None
        and s.node != dead
        and (where is None or s.node in where)
    )


def instants(sightings: Sequence[Sighting], reclaim: Reclaim, until: float) -> list[float]:
    """Every instant at which the count can change, from the notice (0) until ``until``."""
    moments = {0.0, reclaim.deadline, until}
    moments.update(s.at for s in sightings if 0.0 <= s.at <= until)
    return sorted(m for m in moments if 0.0 <= m <= until)


def curve(sightings: Sequence[Sighting], reclaim: Reclaim, until: float) -> list[tuple[float, int]]:
    """The step function of live Ready pods: (instant, count from that instant on)."""
    ordered = sorted(sightings, key=lambda s: s.at)
    return [
        (moment, live_ready(states_at(ordered, moment), moment, reclaim))
        for moment in instants(ordered, reclaim, until)
    ]


def min_live_ready(sightings: Sequence[Sighting], reclaim: Reclaim, until: float) -> int:
    """The lowest number of live Ready pods from the notice until ``until``."""
    if until <= 0:
        raise ReclaimEvidenceError(f"the trial window ends at {until}s, before the notice")
    points = curve(sightings, reclaim, until)
    return min(count for _, count in points)


def pods_on_instance_at_deadline(sightings: Sequence[Sighting], reclaim: Reclaim) -> int:
    """Pods that still existed on the reclaimed instance when it went (at its deadline)."""
    ordered = sorted(sightings, key=lambda s: s.at)
    states = states_at(ordered, reclaim.deadline)
    return sum(1 for s in states.values() if s.exists and s.node == reclaim.node)


def all_ready_at(
    sightings: Sequence[Sighting],
    reclaim: Reclaim,
    replicas: int,
    where: frozenset[str] | None = None,
    after: float = 0.0,
) -> float | None:
    """The first instant from ``after`` on when ``replicas`` pods are live and Ready (on
    ``where`` if given), or None if that never happened in the sightings."""
    ordered = sorted(sightings, key=lambda s: s.at)
    last = max((s.at for s in ordered), default=0.0)
    for moment in instants(ordered, reclaim, max(last, reclaim.deadline)):
        if moment < after:
            continue
        if live_ready(states_at(ordered, moment), moment, reclaim, where) >= replicas:
            return moment
    return None


def nodes_seen(sightings: Iterable[Sighting]) -> frozenset[str]:
    return frozenset(s.node for s in sightings if s.node is not None)


@dataclasses.dataclass(frozen=True)
class ReclaimTrial:
    """One trial: a Deployment of ``replicas`` through the reclaim of one instance, watched
    until ``until`` seconds after the notice (settled, and the instance gone)."""

    replicas: int
    sightings: Sequence[Sighting]
    reclaim: Reclaim
    until: float

    def fargate_nodes(self) -> frozenset[str]:
        return frozenset(n for n in nodes_seen(self.sightings) if n.startswith("fargate-"))

    def min_live_ready_ratio(self) -> float:
        return min_live_ready(self.sightings, self.reclaim, self.until) / self.replicas

    def pods_on_instance_at_deadline(self) -> int:
        return pods_on_instance_at_deadline(self.sightings, self.reclaim)

    def all_ready_on_fargate_s(self) -> float | None:
        """Notice → every replica live and Ready on Fargate (a move)."""
        return all_ready_at(self.sightings, self.reclaim, self.replicas, self.fargate_nodes())

    def whole_again_s(self) -> float | None:
        """Notice → every replica live and Ready again after the reclaim (the baseline)."""
        return all_ready_at(
            self.sightings, self.reclaim, self.replicas, after=self.reclaim.deadline
        )

    def fargate_starts_s(self) -> list[float]:
        """For each pod that ran on Fargate: first seen (created) → first seen Ready."""
        first: dict[str, float] = {}
        ready: dict[str, float] = {}
        fargate = self.fargate_nodes()
        for seen in sorted(self.sightings, key=lambda s: s.at):
            first.setdefault(seen.pod, seen.at)
            if seen.ready and seen.node in fargate:
                ready.setdefault(seen.pod, seen.at)
        return [ready[pod] - first[pod] for pod in ready if first[pod] >= 0.0]
