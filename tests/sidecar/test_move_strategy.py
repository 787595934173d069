"""A move that fits the notice, on the real control plane: every replacement starts at once,
the doomed node's pods go first, and the user's strategy is back afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.controlplane import audit
from devtools.controlplane.waiting import wait_for
from devtools.scenario import Scenario
from spot_common import contract
from spot_common.contract import State

pytestmark = pytest.mark.cluster

DEFAULTED = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}


def no_strategy(body: dict[str, Any]) -> None:
    """As most users write it: Kubernetes fills in 25 % / 25 % (surge 1 for 3 replicas)."""
    del body["spec"]["strategy"]


def scale_ups(failover: Scenario, name: str) -> list[str]:
    """The controller's 'Scaled up replica set ... from A to B' Events, oldest first."""
    events = sorted(failover.events(name), key=lambda e: e.get("lastTimestamp") or "")
    return [
        e["message"] for e in events if e["reason"] == "ScalingReplicaSet" and "up" in e["message"]
    ]


def sidecar_pod_patches(failover: Scenario) -> list[audit.AuditedRequest]:
    prefix = f"/api/v1/namespaces/{failover.namespace}/pods/"
    return [
        r
        for r in audit.read(failover.cluster.audit_log)
        if r.pod is not None and r.verb == "patch" and r.uri.startswith(prefix)
    ]


def pods_on(failover: Scenario, name: str, node: str) -> set[str]:
    return {p["metadata"]["name"] for p in failover.pods(name) if p["spec"].get("nodeName") == node}


def test_a_deployment_with_no_strategy_moves_all_at_once_and_gets_its_strategy_back(
    failover: Scenario,
) -> None:
    failover.create("web", replicas=3, tweak=no_strategy)
    assert failover.read("web")["spec"]["strategy"] == DEFAULTED
    node = failover.busiest_spot_node("web")
    doomed = pods_on(failover, "web", node)

    failover.imds.set_notice(node)

    annotations = failover.wait_state("web", State.ON_FARGATE)
    failover.wait_rolled_out("web")
    after = failover.read("web")
    assert after["spec"]["strategy"] == DEFAULTED, "restored exactly"
    assert contract.SAVED_STRATEGY not in annotations
    assert any(m.endswith("from 0 to 3") for m in scale_ups(failover, "web")), (
        "every replacement started at once"
    )
    marked = {
        r.uri.rsplit("/", 1)[-1].split("?")[0]
        for r in sidecar_pod_patches(failover)
        if r.code == 200
    }
    assert marked == doomed, "the doomed node's pods, and only they, got the deletion cost"


def test_a_strategy_the_user_writes_mid_move_is_kept(failover: Scenario) -> None:
    failover.create("api", replicas=2, tweak=no_strategy)
    apps, namespace = failover.kube.apps, failover.namespace
    apps.patch_namespaced_deployment(
        "api", namespace, {"spec": {"paused": True}}
    )  # holds the rollout
    node = failover.busiest_spot_node("api")

    failover.imds.set_notice(node)
    moving = wait_for(
        lambda: (
            body
            if (body := failover.read("api"))["metadata"]["annotations"].get(contract.STATE)
            == State.MIGRATING
            else None
        ),
        60,
        "the move to start",
    )
    assert moving["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "100%", "maxUnavailable": 0}
    theirs = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}
    apps.patch_namespaced_deployment(
        "api", namespace, {"spec": {"paused": False, "strategy": theirs}}
    )

    annotations = failover.wait_state("api", State.ON_FARGATE)
    assert failover.read("api")["spec"]["strategy"] == theirs
    assert contract.SAVED_STRATEGY not in annotations


def test_recreate_is_kept_and_the_user_is_warned_of_the_downtime(failover: Scenario) -> None:
    def recreate(body: dict[str, Any]) -> None:
        body["spec"]["strategy"] = {"type": "Recreate"}

    failover.create("legacy", replicas=2, tweak=recreate)
    failover.imds.set_notice(failover.busiest_spot_node("legacy"))

    annotations = failover.wait_state("legacy", State.ON_FARGATE)
    assert failover.read("legacy")["spec"]["strategy"] == {"type": "Recreate"}
    history = json.loads(annotations[contract.HISTORY])
    assert "downtime" in history[0]["reason"], "the move's status said so"
    warnings = [
        e
        for e in failover.events("legacy")
        if e["reason"] == "RolloutStrategy" and e["type"] == "Warning"
    ]
    assert warnings, "a Warning Event says that the move means downtime"
    assert "downtime" in warnings[0]["message"]


def test_a_quota_that_refuses_the_surge_is_reported_and_the_move_still_completes(
    failover: Scenario,
) -> None:
    quota = {"metadata": {"name": "pods"}, "spec": {"hard": {"pods": "3"}}}
    failover.kube.core.create_namespaced_resource_quota(failover.namespace, quota)  # no surge room
    failover.create("shop", replicas=3, tweak=no_strategy)
    node = failover.busiest_spot_node("shop")
    doomed = pods_on(failover, "shop", node)

    failover.imds.set_notice(node)

    annotations = failover.wait_state("shop", State.ON_FARGATE, timeout_s=90)
    failover.wait_rolled_out("shop")
    transitions = [(h["from"], h["to"]) for h in json.loads(annotations[contract.HISTORY])]
    assert ("Migrating", "Migrating") in transitions, "the strategy was fitted to the quota"
    assert contract.QUOTA_RETRY not in annotations, "the move's end dropped the retry time"
    asked = [
        rs
        for rs in failover.kube.apps.list_namespaced_replica_set(failover.namespace).items
        if contract.QUOTA_RETRY in (rs.metadata.annotations or {})
    ]
    assert asked, "the Deployment controller carried the retry time to a ReplicaSet"
    warnings = [e for e in failover.events("shop") if e["reason"] == "SurgeRefusedByQuota"]
    assert warnings
    assert warnings[0]["type"] == "Warning"
    assert "exceeded quota" in warnings[0]["message"]
    assert failover.read("shop")["spec"]["strategy"] == DEFAULTED, "restored exactly"
    deletes = [
        r.uri.rsplit("/", 1)[-1].split("?")[0]
        for r in audit.read(failover.cluster.audit_log)
        if r.verb == "delete"
        and r.user.endswith(":replicaset-controller")
        and f"/namespaces/{failover.namespace}/pods/" in r.uri
    ]
    assert set(deletes[: len(doomed)]) == doomed, "the doomed node's pods went first"
