"""Through a real reclaim on EKS's timings: does every replica keep serving?

Deployments of 3, 10 and 50 replicas with no rollout strategy written (Kubernetes' defaults),
all on one spot instance of their own that gets the two-minute notice. The cluster plays EKS
(:mod:`devtools.eks`): each Fargate pod gets its node after a provisioning delay and is Ready
after a start delay (:data:`devtools.eks.REALISTIC`, about 60 s), and at the notice's deadline
the instance is gone (its pods serve nothing from then, the controller manager marks the Node
NotReady after its 50 s grace period, then the Node is deleted and its pods go). Each trial
runs with the sidecar's shipped timings; the same Deployment *not* opted in is the baseline,
what Kubernetes alone does. Trials mostly wait, so they run side by side, each in its own
namespace on its own nodes (a node label and a required node affinity keep each Deployment on
its own instance; a move to Fargate drops the affinity and saves it, as it does any EC2 pin).

A pod watch records every change (:mod:`benchmarks.reclaim_watch`); the figures come from
:mod:`benchmarks.reclaim_replicas`, the plot from :mod:`benchmarks.reclaim_plot`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import random
import statistics
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from benchmarks import reclaim_plot, results, session, trials
from benchmarks.reclaim_replicas import Reclaim, ReclaimTrial, curve
from benchmarks.reclaim_watch import PodSightings
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, exists
from devtools.controlplane.waiting import WaitTimeoutError, wait_for
from devtools.eks import REALISTIC
from devtools.scenario import Scenario, deployment
from spot_common import contract
from spot_common.contract import State

NAME: Final = "web"
SIDECAR_ENV: Final = {
    **session.PRODUCTION_TIMINGS,
    "SPOT_FAILOVER_ROLLOUT_TIMEOUT_S": "300",
    "SPOT_FAILOVER_FAILBACK_AFTER_S": "never",
}
"""The shipped timings; no failback: the trial ends once the Deployment settled on Fargate."""
SETTLE_TIMEOUT_S: Final = 480.0
"""Notice → settled and reclaim over; the baseline needs deadline + grace + the pod GC's
quarantine + a start, about 220 s; generous, because trials share two cores."""
PLOT: Final = results.RESULTS.parent / "reclaim.png"
TIMING: Final = dataclasses.replace(
    REALISTIC, provision_jitter_s=2.5, start_jitter_s=2.5, seed=None
)
"""EKS's ~60 s Fargate start with a narrow spread (every start within 5 s of the median): the
figures then show how the replacements are started (all at once, or batch after batch) and
what spot-failover adds, not the spread of Fargate's start. On EKS the spread is wider, and the
slowest new pod sets the time (``reclaim_fargate_ready_max_s`` shows the slowest here)."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """Waves of trials: the trials of one wave run side by side."""

    waves: Sequence[Sequence[tuple[int, bool]]]
    """Each trial: (replicas, opted in)."""

    @classmethod
    def default(cls, trials: int = 5, trials_n50: int = 3) -> Plan:
        """3 and 10 replicas: every trial of a size at once, ours beside the baseline; 50: one
        of each at a time (100 sidecar processes per trial would crowd two cores)."""
        waves: list[list[tuple[int, bool]]] = [
            [(n, True)] * trials + [(n, False)] * trials for n in (3, 10)
        ]
        waves += [[(50, True), (50, False)] for _ in range(trials_n50)]
        return cls(waves)


class TrialStuckError(RuntimeError):
    """A trial did not settle; says where it stood."""


def run(
    cluster: LocalCluster, kube: Kube, work: Path, plan: Plan, plot_to: Path = PLOT
) -> dict[str, float]:
    """Run every wave of ``plan``; the figures, and the plot."""
    done: list[tuple[bool, ReclaimTrial]] = []
    for index, wave in enumerate(plan.waves, 1):
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(wave)) as pool:
            futures = [
                pool.submit(_trial, cluster, kube, work, replicas, opted_in)
                for replicas, opted_in in wave
            ]
            for (_, opted_in), future in zip(wave, futures, strict=True):
                trial = future.result()
                done.append((opted_in, trial))
                print(f"  reclaim wave {index}: {_told(opted_in, trial)}", flush=True)
    ours = [t for opted_in, t in done if opted_in]
    baseline = [t for opted_in, t in done if not opted_in]
    starts = [s for t in ours for s in t.fargate_starts_s()]
    ready_s = statistics.median(starts)
    reclaim_plot.reclaim_png(_curves(ours), _curves(baseline), plot_to, fargate_ready_s=ready_s)
    return {
        "reclaim_fargate_ready_s": ready_s,
        "reclaim_fargate_ready_max_s": max(starts),
    } | figures(ours, baseline)


def figures(ours: Sequence[ReclaimTrial], baseline: Sequence[ReclaimTrial]) -> dict[str, float]:
    """The per-size figures of the results file (see BENCHMARKS.md)."""
    found: dict[str, float] = {}
    for n in sorted({t.replicas for t in [*ours, *baseline]}):
        mine = [t for t in ours if t.replicas == n]
        theirs = [t for t in baseline if t.replicas == n]
        if mine:
            found[f"reclaim_trials_n{n}"] = float(len(mine))
            found[f"reclaim_notice_to_all_ready_p99_s_n{n}"] = results.percentile(
                [_known(t.all_ready_on_fargate_s(), t, "Ready on Fargate") for t in mine], 99
            )
            found[f"reclaim_min_live_ready_ratio_n{n}"] = min(
                t.min_live_ready_ratio() for t in mine
            )
            found[f"reclaim_pods_on_instance_at_deadline_n{n}"] = float(
                max(t.pods_on_instance_at_deadline() for t in mine)
            )
        if theirs:
            found[f"reclaim_baseline_notice_to_all_ready_p99_s_n{n}"] = results.percentile(
                [_known(t.whole_again_s(), t, "whole again") for t in theirs], 99
            )
            found[f"reclaim_baseline_min_live_ready_ratio_n{n}"] = min(
                t.min_live_ready_ratio() for t in theirs
            )
            found[f"reclaim_baseline_pods_on_instance_at_deadline_n{n}"] = float(
                max(t.pods_on_instance_at_deadline() for t in theirs)
            )
    return found


def _known(seconds: float | None, trial: ReclaimTrial, what: str) -> float:
    if seconds is None:
        raise TrialStuckError(
            f"a trial of {trial.replicas} replicas was never {what} (watched {trial.until:.0f}s)"
        )
    return seconds


def _curves(trials: Sequence[ReclaimTrial]) -> dict[int, list[list[tuple[float, int]]]]:
    grouped: dict[int, list[list[tuple[float, int]]]] = {}
    for t in trials:
        grouped.setdefault(t.replicas, []).append(curve(t.sightings, t.reclaim, t.until))
    return grouped


def _told(opted_in: bool, trial: ReclaimTrial) -> str:
    who = "spot-failover" if opted_in else "baseline"
    ready = trial.all_ready_on_fargate_s() if opted_in else trial.whole_again_s()
    shown = "never" if ready is None else f"{ready:.1f}s"
    return (
        f"n{trial.replicas} {who}: all Ready {shown}, min live "
        f"{trial.min_live_ready_ratio():.2f}, on the instance at the deadline "
        f"{trial.pods_on_instance_at_deadline()}"
    )


# --- one trial ----------------------------------------------------------------------------


def _pinned(trial: str, replicas: int) -> dict[str, Any]:
    """The Deployment as a user writes it, with no strategy, kept on the trial's instances."""
    body = deployment(NAME, replicas=replicas)
    del body["spec"]["strategy"]
    trials.pin(body, trial)
    return body


def _trial(
    cluster: LocalCluster, kube: Kube, work: Path, replicas: int, opted_in: bool
) -> ReclaimTrial:
    trial = uuid.uuid4().hex[:8]
    doomed, spare = f"r-{trial}-doomed", f"r-{trial}-spare"
    with session.failover(
        cluster, kube, work, SIDECAR_ENV, spot_nodes=(), reclaim=True
    ) as failover:
        try:
            trials.add_node(failover, doomed, trial)
            body = _pinned(trial, replicas)
            if opted_in:
                failover.create(NAME, replicas, tweak=lambda b: b["spec"].update(body["spec"]))
            else:
                kube.apps.create_namespaced_deployment(failover.namespace, body)
                failover.wait_rolled_out(NAME, timeout_s=120)
            trials.add_node(failover, spare, trial)
            with PodSightings(kube, failover.namespace, f"app={NAME}") as watch:
                return _through_the_reclaim(failover, watch, doomed, replicas, opted_in)
        finally:
            for node in (doomed, spare):
                failover.remove_node(node)


def _through_the_reclaim(
    failover: Scenario, watch: PodSightings, doomed: str, replicas: int, opted_in: bool
) -> ReclaimTrial:
    poll_s = float(SIDECAR_ENV["SPOT_FAILOVER_POLL_INTERVAL_S"])
    time.sleep(random.uniform(0, poll_s))  # noqa: S311 - a random phase, not a secret
    posted, origin = datetime.now(UTC), time.monotonic()
    failover.imds.set_notice(doomed)
    watch.set_origin(origin)
    notice = failover.imds.notice(doomed)
    if notice is None:
        raise TrialStuckError(f"the notice on {doomed} vanished")
    reclaim = Reclaim(doomed, (notice.time - posted).total_seconds())
    try:
        wait_for(
            lambda: _settled(failover, watch, reclaim, replicas, opted_in),
            SETTLE_TIMEOUT_S,
            "the Deployment to settle and the reclaim to be over",
            interval_s=1.0,
        )
    except WaitTimeoutError as error:
        raise TrialStuckError(f"{error}; {_where(failover, doomed)}") from error
    return ReclaimTrial(replicas, watch.sightings(), reclaim, until=watch.now())


def _settled(
    failover: Scenario, watch: PodSightings, reclaim: Reclaim, replicas: int, opted_in: bool
) -> bool:
    if not _gone(failover.kube, reclaim.node):
        return False
    trial = ReclaimTrial(replicas, watch.sightings(), reclaim, until=watch.now())
    if opted_in:
        state = failover.annotations(NAME).get(contract.STATE)
        return state == State.ON_FARGATE and trial.all_ready_on_fargate_s() is not None
    return trial.whole_again_s() is not None


def _gone(kube: Kube, node: str) -> bool:
    return not exists(lambda: kube.core.read_node(node))


def _where(failover: Scenario, doomed: str) -> str:
    annotations: Mapping[str, str] = failover.annotations(NAME)
    pods = [f"{p['metadata']['name']} on {p['spec'].get('nodeName')}" for p in failover.pods(NAME)]
    return (
        f"state {annotations.get(contract.STATE)!r} "
        f"({annotations.get(contract.MESSAGE, 'no message')}), node {doomed} "
        f"{'gone' if _gone(failover.kube, doomed) else 'still there'}, pods: {pods}"
    )
