"""Signal sources on the control plane: IMDS unreachable (hop limit 1) hands over to the Node,
a rebalance recommendation moves only Deployments that opted in (also when the user opts in
while the pods run), and dry run writes nothing."""

from __future__ import annotations

import json
import time
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


REBALANCE = "/latest/meta-data/events/recommendations/rebalance"


def test_a_setting_added_to_a_running_deployment_applies_without_restarting_its_pods(
    failover: Scenario,
) -> None:
    failover.create("web", replicas=2)
    pods = {p["metadata"]["name"] for p in failover.pods("web")}
    node = failover.busiest_spot_node("web")
    failover.imds.set_rebalance(node)
    polled = failover.imds.count(node, "/latest/meta-data/spot/instance-action")
    wait_for(
        lambda: failover.imds.count(node, "/latest/meta-data/spot/instance-action") >= polled + 2,
        30,
        "the sidecars to poll twice with the recommendation there",
    )
    assert failover.imds.count(node, REBALANCE) == 0  # not asked for: the trigger is off
    assert contract.STATE not in failover.annotations("web")

    started = time.monotonic()
    failover.kube.apps.patch_namespaced_deployment(
        "web",
        failover.namespace,
        {"metadata": {"annotations": {contract.REBALANCE_TRIGGER: "true"}}},
    )

    annotations = failover.wait_state("web", State.MIGRATING, timeout_s=30)
    assert time.monotonic() - started < 15
    (first, *_) = json.loads(annotations[contract.HISTORY])
    assert first["by"] in pods  # a sidecar started before the change acted on it
    assert json.loads(annotations[contract.NOTICE])["kind"] == "rebalance"


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
