"""Faults of real clusters: does the failover tell a voluntary disruption from a reclaim, hear
Karpenter where IMDS is out of reach, take Fargate's "no" in seconds, come back to Karpenter
capacity, and pick up a setting added at run time?

Each trial is one Deployment of two replicas in a namespace of its own, kept on spot nodes of
its own (:mod:`benchmarks.trials`), with the sidecar's shipped timings, on a cluster that
plays EKS with its ~60 s Fargate start. Trials mostly wait, so every trial of the suite runs
side by side. What each measures (the figures' names in ``latest.json``):

* ``voluntary``: a Karpenter consolidation of the node (taint, Normal Event, a replacement node,
  the Node's deletion), the Deployment not opted in to voluntary disruptions; was a move
  started (``faults_voluntary_disruptions_moved``, a count over the trials; target 0)?
* ``karpenter``: Karpenter's record of a spot interruption (taint, then its Warning Events) on
  a node whose IMDS never answers a pod (hop limit 1); did a move start within
  :data:`MOVE_WITHIN_S` (``faults_karpenter_interruptions_moved``, a fraction; target 1)?
* ``refusal``: an IMDS notice for a Deployment whose namespace's LimitRange gives its pods more
  memory than the largest Fargate size (the template does not show it, the pods admission
  makes do); from the first refused pod seen (PodScheduled False, "Pod not supported on
  Fargate") to ``RolledBack`` seen
  (``faults_fargate_refusal_to_rolled_back_p99_s``; target 15 s).
* ``failback``: interrupted as in ``karpenter``, moved to Fargate, its node gone; a new
  Karpenter node comes; does the Deployment return to it after the cooldown
  (``faults_karpenter_failback_done``, a fraction; target 1)?
* ``annotation``: a running Deployment, its node with a rebalance recommendation it ignores;
  from adding ``spot-failover/rebalance-trigger: "true"`` to the move's start
  (``faults_runtime_annotation_applied_s``, the slowest trial; target 60 s).
* ``stuck``: an IMDS notice moves the Deployment; once the move is written every sidecar is
  killed (the instance went with the leader, and the new pods run none yet), then Fargate
  refuses the new pods while they wait for a node; the warden (``--warden``, deploy/warden's
  identity, one per trial) must end the move. From the move's start to its end in the history,
  divided by the rollout timeout plus two Lease terms (``faults_stuck_move_resolved_ratio``, the
  largest; target 1.0).

Times are seen by looking every 0.25 s, so each is up to half a second late or early.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from benchmarks import results, session, trials
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.nodes import SpotShape
from devtools.controlplane.waiting import wait_for
from devtools.eks import EksSimulator, karpenter
from devtools.local_warden import LocalWarden
from devtools.scenario import Scenario, no_memory_request
from sidecar.core.times import parse_time
from spot_common import contract
from spot_common.contract import State

NAME: Final = "web"
REPLICAS: Final = 2
COOLDOWN: Final = "20s"
"""The failback trial's cooldown (``spot-failover/failback-after``)."""
SIDECAR_ENV: Final = {
    **session.PRODUCTION_TIMINGS,
    "SPOT_FAILOVER_ROLLOUT_TIMEOUT_S": "300",
}
MOVE_WITHIN_S: Final = 60.0
"""How long a signal may take to start a move before the trial counts it as missed."""
CALM_S: Final = 30.0
"""How long the voluntary trial watches for a move after the Node is gone."""
SETTLE_S: Final = 300.0
"""Bound on any one wait of a trial: a Fargate start, a rollout, a failback."""
BEYOND_FARGATE: Final = "130Gi"
"""The memory the refusal trial's LimitRange gives every container that requests none."""
MOVING: Final = frozenset({State.MIGRATING, State.ON_FARGATE})
LOG_LINES: Final = 25
"""How much of each process's log a failed trial's error carries."""
REFUSAL: Final = (
    "Pod not supported on Fargate: invalid SecurityContext fields: Capabilities added: NET_ADMIN"
)
"""What Fargate says of the stuck trial's pods (a mesh's webhook gave them NET_ADMIN, say)."""
KINDS: Final = ("voluntary", "karpenter", "refusal", "failback", "annotation", "stuck")


class TrialFailedError(RuntimeError):
    """A trial could not be run to its end; says where it stood."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    kind: str
    value: float
    """What the trial measured: 1/0 for a yes/no, seconds for a time."""


def run(
    cluster: LocalCluster, kube: Kube, work: Path, eks: EksSimulator, trials_per_kind: int
) -> dict[str, float]:
    """Every trial of every kind side by side; the suite's figures."""
    plan = [kind for kind in KINDS for _ in range(trials_per_kind)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(plan)) as pool:
        futures = [pool.submit(_trial, cluster, kube, work, eks, kind) for kind in plan]
        outcomes = [future.result() for future in futures]
    for kind in KINDS:
        values = [o.value for o in outcomes if o.kind == kind]
        print(f"  faults {kind}: {[round(v, 2) for v in values]}", flush=True)
    return figures(outcomes)


def figures(outcomes: list[Outcome]) -> dict[str, float]:
    def of(kind: str) -> list[float]:
        return [o.value for o in outcomes if o.kind == kind]

    found: dict[str, float] = {"faults_trials_per_kind": float(max(len(of(k)) for k in KINDS))}
    if voluntary := of("voluntary"):
        found["faults_voluntary_disruptions_moved"] = sum(voluntary)
    if interrupted := of("karpenter"):
        found["faults_karpenter_interruptions_moved"] = sum(interrupted) / len(interrupted)
    if refused := of("refusal"):
        found["faults_fargate_refusal_to_rolled_back_p99_s"] = results.percentile(refused, 99)
    if failback := of("failback"):
        found["faults_karpenter_failback_done"] = sum(failback) / len(failback)
    if applied := of("annotation"):
        found["faults_runtime_annotation_applied_s"] = max(applied)
    if stuck := of("stuck"):
        found["faults_stuck_move_resolved_ratio"] = max(stuck)
    return found


# --- one trial ----------------------------------------------------------------------------------


def _trial(cluster: LocalCluster, kube: Kube, work: Path, eks: EksSimulator, kind: str) -> Outcome:
    trial = uuid.uuid4().hex[:8]
    nodes: list[str] = []
    with session.failover(cluster, kube, work, SIDECAR_ENV, spot_nodes=()) as failover:
        try:

            def node(shape: SpotShape) -> str:
                name = f"f-{trial}-{len(nodes)}"
                trials.add_node(failover, name, trial, shape)
                nodes.append(name)
                return name

            if kind == "stuck":
                return Outcome(kind, _stuck(failover, trial, node, eks, work))
            return Outcome(kind, TRIALS[kind](failover, trial, node))
        except Exception as error:
            raise TrialFailedError(f"{kind} trial {trial}: {error}; {_where(failover)}") from error
        finally:
            for name in nodes:
                failover.remove_node(name)


AddNode = Callable[[SpotShape], str]


def _create(
    failover: Scenario,
    trial: str,
    annotations: Mapping[str, str] | None = None,
    tweak: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    def pinned(body: dict[str, Any]) -> None:
        trials.pin(body, trial)
        if tweak is not None:
            tweak(body)

    failover.create(NAME, REPLICAS, annotations=annotations, tweak=pinned)
    failover.wait_sidecars(NAME)


def _imds_unreachable_reported(failover: Scenario) -> None:
    """Until a sidecar of the Deployment has found IMDS unreachable (it relies on the Node and
    its Events from then on)."""
    wait_for(
        lambda: "ImdsUnreachable" in {e["reason"] for e in failover.events(NAME)},
        SETTLE_S,
        "the ImdsUnreachable Event",
    )


def _state(failover: Scenario) -> str | None:
    return failover.annotations(NAME).get(contract.STATE)


def _voluntary(failover: Scenario, trial: str, node: AddNode) -> float:
    doomed = node(SpotShape.KARPENTER)
    _create(failover, trial)
    _imds_unreachable_reported(failover)
    karpenter.consolidate(failover.kube, doomed, lambda: node(SpotShape.KARPENTER))
    moved = trials.seconds_until(lambda: _state(failover) is not None, CALM_S)
    return 0.0 if moved is None else 1.0


def _karpenter(failover: Scenario, trial: str, node: AddNode) -> float:
    doomed = node(SpotShape.KARPENTER)
    _create(failover, trial)
    _imds_unreachable_reported(failover)
    karpenter.interrupt(failover.kube, doomed)
    moved = trials.seconds_until(lambda: _state(failover) in MOVING, MOVE_WITHIN_S)
    return 0.0 if moved is None else 1.0


def _refused(failover: Scenario) -> bool:
    return any(
        condition.get("type") == "PodScheduled"
        and condition.get("status") == "False"
        and "Pod not supported on Fargate" in (condition.get("message") or "")
        for pod in failover.pods(NAME)
        for condition in (pod.get("status") or {}).get("conditions") or []
    )


def _refusal(failover: Scenario, trial: str, node: AddNode) -> float:
    doomed = node(SpotShape.MANAGED)
    _create(failover, trial, tweak=no_memory_request)
    failover.add_default_memory_request(BEYOND_FARGATE)
    failover.imds.set_notice(doomed)
    if trials.seconds_until(lambda: _refused(failover), SETTLE_S) is None:
        raise TrialFailedError("no pod was refused by Fargate")
    took = trials.seconds_until(lambda: _state(failover) == State.ROLLED_BACK, SETTLE_S)
    if took is None:
        raise TrialFailedError("the move was not rolled back")
    return took


def _failback(failover: Scenario, trial: str, node: AddNode) -> float:
    doomed = node(SpotShape.KARPENTER)
    _create(failover, trial, annotations={contract.FAILBACK_AFTER: COOLDOWN})
    _imds_unreachable_reported(failover)
    karpenter.interrupt(failover.kube, doomed)
    failover.wait_state(NAME, State.ON_FARGATE, timeout_s=SETTLE_S)
    failover.remove_node(doomed)
    comeback = node(SpotShape.KARPENTER)
    back = trials.seconds_until(
        lambda: _state(failover) == State.WATCHING and failover.nodes_of(NAME) == {comeback},
        SETTLE_S,
    )
    return 0.0 if back is None else 1.0


def _annotation(failover: Scenario, trial: str, node: AddNode) -> float:
    recommended = node(SpotShape.MANAGED)
    _create(failover, trial)
    failover.imds.set_rebalance(recommended)
    if trials.seconds_until(lambda: _state(failover) is not None, 10.0) is not None:
        raise TrialFailedError("a rebalance recommendation moved a Deployment not opted in")
    failover.kube.apps.patch_namespaced_deployment(
        NAME,
        failover.namespace,
        {"metadata": {"annotations": {contract.REBALANCE_TRIGGER: "true"}}},
    )
    took = trials.seconds_until(lambda: _state(failover) in MOVING, SETTLE_S)
    if took is None:
        raise TrialFailedError("the rebalance recommendation never moved the Deployment")
    return took


def _stuck(failover: Scenario, trial: str, node: AddNode, eks: EksSimulator, work: Path) -> float:
    doomed = node(SpotShape.MANAGED)
    _create(failover, trial)
    env = {**SIDECAR_ENV, "SPOT_FAILOVER_LOG_LEVEL": "INFO"}
    with LocalWarden(
        failover.cluster,
        failover.kube,
        work / f"warden-{trial}",
        namespaces=[failover.namespace],
        env=env,
        pod_name=f"spot-failover-warden-{trial}",
    ) as warden:
        failover.imds.set_notice(doomed)
        failover.wait_state(NAME, State.MIGRATING, timeout_s=SETTLE_S)
        for pod in failover.runner.pods():  # the leader and every other sidecar
            failover.runner.kill(pod)
        if not wait_for(
            lambda: eks.fargate.refuse_waiting(failover.namespace, REFUSAL), 30, "pods to refuse"
        ):
            raise TrialFailedError("no new pod waited for Fargate")
        ended = failover.wait_state(NAME, State.ROLLED_BACK, timeout_s=3 * _bound_s())
        history = json.loads(ended[contract.HISTORY])
        if history[-1].get("by") != warden.holder:
            raise TrialFailedError(f"the move was ended by {history[-1].get('by')}, not the warden")
    moved, rolled_back = (parse_time(entry["time"]) for entry in history[-2:])
    if moved is None or rolled_back is None:
        raise TrialFailedError(f"the history has no times: {history[-2:]}")
    return (rolled_back - moved).total_seconds() / _bound_s()


def _bound_s() -> float:
    """The issue's bound on a stuck move: the rollout timeout plus two Lease terms."""
    return float(SIDECAR_ENV["SPOT_FAILOVER_ROLLOUT_TIMEOUT_S"]) + 2 * float(
        SIDECAR_ENV["SPOT_FAILOVER_LEASE_DURATION_S"]
    )


TRIALS: Final[Mapping[str, Callable[[Scenario, str, AddNode], float]]] = {
    "voluntary": _voluntary,
    "karpenter": _karpenter,
    "refusal": _refusal,
    "failback": _failback,
    "annotation": _annotation,
}


def _where(failover: Scenario) -> str:
    try:
        annotations = failover.annotations(NAME)
        pods = [
            f"{p['metadata']['name']} on {p['spec'].get('nodeName')}" for p in failover.pods(NAME)
        ]
    except Exception as error:  # only for the message
        return f"(could not read the Deployment: {error})"
    history = json.loads(annotations.get(contract.HISTORY, "[]"))
    logs = "".join(f"\n--- {title}\n{text}" for title, text in failover.diagnostics(LOG_LINES))
    return (
        f"state {annotations.get(contract.STATE)!r} "
        f"({annotations.get(contract.MESSAGE, 'no message')}), "
        f"history {[h.get('to') for h in history]}, pods: {pods}{logs}"
    )
