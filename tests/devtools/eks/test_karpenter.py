"""Karpenter-shaped spot nodes: their labels, their IMDS (hop limit 1), and what Karpenter
does to a node on an interruption and on a consolidation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from kubernetes.client.rest import ApiException

from devtools.controlplane.kube import Kube
from devtools.controlplane.nodes import SpotShape, is_spot
from devtools.eks import EksSimulator, karpenter
from devtools.imds import ImdsSimulator

pytestmark = pytest.mark.cluster


@pytest.fixture
def imds() -> Iterator[ImdsSimulator]:
    with ImdsSimulator() as simulator:
        yield simulator


@pytest.fixture
def node(eks: EksSimulator, imds: ImdsSimulator) -> Iterator[str]:
    name = f"karpenter-{uuid.uuid4().hex[:8]}"
    eks.add_spot_node(name, SpotShape.KARPENTER, imds)
    yield name
    eks.remove_node(name, imds)


def _node_events(kube: Kube, node: str) -> list[tuple[str, str, str, str]]:
    """Karpenter's Events about the Node (the controller manager records its own too)."""
    found = kube.core.list_namespaced_event(
        "default", field_selector=f"involvedObject.name={node},involvedObject.kind=Node"
    )
    return [
        (e.type, e.reason, e.message, e.source.component)
        for e in found.items
        if e.source.component == "karpenter"
    ]


def _taint_keys(kube: Kube, node: str) -> list[str]:
    return [t.key for t in kube.core.read_node(node).spec.taints or []]


def test_a_karpenter_node_is_labelled_as_karpenter_labels_it(kube: Kube, node: str) -> None:
    found = kube.api.sanitize_for_serialization(kube.core.read_node(node))
    labels = found["metadata"]["labels"]

    assert labels["karpenter.sh/capacity-type"] == "spot"
    assert labels["karpenter.sh/nodepool"] == "default"
    assert "eks.amazonaws.com/capacityType" not in labels
    assert "eks.amazonaws.com/nodegroup" not in labels
    assert is_spot(found)


def test_a_managed_node_group_node_carries_no_karpenter_label(kube: Kube) -> None:
    labels = kube.core.read_node("spot-0").metadata.labels

    assert labels["eks.amazonaws.com/capacityType"] == "SPOT"
    assert not [key for key in labels if key.startswith("karpenter.sh/")]


def test_a_karpenter_node_s_imds_never_answers_the_token_put(
    imds: ImdsSimulator, node: str
) -> None:
    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.Timeout):
        session.put(
            imds.base_url(node) + "/latest/api/token",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
            timeout=0.5,
        )


def test_an_interruption_taints_the_node_and_records_karpenter_s_events(
    kube: Kube, node: str
) -> None:
    karpenter.interrupt(kube, node)

    assert "karpenter.sh/disrupted" in _taint_keys(kube, node)
    assert sorted(_node_events(kube, node)) == [
        ("Warning", "SpotInterrupted", "Spot interruption warning was triggered", "karpenter"),
        (
            "Warning",
            "TerminatingOnInterruption",
            "Interruption triggered termination for the Node",
            "karpenter",
        ),
    ]


def test_a_consolidation_taints_records_replaces_first_then_deletes_the_node(
    kube: Kube, node: str
) -> None:
    seen_before_deletion: list[list[str]] = []

    def replace() -> None:
        seen_before_deletion.append(_taint_keys(kube, node))

    karpenter.consolidate(kube, node, replace)

    assert seen_before_deletion == [["karpenter.sh/disrupted"]]
    assert _node_events(kube, node) == [
        ("Normal", "DisruptionTerminating", "Disrupting Node: Underutilized", "karpenter")
    ]
    with pytest.raises(ApiException) as gone:
        kube.core.read_node(node)
    assert gone.value.status == 404
