"""``make demo``: a whole failover on the local control plane, told as a timeline.

Nothing is short-circuited. The real webhook runs as a local process behind its shipped
configuration; a Deployment of three replicas is created as a user writes it (annotated, no
sidecar), on spot nodes; the pods the controller manager creates pass through the webhook, and
one sidecar process runs per pod from exactly the injected container spec, with a token bound
to its pod (IMDS is the simulator). Then one spot node gets its two-minute notice. The timeline
shows what the API server saw — the notice, the leader, the patch, the rollout onto Fargate,
the health verdict, and after the cooldown the way back — and ``spot-failover status`` is
printed at each step.

Scenarios: ``happy`` (default), ``leader-killed`` (the leader is SIGKILLed mid-move),
``failed-rollout`` (the pods mount an EBS volume: Fargate refuses them, the rollout misses its
progress deadline and is rolled back),
``imds-unreachable`` (hop limit 1: the Node taint of the termination handler takes over),
``webhook-down`` (the webhook is stopped before the notice: the Fargate pods come up without
the sidecar; once the webhook is back, one of them is restarted and its replacement, with the
sidecar, finishes the move, and the webhook reports the pods it missed),
``stuck-move`` (Fargate has no capacity, so the new pods never start, and every sidecar is
killed mid-move: the warden, run as deploy/warden installs it, takes the Lease two terms after
the leader's death and rolls the move back at its timeout).
Exits non-zero if the story does not end where it should.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, api_client
from devtools.controlplane.nodes import spot_node
from devtools.controlplane.waiting import WaitTimeoutError, wait_for
from devtools.eks import EksSimulator
from devtools.eks.timing import FargateTiming
from devtools.imds import FaultKind
from devtools.local_warden import LocalWarden
from devtools.local_webhook import LocalWebhookError
from devtools.scenario import (
    SIDECAR_ENV,
    SPOT_NODES,
    Scenario,
    ScenarioError,
    fargate_profile,
    live,
    mounting,
    scenario,
)
from spot_common import contract
from spot_common.contract import State
from spot_failover.render import status_table
from webhook.core.injection import has_sidecar
from webhook.core.missing_sidecars import REASON as SIDECAR_MISSING

NAME = "shop-web"
NAMESPACE = "demo"
COOLDOWN = "8s"
ITN_TAINT = {"key": "aws-node-termination-handler/spot-itn", "effect": "NoSchedule"}
EKS_TIMING = "eks-timing"
"""The happy story on EKS's timings, beside Kubernetes alone (:mod:`devtools.demo_eks`)."""
FAILURES = (WaitTimeoutError, ScenarioError, LocalWebhookError, ApiException)
"""What ends a story early: it is told as FAILED and the demo exits 1."""


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

    def block(self, lines: list[str]) -> None:
        with self.lock:
            print("\n".join(lines), flush=True)


class Observer(threading.Thread):
    """Follows the Deployment, its pods, its Lease and Events, and narrates every change."""

    def __init__(self, failover: Scenario, timeline: Timeline) -> None:
        super().__init__(name="demo-observer", daemon=True)
        self.failover, self.timeline = failover, timeline
        self.stopping = threading.Event()
        self.polling = threading.Lock()
        self.seen_events: set[str] = set()
        self.last_state: str | None = None
        self.last_placement: str | None = None
        self.last_holder: str | None = None

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            try:
                self.poll()
            except Exception as error:  # the story goes on; the narration says what it missed
                self.timeline.say("(observer)", f"{type(error).__name__}: {error}")

    def stop(self) -> None:
        self.stopping.set()
        if self.ident is not None:
            self.join()
        self.poll()  # the last word: whatever happened since the last round

    def poll(self) -> None:
        """Narrate what changed since the last round (also called to catch up at once)."""
        with self.polling:
            self._poll()

    def _poll(self) -> None:
        f = self.failover
        annotations = f.annotations(NAME)
        state = annotations.get(contract.STATE, "Watching")
        if state != self.last_state:
            self.last_state = state
            self.timeline.say(f"state → {state}", annotations.get(contract.MESSAGE, ""))
        holder = f.lease_holder(NAME) or ""
        if holder != self.last_holder:
            self.last_holder = holder
            self.timeline.say("lease", f"held by {holder}" if holder else "released")
        placement = _placement(f)
        if placement != self.last_placement:
            self.last_placement = placement
            self.timeline.say("pods", placement)
        for event in sorted(f.events(NAME), key=lambda e: e["metadata"]["creationTimestamp"]):
            uid = event["metadata"]["uid"]
            source = event.get("reportingComponent") or event["source"].get("component", "")
            if uid in self.seen_events or not source.startswith("spot-failover"):
                continue
            self.seen_events.add(uid)
            detail = f"({event['type']}, {source})"
            if event["reason"] == SIDECAR_MISSING:
                detail += f": {event['message']}"
            self.timeline.say(f"event {event['reason']}", detail)


def _placement(f: Scenario) -> str:
    """Where the live pods are, and how many of them run without the sidecar."""
    where: dict[str, int] = {}
    bare = 0
    for pod in f.pods(NAME):
        if not live(pod):
            continue
        node = pod["spec"].get("nodeName") or "Pending"
        kind = "fargate" if node.startswith("fargate-") else node
        where[kind] = where.get(kind, 0) + 1
        bare += not has_sidecar(pod)
    text = ", ".join(f"{n} on {k}" for k, n in sorted(where.items())) or "none"
    return text + (f" ({bare} without the sidecar)" if bare else "")


EBS_CLAIM = "orders-data"


def _on_an_ebs_volume(body: dict[str, Any]) -> None:
    body["spec"]["progressDeadlineSeconds"] = 5
    mounting(EBS_CLAIM)(body)


def _slow(body: dict[str, Any]) -> None:
    body["spec"]["minReadySeconds"] = 4


STUCK_ROLLOUT_TIMEOUT_S = "30"
"""The stuck move's rollout timeout: the warden rolls it back then."""
NO_CAPACITY = FargateTiming(provision_s=3600, provision_jitter_s=0, start_s=0, start_jitter_s=0)
"""Fargate has no capacity: a new pod stays Pending, and no sidecar runs in it."""


@dataclasses.dataclass(frozen=True)
class Story:
    tweak: Callable[[dict[str, Any]], None] | None = None
    ends: State = State.WATCHING
    sidecar_env: dict[str, str] | None = None
    """Settings of the sidecars (and of the warden) over the test timings."""


STORIES: dict[str, Story] = {
    "happy": Story(),
    "leader-killed": Story(_slow),
    "failed-rollout": Story(_on_an_ebs_volume, ends=State.ROLLED_BACK),
    "imds-unreachable": Story(),
    "webhook-down": Story(_slow),
    "stuck-move": Story(
        ends=State.ROLLED_BACK,
        sidecar_env={"SPOT_FAILOVER_ROLLOUT_TIMEOUT_S": STUCK_ROLLOUT_TIMEOUT_S},
    ),
}


class Demo:
    """One story on a running scenario, told step by step."""

    def __init__(
        self, kind: str, failover: Scenario, timeline: Timeline, eks: EksSimulator
    ) -> None:
        self.kind, self.story = kind, STORIES[kind]
        self.failover, self.timeline, self.eks = failover, timeline, eks
        self.observer = Observer(failover, timeline)
        self.node = ""
        self.killed: set[str] = set()

    def tell(self) -> bool:
        f = self.failover
        try:
            self.deploy()
            self.timeline.start_clock()
            self.status("after start")
            self.observer.start()
            self.interrupt()
            f.wait_state(NAME, State.MIGRATING, timeout_s=60)
            self.status("after the patch")
            if self.kind == "leader-killed":
                leader = wait_for(lambda: f.lease_holder(NAME), 10, "a leader")
                f.runner.kill(leader)
                self.killed.add(leader)
                self.timeline.say("leader killed", f"SIGKILL {leader} (its node vanished)")
            if self.kind == "webhook-down":
                self.webhook_comes_back()
            if self.kind == "stuck-move":
                self.kill_every_sidecar()
            if self.story.ends is State.ROLLED_BACK:
                f.wait_state(NAME, State.ROLLED_BACK, timeout_s=90)
                self.status("rolled back")
                return self.ended_well()
            f.wait_state(NAME, State.ON_FARGATE, timeout_s=90)
            f.wait_rolled_out(NAME)
            self.status("on Fargate")
            if self.kind == "webhook-down":
                self.wait_reported()
            self.reclaim()
            f.wait_state(NAME, State.WATCHING, timeout_s=120)
            f.wait_rolled_out(NAME)
            f.wait_sidecars(NAME)
            self.status("after failback")
            return self.ended_well()
        except FAILURES as error:
            self.timeline.say("FAILED", str(error))
            return False
        finally:
            self.observer.stop()
            self.final_annotations()

    # --- the steps ----------------------------------------------------------------------------

    def deploy(self) -> None:
        f = self.failover
        print(f"\nDeploying {NAMESPACE}/{NAME}: 3 replicas, opted in, failback after {COOLDOWN}")
        print(
            f"  (written as a user writes it: the annotation {contract.ENABLED}=true, no sidecar)"
        )
        if self.kind == "imds-unreachable":
            for node in SPOT_NODES:
                f.imds.set_fault(node, FaultKind.HANG_TOKEN)
        if self.kind == "failed-rollout":
            f.add_ebs_claim(EBS_CLAIM)
            print(f"  (its pods mount {EBS_CLAIM}, a claim on an EBS volume: Fargate cannot)")
        f.create(
            NAME,
            replicas=3,
            annotations={contract.FAILBACK_AFTER: COOLDOWN},
            tweak=self.story.tweak,
        )
        self.node = f.busiest_spot_node(NAME)
        print(f"  pods: {_placement(f)}; the webhook injected the sidecar into each,")
        print(
            "  provisioned its Role, RoleBinding and node binding; one sidecar process per pod runs"
        )

    def interrupt(self) -> None:
        f = self.failover
        if self.kind == "stuck-move":
            self.eks.fargate.timing = NO_CAPACITY
            self.timeline.say("Fargate full", "new pods stay Pending: no sidecar will run in them")
        if self.kind == "webhook-down":
            f.webhook.stop()
            self.timeline.say("webhook down", "SIGTERM; failurePolicy Ignore lets pods through")
        if self.kind == "imds-unreachable":
            self.timeline.say(
                "IMDS unreachable", "token PUT hangs on every spot node (hop limit 1)"
            )
            wait_for(
                lambda: any(e["reason"] == "ImdsUnreachable" for e in f.events(NAME)),
                30,
                "the sidecars to report IMDS unreachable",
            )
            self.observer.poll()
            f.kube.core.patch_node(self.node, {"spec": {"taints": [ITN_TAINT]}})
            self.timeline.say("node tainted", f"{self.node}: {ITN_TAINT['key']}")
        else:
            f.imds.set_notice(self.node)
            self.timeline.say(
                "notice", f"IMDS on {self.node}: spot/instance-action terminate in 120 s"
            )

    def webhook_comes_back(self) -> None:
        f = self.failover
        missed = wait_for(
            lambda: f.pods_without_sidecar(NAME), 30, "a pod created without the sidecar"
        )
        self.timeline.say("without the sidecar", ", ".join(sorted(missed)))
        f.webhook.start()
        self.timeline.say("webhook back", "new pods get the sidecar again")
        # Every replacement started at once, all without the sidecar: once the old pods (and
        # their sidecars) are gone, a pod restarted now has the sidecar that finishes the move.
        f.wait_rolled_out(NAME)
        restarted = min(f.pods_without_sidecar(NAME))
        f.kube.core.delete_namespaced_pod(restarted, f.namespace)
        self.timeline.say("pod restarted", f"{restarted}: its replacement gets the sidecar")

    def kill_every_sidecar(self) -> None:
        f = self.failover
        wait_for(lambda: f.lease_holder(NAME), 10, "a leader")
        pods = f.runner.pods()
        for pod in pods:
            f.runner.kill(pod)
        self.killed.update(pods)
        self.timeline.say(
            "every sidecar killed",
            f"SIGKILL {', '.join(sorted(pods))}: the leader too; the warden waits two terms",
        )

    def wait_reported(self) -> None:
        f = self.failover
        missing = f.pods_without_sidecar(NAME)

        def reported() -> bool:
            events = [e for e in f.events(NAME) if e["reason"] == SIDECAR_MISSING]
            messages = "\n".join(e["message"] for e in events)
            return bool(events) and all(pod in messages for pod in missing)

        wait_for(reported, 30, f"the webhook to report {sorted(missing)}")

    def reclaim(self) -> None:
        """The interrupted instance is gone; a fresh one joins under its name, with no notice."""
        f = self.failover
        if self.kind == "imds-unreachable":
            f.kube.core.patch_node(self.node, {"spec": {"taints": None}})
        else:
            f.imds.clear_notice(self.node)
        self.timeline.say("instance replaced", f"{self.node} is a fresh spot instance again")

    def ended_well(self) -> bool:
        state = self.failover.annotations(NAME).get(contract.STATE)
        if state != self.story.ends:
            self.timeline.say("FAILED", f"the story ended in {state}, not {self.story.ends}")
            return False
        crashed = {
            pod: code
            for pod, code in self.failover.runner.exit_codes().items()
            if code != 0 and pod not in self.killed
        }
        if crashed:
            self.timeline.say("FAILED", f"sidecars exited with an error: {crashed}")
            for pod in sorted(crashed):
                last = self.failover.runner.logs(pod).strip().splitlines()[-1:]
                print(f"    {pod}: {last[0] if last else '(no output)'}")
            return False
        return True

    # --- what is printed ----------------------------------------------------------------------

    def status(self, moment: str) -> None:
        """The table ``spot-failover status`` prints now, after the narration caught up."""
        self.observer.poll()
        table = status_table(self.failover.deployments(), now=datetime.now(UTC))
        self.timeline.block(
            [
                "",
                f"  $ spot-failover status -n {NAMESPACE}        # {moment}",
                *(f"    {line}" for line in table.splitlines()),
                "",
            ]
        )

    def final_annotations(self) -> None:
        try:
            annotations = self.failover.annotations(NAME)
        except ApiException as error:
            print(f"\n(no final annotations: {error.status} {error.reason})")
            return
        print("\nFinal annotations on the Deployment:")
        for key, value in sorted(annotations.items()):
            if key.startswith(contract.PREFIX):
                shown = value if key != contract.HISTORY else _history(value)
                print(f"  {key}: {shown}")


def _history(raw: str) -> str:
    entries = json.loads(raw)
    return "\n" + "\n".join(
        f"      {e['time']}  {e['from']} → {e['to']}  by {e['by']}" for e in entries
    )


def run(kind: str, work: Path) -> int:
    print(f"spot-failover demo — scenario {kind!r}\n", flush=True)
    print("Starting a local control plane (etcd, API server, controllers, scheduler, kwok)...")
    ok = False
    with LocalCluster(work / "cluster") as cluster:
        kube = Kube(api_client(cluster))
        kube.apply([spot_node(n) for n in SPOT_NODES])
        kube.create_namespace(NAMESPACE)
        eks = EksSimulator(kube)
        eks.install_profile(fargate_profile(NAMESPACE))
        print(f"  nodes: {', '.join(SPOT_NODES)} (spot); Fargate makes a node per pod")
        print(
            "Starting the webhook (python -m webhook, with deploy/'s identity and configuration)..."
        )
        story = STORIES[kind]
        try:
            with (
                eks,
                scenario(
                    cluster, kube, NAMESPACE, work / "scenario", sidecar_env=story.sidecar_env
                ) as failover,
                contextlib.ExitStack() as extras,
            ):
                if kind == "stuck-move":
                    print(
                        "Starting the warden (python -m sidecar --warden, as deploy/warden has it)"
                    )
                    extras.enter_context(
                        LocalWarden(
                            cluster,
                            kube,
                            work / "warden",
                            namespaces=[NAMESPACE],
                            env={**SIDECAR_ENV, **(story.sidecar_env or {})},
                        )
                    )
                ok = Demo(kind, failover, Timeline(), eks).tell()
        except FAILURES as error:
            print(f"\nThe demo could not run: {error}")
            ok = False
    print("\nDemo " + ("succeeded." if ok else "FAILED."), flush=True)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--scenario", choices=[*sorted(STORIES), EKS_TIMING], default="happy")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="spot-failover-demo-") as tmp:
        if args.scenario == EKS_TIMING:
            from devtools import demo_eks  # noqa: PLC0415 - it builds on this module's story

            return demo_eks.run(Path(tmp))
        return run(args.scenario, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
