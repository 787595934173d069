"""``make demo``: a whole failover on the local control plane, told as a timeline.

A Deployment of three replicas runs on spot nodes with the spot-failover sidecar in every pod
(sidecars are real processes with pod-bound tokens; IMDS is the simulator). Then one spot node
gets its two-minute notice. The timeline shows what the API server saw: the notice, the leader,
the patch, the rollout onto Fargate, the health verdict, and after the cooldown the way back.

Scenarios: ``happy`` (default), ``leader-killed`` (the leader is SIGKILLed mid-move),
``failed-rollout`` (Fargate cannot place the pods: progress deadline, rollback),
``imds-unreachable`` (hop limit 1: the Node taint of the termination handler takes over).
Exits non-zero if the story does not end where it should.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.fargate_profile import FargateProfile
from devtools.controlplane.kube import Kube, api_client
from devtools.controlplane.nodes import fargate_node, spot_node
from devtools.controlplane.waiting import WaitTimeoutError, wait_for
from devtools.imds import FaultKind
from devtools.scenario import (
    FARGATE_LABELS,
    FARGATE_NODES,
    SPOT_NODES,
    Scenario,
    scenario,
)
from sidecar import contract
from sidecar.contract import State

NAME = "shop-web"
NAMESPACE = "demo"
COOLDOWN = "8s"


class Timeline:
    """Prints what happens, with seconds since the notice."""

    def __init__(self) -> None:
        self.origin = time.monotonic()
        self.lock = threading.Lock()

    def start_clock(self) -> None:
        self.origin = time.monotonic()

    def say(self, what: str, detail: str = "") -> None:
        with self.lock:
            elapsed = time.monotonic() - self.origin
            print(f"  {elapsed:7.2f}s  {what:<22} {detail}", flush=True)


class Observer(threading.Thread):
    """Follows the Deployment, its pods and Events, and narrates every change."""

    def __init__(self, failover: Scenario, timeline: Timeline) -> None:
        super().__init__(name="demo-observer", daemon=True)
        self.failover, self.timeline = failover, timeline
        self.stopping = threading.Event()
        self.seen_events: set[str] = set()
        self.last_state: str | None = None
        self.last_placement: str | None = None
        self.last_holder: str | None = None

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            try:
                self.poll()
            except Exception as error:
                self.timeline.say("(observer)", f"{type(error).__name__}: {error}")

    def poll(self) -> None:
        f = self.failover
        annotations = f.annotations(NAME)
        state = annotations.get(contract.STATE, "Watching")
        if state != self.last_state:
            self.last_state = state
            self.timeline.say(f"state → {state}", annotations.get(contract.MESSAGE, ""))
        holder = _holder(f)
        if holder != self.last_holder:
            self.last_holder = holder
            self.timeline.say("lease", f"held by {holder}" if holder else "released")
        placement = _placement(f)
        if placement != self.last_placement:
            self.last_placement = placement
            self.timeline.say("pods", placement)
        for event in sorted(f.events(NAME), key=lambda e: e["metadata"]["creationTimestamp"]):
            uid = event["metadata"]["uid"]
            source = (event.get("reportingComponent") or "") or event["source"].get("component", "")
            if uid in self.seen_events or source != "spot-failover":
                continue
            self.seen_events.add(uid)
            self.timeline.say(f"event {event['reason']}", f"({event['type']})")


def _holder(f: Scenario) -> str:
    try:
        lease = f.kube.coordination.read_namespaced_lease(contract.lease_name(NAME), NAMESPACE)
    except Exception:
        return ""
    return str(lease.spec.holder_identity or "")


def _placement(f: Scenario) -> str:
    ready: dict[str, int] = {}
    for pod in f.pods(NAME):
        if "deletionTimestamp" in pod["metadata"]:
            continue
        node = pod["spec"].get("nodeName") or "Pending"
        kind = "fargate" if node.startswith("fargate-") else node
        ready[kind] = ready.get(kind, 0) + 1
    return ", ".join(f"{n} on {k}" for k, n in sorted(ready.items())) or "none"


def _pinned_to_spot_1(body: dict[str, Any]) -> None:
    body["spec"]["progressDeadlineSeconds"] = 5
    body["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "spot-1"}


def _slow(body: dict[str, Any]) -> None:
    body["spec"]["minReadySeconds"] = 4


SETUPS: dict[str, Callable[[dict[str, Any]], None] | None] = {
    "happy": None,
    "leader-killed": _slow,
    "failed-rollout": _pinned_to_spot_1,
    "imds-unreachable": None,
}


def run(kind: str, work: Path) -> int:
    timeline = Timeline()
    print(f"spot-failover demo — scenario {kind!r}\n", flush=True)
    print("Starting a local control plane (etcd, API server, controllers, scheduler, kwok)...")
    with LocalCluster(work / "cluster") as cluster:
        kube = Kube(api_client(cluster))
        kube.apply([spot_node(n) for n in SPOT_NODES] + [fargate_node(n) for n in FARGATE_NODES])
        kube.create_namespace(NAMESPACE)
        kube.install_fargate_profile(FargateProfile("demo", NAMESPACE, FARGATE_LABELS))
        print(f"  nodes: {', '.join(SPOT_NODES)} (spot), {', '.join(FARGATE_NODES)} (Fargate)")
        with scenario(cluster, kube, NAMESPACE, work / "sidecars") as failover:
            if kind == "imds-unreachable":
                for node in SPOT_NODES:
                    failover.imds.set_fault(node, FaultKind.HANG_TOKEN)
            print(
                f"\nDeploying {NAMESPACE}/{NAME}: 3 replicas, opted in, failback after {COOLDOWN}"
            )
            failover.create(
                NAME,
                replicas=3,
                annotations={contract.FAILBACK_AFTER: COOLDOWN},
                tweak=SETUPS[kind],
            )
            node = "spot-1" if kind == "failed-rollout" else failover.busiest_spot_node(NAME)
            print(f"  pods: {_placement(failover)}; one sidecar per pod is running\n")
            observer = Observer(failover, timeline)
            timeline.start_clock()
            observer.poll()
            if kind == "imds-unreachable":
                timeline.say("IMDS unreachable", "token PUT hangs on every spot node (hop limit 1)")
                time.sleep(3)
                timeline.say("node tainted", f"{node}: aws-node-termination-handler/spot-itn")
                kube.core.patch_node(
                    node,
                    {
                        "spec": {
                            "taints": [
                                {
                                    "key": "aws-node-termination-handler/spot-itn",
                                    "effect": "NoSchedule",
                                }
                            ]
                        }
                    },
                )
            else:
                failover.imds.set_notice(node)
                timeline.say("notice", f"IMDS on {node}: spot/instance-action terminate in 120 s")
            observer.start()
            ok = _await_story(kind, failover, timeline)
            observer.stopping.set()
            observer.join()
            print("\nFinal annotations on the Deployment:")
            for key, value in sorted(failover.annotations(NAME).items()):
                if key.startswith(contract.PREFIX):
                    shown = value if key != contract.HISTORY else _history(value)
                    print(f"  {key}: {shown}")
    print("\nDemo " + ("succeeded." if ok else "FAILED."), flush=True)
    return 0 if ok else 1


def _history(raw: str) -> str:
    entries = json.loads(raw)
    return "\n" + "\n".join(
        f"      {e['time']}  {e['from']} → {e['to']}  by {e['by']}" for e in entries
    )


def _await_story(kind: str, failover: Scenario, timeline: Timeline) -> bool:
    try:
        if kind == "failed-rollout":
            failover.wait_state(NAME, State.ROLLED_BACK, timeout_s=90)
            return True
        if kind == "leader-killed":
            failover.wait_state(NAME, State.MIGRATING, timeout_s=60)
            leader = wait_for(lambda: _holder(failover), 10, "a leader")
            failover.runner.kill(leader)
            timeline.say("leader killed", f"SIGKILL {leader} (its node vanished)")
        failover.wait_state(NAME, State.ON_FARGATE, timeout_s=90)
        failover.wait_rolled_out(NAME)
        failover.wait_state(NAME, State.WATCHING, timeout_s=120)
        failover.wait_rolled_out(NAME)
        time.sleep(1)
    except WaitTimeoutError as error:
        timeline.say("FAILED", str(error))
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--scenario", choices=sorted(SETUPS), default="happy")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="spot-failover-demo-") as tmp:
        return run(args.scenario, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
