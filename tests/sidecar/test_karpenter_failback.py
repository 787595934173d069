"""Failback on Karpenter capacity: a Deployment on Fargate goes back to spot only when a node
labelled ``karpenter.sh/capacity-type: spot`` (the default settings know both schemes) can take
its pods: not while every spot node is cordoned or tainted as going away."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.controlplane.nodes import KARPENTER_CAPACITY_LABEL, SpotShape
from devtools.scenario import SPOT_NODES, Scenario
from spot_common import contract
from spot_common.contract import State

from .conftest import MakeFailover

pytestmark = pytest.mark.cluster

KARPENTER_NODES = ("karpenter-a", "karpenter-b")
NTH_TAINT = {"key": "aws-node-termination-handler/spot-itn", "effect": "NoSchedule"}
COOLDOWN = "2s"
NO_FAILBACK_S = 8.0
"""How long the test watches that nothing moves back while no node is capacity (the cooldown,
then several looks for capacity)."""


def on_karpenter_spot(body: dict[str, Any]) -> None:
    body["spec"]["template"]["spec"]["nodeSelector"] = {KARPENTER_CAPACITY_LABEL: "spot"}


@pytest.fixture
def managed_nodes_cordoned(failover_on_karpenter: Scenario) -> Iterator[None]:
    """The session's managed spot nodes cordoned for the test: then only Karpenter's count."""
    core = failover_on_karpenter.kube.core
    for node in SPOT_NODES:
        core.patch_node(node, {"spec": {"unschedulable": True}})
    try:
        yield
    finally:
        for node in SPOT_NODES:
            core.patch_node(node, {"spec": {"unschedulable": False}})


@pytest.fixture
def failover_on_karpenter(make_failover: MakeFailover) -> Iterator[Scenario]:
    """The scenario with failback on; the Karpenter nodes it adds are removed afterwards."""
    failover = make_failover({"SPOT_FAILOVER_FAILBACK_AFTER_S": "1800"})
    yield failover
    for node in KARPENTER_NODES:
        failover.remove_node(node)


def taint(failover: Scenario, node: str, found: dict[str, str]) -> None:
    current = failover.kube.core.read_node(node)
    taints = [failover.kube.api.sanitize_for_serialization(t) for t in current.spec.taints or []]
    failover.kube.core.patch_node(node, {"spec": {"taints": [*taints, found]}})


@pytest.mark.usefixtures("managed_nodes_cordoned")
def test_a_deployment_goes_back_to_karpenter_spot_only_once_a_node_can_take_it(
    failover_on_karpenter: Scenario,
) -> None:
    failover = failover_on_karpenter
    failover.add_spot_node("karpenter-a", SpotShape.KARPENTER)
    failover.create(
        "shop",
        replicas=2,
        annotations={contract.FAILBACK_AFTER: COOLDOWN},
        tweak=on_karpenter_spot,
    )
    assert failover.nodes_of("shop") == {"karpenter-a"}

    # The node termination handler's interruption taint: the move, and no capacity left.
    taint(failover, "karpenter-a", NTH_TAINT)
    failover.wait_state("shop", State.ON_FARGATE, timeout_s=60)

    deadline = time.monotonic() + NO_FAILBACK_S
    while time.monotonic() < deadline:
        assert failover.annotations("shop")[contract.STATE] == State.ON_FARGATE
        time.sleep(0.5)

    failover.add_spot_node("karpenter-b", SpotShape.KARPENTER)
    failover.wait_state("shop", State.WATCHING, timeout_s=90)
    failover.wait_rolled_out("shop")
    assert failover.nodes_of("shop") == {"karpenter-b"}
