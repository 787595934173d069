"""Notices that land where they land: on two nodes at once (one move, not two), and on a node
that runs no replica of a Deployment (that Deployment's sidecars do nothing at all)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from devtools.controlplane.waiting import wait_for
from devtools.scenario import SPOT_NODES, Scenario
from spot_common import contract
from spot_common.contract import State

from .observe import deployment_path, pod_writes, transitions

pytestmark = pytest.mark.cluster

INSTANCE_ACTION = "/latest/meta-data/spot/instance-action"
OLD_PODS_KEPT_S = 10
"""How long a move keeps the old pods once its new ones are Ready (``minReadySeconds``), as the
Fargate start does on EKS: the sidecars on noticed nodes have this long to see their notice."""


def one_per_node(body: dict[str, Any]) -> None:
    """At most one more replica on any node than on another: three replicas, three nodes."""
    name = body["metadata"]["name"]
    body["spec"]["template"]["spec"]["topologySpreadConstraints"] = [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": name}},
        }
    ]


def on_nodes(*nodes: str) -> Any:
    """Required node affinity: only these nodes (a user's own placement)."""

    def tweak(body: dict[str, Any]) -> None:
        body["spec"]["template"]["spec"]["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": list(nodes),
                                }
                            ]
                        }
                    ]
                }
            }
        }

    return tweak


def one_on_each_of(*nodes: str) -> Any:
    """:func:`on_nodes` and :func:`one_per_node`: the affinity alone lets two replicas share
    a node, which would leave another of ``nodes`` without one."""
    place = on_nodes(*nodes)

    def tweak(body: dict[str, Any]) -> None:
        place(body)
        one_per_node(body)

    return tweak


def one_per_node_replaced_slowly(body: dict[str, Any]) -> None:
    """:func:`one_per_node`, and a rollout that starts every new pod at once (``maxSurge``
    100 %, as the README advises) but keeps the old ones for :data:`OLD_PODS_KEPT_S` more."""
    one_per_node(body)
    body["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = "100%"
    body["spec"]["minReadySeconds"] = OLD_PODS_KEPT_S


def test_two_nodes_interrupted_at_once_make_one_move(failover: Scenario) -> None:
    failover.create("web", replicas=3, tweak=one_per_node_replaced_slowly)
    first, second = SPOT_NODES[:2]
    assert {first, second} <= failover.nodes_of("web")
    asked = [functools.partial(failover.imds.count, n, INSTANCE_ACTION) for n in (first, second)]
    served = [functools.partial(ask, status=200) for ask in asked]
    # Both sidecars watch before the notices land (a process started is not yet polling)...
    wait_for(lambda: all(ask() for ask in asked), 30, f"the sidecars on {first}, {second} to poll")

    failover.imds.set_notice(first)
    failover.imds.set_notice(second)
    # ...and both see them: the move cannot take their pods within OLD_PODS_KEPT_S.
    both = f"IMDS on {first} and {second} to serve the notice"
    wait_for(lambda: all(ask() for ask in served), OLD_PODS_KEPT_S, both)

    annotations = failover.wait_state("web", State.ON_FARGATE, timeout_s=90)
    failover.wait_rolled_out("web")
    assert transitions(failover.annotations("web")) == [
        ("Watching", "Migrating"),
        ("Migrating", "OnFargate"),
    ]
    assert any(node in annotations[contract.NOTICE] for node in (first, second))
    moves = [
        r for r in pod_writes(failover, resource=deployment_path(failover, "web")) if r.code == 200
    ]
    assert len(moves) == 2  # Migrating, then OnFargate: one move


def test_a_notice_on_a_node_without_a_replica_changes_nothing(failover: Scenario) -> None:
    quiet_nodes, doomed = SPOT_NODES[:2], SPOT_NODES[2]
    failover.create("web", replicas=2, tweak=one_on_each_of(*quiet_nodes))
    failover.create("witness", replicas=1, tweak=on_nodes(doomed))
    assert failover.nodes_of("web") == set(quiet_nodes)
    web_pods = {p["metadata"]["name"] for p in failover.pods("web")}

    failover.imds.set_notice(doomed)

    # The notice is real: the Deployment that has a replica there acts on it...
    wait_for(
        lambda: contract.STATE in failover.annotations("witness"),
        30,
        "the witness Deployment to act on the notice",
    )
    # ...and web's sidecars have each polled their own nodes twice since.
    polled = {node: failover.imds.count(node, INSTANCE_ACTION) for node in quiet_nodes}
    wait_for(
        lambda: all(
            failover.imds.count(node, INSTANCE_ACTION) >= count + 2
            for node, count in polled.items()
        ),
        30,
        "web's sidecars to poll IMDS again",
    )
    assert contract.STATE not in failover.annotations("web")
    assert failover.lease_holder("web") == ""  # provisioned at the opt-in, never taken
    assert [r for r in pod_writes(failover) if r.pod in web_pods] == []
    assert [e["reason"] for e in failover.events("web") if from_spot_failover(e)] == []


def from_spot_failover(event: dict[str, Any]) -> bool:
    source = event.get("reportingComponent") or (event.get("source") or {}).get("component")
    return bool(source and source.startswith("spot-failover"))
