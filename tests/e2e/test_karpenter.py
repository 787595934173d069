"""On Karpenter-shaped spot nodes, where a pod gets no IMDSv2 token (hop limit 1): Karpenter's
record of a spot interruption moves the Deployment; a consolidation, which taints the node the
same way and then deletes it, moves only a Deployment that opted in to voluntary disruptions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from devtools.controlplane import audit
from devtools.controlplane.nodes import SpotShape
from devtools.controlplane.waiting import wait_for
from devtools.eks import karpenter
from devtools.scenario import Scenario
from spot_common import contract
from spot_common.contract import State

from .observe import deployment_path, pod_writes
from .test_interruptions import on_nodes

pytestmark = pytest.mark.cluster


@pytest.fixture
def node(failover: Scenario) -> Iterator[str]:
    """A Karpenter-launched spot node of the test's own, with its IMDS (hop limit 1)."""
    name = f"karpenter-{uuid.uuid4().hex[:8]}"
    failover.add_spot_node(name, SpotShape.KARPENTER)
    yield name
    failover.remove_node(name)


def imds_unreachable_reported(failover: Scenario, name: str) -> None:
    """Until the Deployment's sidecars have found IMDS unreachable (they poll, and rely on the
    Node from then on)."""
    wait_for(
        lambda: "ImdsUnreachable" in {e["reason"] for e in failover.events(name)},
        30,
        f"the ImdsUnreachable Event of {name}",
    )


def looked_for_a_record(failover: Scenario, pods: set[str]) -> set[str]:
    """Which of ``pods`` have listed the Node Events in default (their sidecar saw its Node
    being removed)."""
    path = f"/api/v1/namespaces/{contract.NODE_EVENTS_NAMESPACE}/events"
    return {
        r.pod
        for r in audit.read(failover.cluster.audit_log)
        if r.pod in pods and r.verb == "list" and r.uri.startswith(path) and r.code == 200
    }


def test_karpenter_s_record_of_a_spot_interruption_moves_the_deployment_without_imds(
    failover: Scenario, node: str
) -> None:
    failover.create("web", replicas=2, tweak=on_nodes(node))
    assert failover.nodes_of("web") == {node}
    imds_unreachable_reported(failover, "web")

    karpenter.interrupt(failover.kube, node)  # the disruption taint, then the Warning Events

    annotations = failover.wait_state("web", State.ON_FARGATE, timeout_s=90)
    notice = json.loads(annotations[contract.NOTICE])
    assert (notice["node"], notice["source"], notice["kind"]) == (
        node,
        "node/event",
        "interruption",
    )
    assert "from node/event" in json.loads(annotations[contract.HISTORY])[0]["reason"]


def test_a_consolidation_moves_only_the_deployment_that_opted_in_to_voluntary_disruptions(
    failover: Scenario, node: str
) -> None:
    failover.create(
        "eager", replicas=1, annotations={contract.DISRUPTION_TRIGGER: "true"}, tweak=on_nodes(node)
    )
    failover.create("calm", replicas=2, tweak=on_nodes(node))
    calm_pods = {p["metadata"]["name"] for p in failover.pods("calm")}
    imds_unreachable_reported(failover, "calm")

    def replacements_first() -> None:
        # Before the Node goes: the opted-in Deployment moves on the taint, and every sidecar
        # of the other has seen the Node disrupted (and looked for a record of an interruption).
        failover.wait_state("eager", State.ON_FARGATE, timeout_s=90)
        wait_for(
            lambda: looked_for_a_record(failover, calm_pods) == calm_pods,
            30,
            "calm's sidecars to look for Karpenter's record",
        )

    karpenter.consolidate(failover.kube, node, replacements_first)

    eager = failover.annotations("eager")
    notice = json.loads(eager[contract.NOTICE])
    assert (notice["node"], notice["source"], notice["kind"]) == (node, "node/taint", "disruption")
    assert contract.STATE not in failover.annotations("calm")
    assert pod_writes(failover, resource=deployment_path(failover, "calm")) == []
