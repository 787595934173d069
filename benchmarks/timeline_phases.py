"""The failover timeline, computed from what the servers recorded (pure: no I/O).

A trial is one whole failover: notice → Migrating → rollout on Fargate → OnFargate → after the
cooldown FailingBack → rollout on spot → Watching. Every instant comes from server-side
evidence, never from a sidecar's clock:

* the notice: the moment the IMDS simulator starts serving it, and the first poll it answered;
* each state change: the API server's ``ResponseComplete`` timestamp of the sidecar's write;
* each rollout complete: the timestamp of the deployment controller's status write that made
  the rollout complete by kubectl's rule.

A watch of the Deployment delivers every version in order; the audit log names the version a
write replaced (its ``objectRef.resourceVersion``). So the write that produced a version is the
successful update that replaced the version before it: an exact match, no time windows.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from benchmarks import results
from spot_common.contract import State

NOTICE_BUDGET_S = 120.0
"""EC2's spot notice: the instance is reclaimed about two minutes after the notice appears."""

EKS_FARGATE_POD_START_S = 60.0
"""Typical time for a new pod to become Ready on EKS Fargate: a node is created and registered
in 30-45 s, then the image is pulled without a cache. kwok starts pods at once, so this is what
the local ``patch → rollout complete`` phase leaves out, once per batch of pods that start
together."""


class TimelineEvidenceError(ValueError):
    """The recorded evidence does not tell a whole, ordered failover; says what is missing."""


class Mark(enum.StrEnum):
    """The instants of one trial, in the order they happen."""

    NOTICE = "notice served by IMDS"
    SEEN = "first poll answered with the notice"
    MIGRATING = "Migrating written (the patch)"
    ROLLED_OUT_FARGATE = "rollout complete on Fargate"
    ON_FARGATE = "OnFargate written"
    FAILING_BACK = "FailingBack written"
    ROLLED_OUT_SPOT = "rollout complete on spot"
    WATCHING = "Watching written"


STATE_MARKS = {
    State.MIGRATING: Mark.MIGRATING,
    State.ON_FARGATE: Mark.ON_FARGATE,
    State.FAILING_BACK: Mark.FAILING_BACK,
    State.WATCHING: Mark.WATCHING,
}
ROLLOUT_AFTER = {Mark.MIGRATING: Mark.ROLLED_OUT_FARGATE, Mark.FAILING_BACK: Mark.ROLLED_OUT_SPOT}
"""The template writes, and the rollout each of them starts."""


@dataclasses.dataclass(frozen=True)
class Version:
    """One version of the Deployment, as the watch delivered it."""

    resource_version: str
    state: str
    """``spot-failover/state``; ``Watching`` when the annotation is absent."""
    rolled_out: bool
    """Complete by kubectl's rule (generation observed, all updated and available)."""


@dataclasses.dataclass(frozen=True)
class Write:
    """A successful update of the Deployment, as the API server audited it."""

    subresource: str
    """``""`` for the object (the sidecars' writes), ``"status"`` for the controller's."""
    replaced: str
    """The resourceVersion the write replaced (the audit's ``objectRef.resourceVersion``)."""
    time: datetime
    """The ``ResponseComplete`` stage timestamp."""


@dataclasses.dataclass(frozen=True)
class Span:
    """A stretch of the timeline between two marks, with its figure name."""

    key: str
    label: str
    start: Mark
    end: Mark


MOVE_PHASES = (
    Span("notice_to_seen", "notice → first poll that saw it", Mark.NOTICE, Mark.SEEN),
    Span("seen_to_patch", "seen → patch (lease, checks, write)", Mark.SEEN, Mark.MIGRATING),
    Span(
        "patch_to_rollout_complete",
        "patch → rollout complete on Fargate",
        Mark.MIGRATING,
        Mark.ROLLED_OUT_FARGATE,
    ),
    Span(
        "rollout_complete_to_on_fargate",
        "rollout complete → OnFargate written",
        Mark.ROLLED_OUT_FARGATE,
        Mark.ON_FARGATE,
    ),
)
"""The move to Fargate, phase by phase (they tile notice → OnFargate)."""

FAILBACK_PHASES = (
    Span(
        "failback_on_fargate_to_failing_back",
        "OnFargate → FailingBack written (cooldown)",
        Mark.ON_FARGATE,
        Mark.FAILING_BACK,
    ),
    Span(
        "failback_failing_back_to_rollout_complete",
        "FailingBack → rollout complete on spot",
        Mark.FAILING_BACK,
        Mark.ROLLED_OUT_SPOT,
    ),
    Span(
        "failback_rollout_complete_to_watching",
        "rollout complete → Watching written",
        Mark.ROLLED_OUT_SPOT,
        Mark.WATCHING,
    ),
)
"""The way back, phase by phase (they tile OnFargate → Watching)."""

TOTALS = (
    Span("notice_to_patch", "notice → patch", Mark.NOTICE, Mark.MIGRATING),
    Span(
        "notice_to_rollout_complete",
        "notice → rollout complete",
        Mark.NOTICE,
        Mark.ROLLED_OUT_FARGATE,
    ),
    Span("notice_to_on_fargate", "notice → OnFargate", Mark.NOTICE, Mark.ON_FARGATE),
    Span(
        "failback_failing_back_to_watching",
        "FailingBack → Watching",
        Mark.FAILING_BACK,
        Mark.WATCHING,
    ),
)
"""Sums of phases that the budget and the report speak of."""


@dataclasses.dataclass(frozen=True)
class Trial:
    """The instants of one whole failover."""

    marks: Mapping[Mark, datetime]

    def seconds(self, span: Span) -> float:
        return (self.marks[span.end] - self.marks[span.start]).total_seconds()

    def since_notice(self, mark: Mark) -> float:
        return (self.marks[mark] - self.marks[Mark.NOTICE]).total_seconds()


def trial(
    notice: datetime,
    seen: datetime,
    start: Version,
    versions: Sequence[Version],
    writes: Iterable[Write],
) -> Trial:
    """The trial told by the evidence: ``versions`` are the Deployment's versions after
    ``start``, in order; ``writes`` are the successful updates audited meanwhile.

    Raises :class:`TimelineEvidenceError` if a mark is missing, seen twice, has no audited
    write behind it, or the marks are out of order.
    """
    written = {(w.subresource, w.replaced): w.time for w in writes}
    marks: dict[Mark, datetime] = {Mark.NOTICE: notice, Mark.SEEN: seen}
    previous, awaiting = start, None
    for version in versions:
        found: Mark | None = None
        subresource = ""
        if version.state != previous.state:
            found = _state_mark(version)
            awaiting = ROLLOUT_AFTER.get(found)
        elif awaiting is not None and version.rolled_out:
            found, awaiting, subresource = awaiting, None, "status"
        if found is not None:
            if found in marks:
                raise TimelineEvidenceError(f"{found} happened twice in one trial")
            time = written.get((subresource, previous.resource_version))
            if time is None:
                raise TimelineEvidenceError(
                    f"no audited {subresource or 'object'} update replaced resourceVersion "
                    f"{previous.resource_version}, yet version {version.resource_version} "
                    f"shows {found}"
                )
            marks[found] = time
        previous = version
    missing = [str(m) for m in Mark if m not in marks]
    if missing:
        raise TimelineEvidenceError(f"the trial has no {', '.join(missing)}")
    ordered = [marks[m] for m in Mark]
    if ordered != sorted(ordered):
        raise TimelineEvidenceError(
            "marks out of order: " + ", ".join(f"{m}={marks[m].isoformat()}" for m in Mark)
        )
    return Trial(marks)


def _state_mark(version: Version) -> Mark:
    try:
        return STATE_MARKS[State(version.state)]
    except (ValueError, KeyError):
        raise TimelineEvidenceError(
            f"version {version.resource_version} is in state {version.state!r}, "
            "which a whole failover does not pass through"
        ) from None


def median_trial(trials: Sequence[Trial]) -> Trial:
    """The trial whose notice → OnFargate is the median (the lower one of an even count)."""
    if not trials:
        raise ValueError("no trials")
    total = TOTALS[2]
    ranked = sorted(trials, key=lambda t: t.seconds(total))
    return ranked[(len(ranked) - 1) // 2]


def figures(trials: Sequence[Trial], *, cooldown_s: float) -> dict[str, float]:
    """Flat figures in seconds: p50, p99 and max of every phase and total, over ``trials``."""
    out: dict[str, float] = {}
    for span in (*MOVE_PHASES, *FAILBACK_PHASES, *TOTALS):
        samples = [t.seconds(span) for t in trials]
        out |= _quantiles(f"timeline_{span.key}", samples)
    lag = [t.seconds(FAILBACK_PHASES[0]) - cooldown_s for t in trials]
    out |= _quantiles("timeline_failback_lag_after_cooldown", lag)
    return out | {
        "timeline_trials": float(len(trials)),
        "timeline_notice_budget_s": NOTICE_BUDGET_S,
        "timeline_failback_cooldown_s": cooldown_s,
    }


def _quantiles(stem: str, samples: Sequence[float]) -> dict[str, float]:
    return {
        f"{stem}_p50_s": results.percentile(samples, 50),
        f"{stem}_p99_s": results.percentile(samples, 99),
        f"{stem}_max_s": max(samples),
    }


def surge_batches(replicas: int, max_surge: int) -> int:
    """How many batches of new pods a rolling update with ``maxUnavailable: 0`` starts one
    after another: each batch must be available before the next is created."""
    if replicas < 1 or max_surge < 1:
        raise ValueError(f"need replicas ≥ 1 and maxSurge ≥ 1, got {replicas}, {max_surge}")
    return math.ceil(replicas / max_surge)
