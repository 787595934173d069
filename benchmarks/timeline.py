"""The whole failover's timeline, trial after trial, against the 120 s notice budget.

One opted-in Deployment of a few replicas on spot nodes, sidecars with the shipped timings and
a short failback cooldown. Each trial: wait a random part of the poll interval, post a notice
on the spot node running most replicas, and follow the Deployment to OnFargate and, after the
cooldown, back to Watching. Once on Fargate the notice is cleared: the reclaimed instance is
replaced by a healthy one of the same name, so the way back has spot capacity. The instants
come from the servers (see :mod:`benchmarks.timeline_phases`); the figures go to the results
file and the median trial to ``benchmarks/results/timeline.png``. A notice that starts no move
is counted (``timeline_notices_ignored``, which should be 0) and the trial is run again; any
other stuck trial stops the suite with where the failover stood.
"""

from __future__ import annotations

import collections
import contextlib
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import plot, session, timeline_evidence, timeline_phases
from benchmarks.results import RESULTS
from benchmarks.session import PRODUCTION_TIMINGS
from benchmarks.timeline_phases import Mark, Trial, Version
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.waiting import WaitTimeoutError, wait_for
from devtools.scenario import Scenario
from spot_common import contract
from spot_common.contract import State

NAME = "timeline"
REPLICAS = 3
COOLDOWN_S = 10
MOVE_TIMEOUT_S = 60.0
"""Ample for a move on kwok (seconds), even with a Lease take-over (15 s)."""
PLOT = RESULTS.parent / "timeline.png"


def run(
    cluster: LocalCluster, kube: Kube, work: Path, trials: int, plot_to: Path = PLOT
) -> dict[str, float]:
    """Time ``trials`` whole failovers in a fresh namespace; the figures, and the plot."""
    poll_s = float(PRODUCTION_TIMINGS["SPOT_FAILOVER_POLL_INTERVAL_S"])
    recorded: list[Trial] = []
    ignored = 0
    with session.failover(cluster, kube, work, PRODUCTION_TIMINGS) as failover:
        failover.create(
            NAME, replicas=REPLICAS, annotations={contract.FAILBACK_AFTER: f"{COOLDOWN_S}s"}
        )
        while len(recorded) < trials:
            _wait_steady(failover)
            try:
                recorded.append(_trial(failover, poll_s))
            except NoticeIgnoredError as error:
                ignored += 1
                print(f"  timeline: a notice was ignored: {error}", flush=True)
                if ignored > trials:
                    raise
                continue
            print(f"  timeline trial {len(recorded)}: {_told(recorded[-1])}", flush=True)
        strategy = failover.read(NAME)["spec"]["strategy"]["rollingUpdate"]
    max_surge = int(strategy["maxSurge"])
    plot.timeline_png(
        recorded,
        plot_to,
        cooldown_s=COOLDOWN_S,
        batches=timeline_phases.surge_batches(REPLICAS, max_surge),
    )
    return timeline_phases.figures(recorded, cooldown_s=COOLDOWN_S) | {
        "timeline_replicas": float(REPLICAS),
        "timeline_max_surge": float(max_surge),
        "timeline_notices_ignored": float(ignored),
    }


def _trial(failover: Scenario, poll_s: float) -> Trial:
    namespace = failover.namespace
    with timeline_evidence.DeploymentWatch(failover.kube, namespace, NAME) as watch:
        node = failover.busiest_spot_node(NAME)
        time.sleep(random.uniform(0, poll_s))  # noqa: S311 - a random phase, not a secret
        posted = datetime.now(UTC)
        failover.imds.set_notice(node)
        try:
            with _explained(failover, node, posted, watch):
                failover.wait_state(NAME, State.ON_FARGATE, timeout_s=MOVE_TIMEOUT_S)
                failover.imds.clear_notice(node)
                failover.wait_state(NAME, State.WATCHING, timeout_s=COOLDOWN_S + MOVE_TIMEOUT_S)
        finally:
            failover.imds.clear_notice(node)
        versions = wait_for(
            lambda: _back_to_watching(watch.versions()),
            10,
            "the watch to deliver the Watching version",
        )
    seen_at = timeline_evidence.first_served(failover.imds, node, posted)
    if seen_at is None:
        raise timeline_phases.TimelineEvidenceError(f"IMDS on {node} never served the notice")
    writes = timeline_evidence.audited_writes(failover.cluster.audit_log, namespace, NAME)
    return timeline_phases.trial(posted, seen_at, watch.start, versions, writes)


class TrialStuckError(RuntimeError):
    """A trial's failover did not get where it should; says where it stood."""


class NoticeIgnoredError(TrialStuckError):
    """The notice started no move at all: the Deployment stayed in Watching. Counted in the
    figures (``timeline_notices_ignored``, target 0), and the next trial posts a new notice."""


@contextlib.contextmanager
def _explained(
    failover: Scenario, node: str, posted: datetime, watch: timeline_evidence.DeploymentWatch
) -> Iterator[None]:
    """Turn a timeout into an error that says where the failover stood."""
    try:
        yield
    except WaitTimeoutError as error:
        annotations = failover.annotations(NAME)
        running = set(failover.runner.pods())
        pods = [
            p["metadata"]["name"] for p in failover.pods(NAME) if p["spec"].get("nodeName") == node
        ]
        on_node = [
            f"{pod} (sidecar {'running' if pod in running else 'not running'})" for pod in pods
        ]
        polls = collections.Counter(
            r.status
            for r in failover.imds.requests(node, timeline_evidence.INSTANCE_ACTION)
            if r.time >= posted
        )
        state = annotations.get(contract.STATE, State.WATCHING)
        moved = any(v.state == State.MIGRATING for v in watch.versions())
        kind = TrialStuckError if moved or state != State.WATCHING else NoticeIgnoredError
        raise kind(
            f"{error}; state {state!r} "
            f"({annotations.get(contract.MESSAGE, 'no message')}), Lease held by "
            f"{failover.lease_holder(NAME)!r}, pods on {node}: {on_node or 'none'}, "
            f"IMDS polls of {node} since the notice by status: {dict(polls)}"
        ) from error


def _told(trial: Trial) -> str:
    return ", ".join(f"{mark.name.lower()} {trial.since_notice(mark):.3f}s" for mark in Mark)


def _back_to_watching(versions: list[Version]) -> list[Version] | None:
    """``versions`` once they went through Migrating and ended in Watching."""
    moved = any(v.state == State.MIGRATING for v in versions)
    return versions if moved and versions[-1].state == State.WATCHING else None


def _wait_steady(failover: Scenario) -> None:
    """Rolled out on spot, a running sidecar for every pod, and nobody holding the Lease."""
    failover.wait_rolled_out(NAME)
    failover.wait_sidecars(NAME)
    wait_for(lambda: not failover.lease_holder(NAME), 60, "the leader to release the Lease")
