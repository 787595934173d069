"""``make demo SCENARIO=eks-timing``: the happy story on EKS's timings, beside Kubernetes alone.

The same story as the default demo, but the cluster behaves as EKS does: a Fargate pod is Ready
about a minute after it is created (:data:`devtools.eks.REALISTIC`), and at the notice's
deadline the instance is gone — its pods serve nothing from then, the controller manager marks
the Node NotReady after its 50 s grace period, then the Node is deleted and its pods go. Two
Deployments of three replicas, written with no rollout strategy, each on a spot instance of its
own, get their notices at the same moment: ``shop-web`` is opted in, ``shop-web-alone`` is
not. Every line of the timeline ends with how many replicas of each are live and Ready
(Ready in the API *and* on an instance that still exists). It exits non-zero unless
spot-failover kept every replica serving and the story ended back on spot.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from devtools.controlplane.cluster import REALISTIC_NODE_HEALTH, LocalCluster
from devtools.controlplane.kube import Kube, api_client, exists
from devtools.controlplane.waiting import wait_for
from devtools.demo import FAILURES, NAME, NAMESPACE, Observer, Timeline
from devtools.eks import REALISTIC, EksSimulator, live_and_ready
from devtools.scenario import Scenario, deployment, fargate_profile, scenario
from spot_common import contract
from spot_common.contract import State
from spot_failover.render import status_table

ALONE: Final = f"{NAME}-alone"
REPLICAS: Final = 3
COOLDOWN: Final = "150s"
"""Long enough that the way back starts after the reclaim is over for both Deployments."""
SIDECAR_ENV: Final = {
    "SPOT_FAILOVER_POLL_INTERVAL_S": "2",
    "SPOT_FAILOVER_LEASE_DURATION_S": "15",
    "SPOT_FAILOVER_LEASE_RENEW_S": "2",
    "SPOT_FAILOVER_ROLLOUT_TIMEOUT_S": "300",
    "SPOT_FAILOVER_LOG_LEVEL": "INFO",
}
"""The sidecar's shipped timings."""
INSTANCES: Final = {NAME: ("spot-a", "spot-b"), ALONE: ("alone-a", "alone-b")}
"""Each Deployment's doomed instance and the spare that joins once it is running."""


def _on(nodes: tuple[str, ...]) -> dict[str, Any]:
    term = {"key": "kubernetes.io/hostname", "operator": "In", "values": list(nodes)}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [term]}]
            }
        }
    }


def _as_users_write_it(body: dict[str, Any]) -> None:
    """No strategy written (Kubernetes' defaults: 25 % / 25 %), kept on its own instances."""
    name = body["metadata"]["name"]
    del body["spec"]["strategy"]
    body["spec"]["template"]["spec"]["affinity"] = _on(INSTANCES[name])


def _node_exists(kube: Kube, node: str) -> bool:
    return exists(lambda: kube.core.read_node(node))


class Liveness(threading.Thread):
    """Counts the live, Ready replicas of both Deployments twice a second; narrates changes
    of the instances (gone, NotReady, deleted)."""

    def __init__(self, failover: Scenario, timeline: Timeline) -> None:
        super().__init__(name="demo-liveness", daemon=True)
        self.failover, self.timeline = failover, timeline
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.counts = {NAME: REPLICAS, ALONE: REPLICAS}
        self.lowest = dict(self.counts)
        self.nodes: dict[str, str] = {}

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            try:
                self.sample()
            except Exception as error:  # the story goes on; the narration says what it missed
                self.timeline.say("(liveness)", f"{type(error).__name__}: {error}")

    def stop(self) -> None:
        self.stopping.set()
        if self.ident is not None:
            self.join()

    def sample(self) -> None:
        f = self.failover
        gone = f.reclaimer.gone() if f.reclaimer else {}
        now = datetime.now(UTC)
        counts = {name: len(live_and_ready(f.pods(name), gone, now)) for name in (NAME, ALONE)}
        with self.lock:
            changed = counts != self.counts
            self.counts = counts
            self.lowest = {n: min(self.lowest[n], c) for n, c in counts.items()}
        if changed:
            self.timeline.say("live Ready", self.suffix())
        for node in (*INSTANCES[NAME], *INSTANCES[ALONE]):
            self._narrate_node(node, gone, now)

    def _narrate_node(self, node: str, gone: dict[str, datetime], now: datetime) -> None:
        kube = self.failover.kube
        if node in gone and gone[node] <= now:
            state = "gone"
            if _node_exists(kube, node):
                ready = any(
                    c.type == "Ready" and c.status == "True"
                    for c in kube.core.read_node(node).status.conditions or []
                )
                state = "gone, Node still Ready in the API" if ready else "gone, Node NotReady"
            else:
                state = "gone, Node deleted"
            if self.nodes.get(node) != state:
                self.nodes[node] = state
                self.timeline.say(f"instance {node}", state)

    def suffix(self) -> str:
        with self.lock:
            ours, alone = self.counts[NAME], self.counts[ALONE]
        return f"live Ready: spot-failover {ours}/{REPLICAS} · alone {alone}/{REPLICAS}"


class CountingTimeline(Timeline):
    """The default demo's timeline, every line ending with the live Ready counts."""

    def __init__(self) -> None:
        super().__init__()
        self.liveness: Liveness | None = None

    def say(self, what: str, detail: str = "") -> None:
        if self.liveness is not None and what != "live Ready":
            detail = f"{detail}   [{self.liveness.suffix()}]"
        super().say(what, detail)


def tell(failover: Scenario, timeline: CountingTimeline) -> bool:
    f = failover
    print(f"\nDeploying {NAMESPACE}/{NAME} (opted in) and {NAMESPACE}/{ALONE} (not): 3 replicas")
    print("  each, no rollout strategy written (Kubernetes' defaults), each on its own instance")
    for name in (NAME, ALONE):
        f.add_spot_node(INSTANCES[name][0])
    f.create(
        NAME, REPLICAS, annotations={contract.FAILBACK_AFTER: COOLDOWN}, tweak=_as_users_write_it
    )
    alone = deployment(ALONE, REPLICAS)
    _as_users_write_it(alone)
    f.kube.apps.create_namespaced_deployment(f.namespace, alone)
    f.wait_rolled_out(ALONE)
    for name in (NAME, ALONE):
        f.add_spot_node(INSTANCES[name][1])
    liveness = Liveness(f, timeline)
    timeline.liveness = liveness
    observer = Observer(f, timeline)
    timeline.start_clock()
    _status(f, timeline, "after start")
    liveness.start()
    observer.start()
    try:
        for name in (NAME, ALONE):
            f.imds.set_notice(INSTANCES[name][0])
        timeline.say("notice", "IMDS on spot-a and alone-a: terminate in 120 s")
        f.wait_state(NAME, State.MIGRATING, timeout_s=60)
        _status(f, timeline, "after the patch")
        f.wait_state(NAME, State.ON_FARGATE, timeout_s=240)
        _status(f, timeline, "on Fargate")
        doomed = [INSTANCES[name][0] for name in INSTANCES]
        wait_for(
            lambda: not any(_node_exists(f.kube, n) for n in doomed),
            300,
            "the instances to be gone",
        )
        f.wait_rolled_out(ALONE, timeout_s=240)
        timeline.say("reclaim over", f"{ALONE} is whole again on {INSTANCES[ALONE][1]}")
        f.wait_state(NAME, State.WATCHING, timeout_s=300)
        f.wait_rolled_out(NAME)
        _status(f, timeline, "after failback")
        time.sleep(1.0)  # one more sample of the counts after the last rollout
    except FAILURES as error:
        timeline.say("FAILED", str(error))
        return False
    finally:
        observer.stop()
        liveness.stop()
    return _verdict(liveness)


def _verdict(liveness: Liveness) -> bool:
    ours, alone = liveness.lowest[NAME], liveness.lowest[ALONE]
    print(
        f"\nLowest live, Ready replicas during the story: with spot-failover {ours}/{REPLICAS}, "
        f"Kubernetes alone {alone}/{REPLICAS}."
    )
    if ours < REPLICAS:
        print("FAILED: spot-failover let the workload drop below its desired replicas.")
        return False
    return True


def _status(f: Scenario, timeline: Timeline, moment: str) -> None:
    table = status_table(f.deployments(), now=datetime.now(UTC))
    timeline.block(
        [
            "",
            f"  $ spot-failover status -n {NAMESPACE}        # {moment}",
            *(f"    {line}" for line in table.splitlines()),
            "",
        ]
    )


def run(work: Path) -> int:
    print("spot-failover demo — scenario 'eks-timing'\n", flush=True)
    print("Starting a local control plane that plays EKS (Fargate ~60 s, reclaim at deadline)...")
    ok = False
    with LocalCluster(work / "cluster", node_health=REALISTIC_NODE_HEALTH) as cluster:
        kube = Kube(api_client(cluster))
        kube.create_namespace(NAMESPACE)
        eks = EksSimulator(kube, REALISTIC)
        eks.install_profile(fargate_profile(NAMESPACE))
        try:
            with (
                eks,
                scenario(
                    cluster,
                    kube,
                    NAMESPACE,
                    work / "scenario",
                    sidecar_env=SIDECAR_ENV,
                    spot_nodes=(),
                    reclaim=True,
                ) as failover,
            ):
                ok = tell(failover, CountingTimeline())
        except FAILURES as error:
            print(f"\nThe demo could not run: {error}")
            ok = False
    print("\nDemo " + ("succeeded." if ok else "FAILED."), flush=True)
    return 0 if ok else 1
