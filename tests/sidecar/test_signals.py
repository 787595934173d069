"""Signal sources on the control plane: IMDS unreachable (hop limit 1) hands over to the Node,
a rebalance recommendation moves only Deployments that opted in, and dry run writes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.controlplane.kube import Kube
from devtools.controlplane.waiting import wait_for
from devtools.imds import FaultKind
from devtools.scenario import Scenario
from spot_common import contract
from spot_common.contract import State
from tests.conftest import SPOT_NODES

from .conftest import MakeFailover

pytestmark = pytest.mark.cluster

ITN_TAINT = {"key": "aws-node-termination-handler/spot-itn", "effect": "NoSchedule"}


@pytest.fixture
def tainted(kube: Kube) -> Iterator[list[str]]:
    """Nodes tainted during the test; the taints are removed afterwards (nodes are shared)."""
    nodes: list[str] = []
    yield nodes
    for node in nodes:
        kube.core.patch_node(node, {"spec": {"taints": None}})


def test_with_imds_unreachable_the_node_taint_still_moves_the_deployment(
    failover: Scenario, tainted: list[str]
) -> None:
    for node in SPOT_NODES:
        failover.imds.set_fault(node, FaultKind.HANG_TOKEN)
    failover.create("web", replicas=3)
    node = failover.busiest_spot_node("web")
    reasons = wait_for(
        lambda: (
            found
            if "ImdsUnreachable" in (found := {e["reason"] for e in failover.events("web")})
            else None
        ),
        30,
        "the ImdsUnreachable Event",
    )
    assert "ImdsUnreachable" in reasons

    tainted.append(node)
    failover.kube.core.patch_node(node, {"spec": {"taints": [ITN_TAINT]}})

    annotations = failover.wait_state("web", State.ON_FARGATE)
    assert "node/taint" in annotations[contract.NOTICE]
    codes = failover.runner.exit_codes()
    assert set(codes.values()) <= {0}, codes


def test_a_rebalance_recommendation_moves_only_deployments_that_opted_in(
    failover: Scenario,
) -> None:
    failover.create("eager", replicas=3, annotations={contract.REBALANCE_TRIGGER: "true"})
    failover.create("calm", replicas=3)
    node = failover.busiest_spot_node("calm")

    failover.imds.set_rebalance(node)

    failover.wait_state("eager", State.ON_FARGATE)
    failover.imds.set_notice(node)  # a clock: the notice that follows moves "calm" too
    failover.wait_state("calm", State.ON_FARGATE)
    calm = failover.annotations("calm")
    assert "instance-action" in calm[contract.NOTICE]


def test_dry_run_records_what_it_would_do_and_changes_nothing(
    make_failover: MakeFailover,
) -> None:
    failover = make_failover({"SPOT_FAILOVER_DRY_RUN": "true"})
    before = failover.create("web", replicas=3)

    failover.imds.set_notice(failover.busiest_spot_node("web"))

    events = wait_for(
        lambda: (
            found
            if (found := [e for e in failover.events("web") if e["reason"] == "DryRun"])
            else None
        ),
        30,
        "a DryRun Event",
    )
    assert "would go from Watching to Migrating" in events[0]["message"]
    after = failover.read("web")
    assert after["spec"]["template"] == before["spec"]["template"]
    assert contract.STATE not in (after["metadata"].get("annotations") or {})
