"""The Node as a signal source: deletion and interruption taints, read purely."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sidecar.core import node_signal
from sidecar.core.signals import Kind, Source

NOW = datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)
TAINTS = frozenset(
    {
        "aws-node-termination-handler/spot-itn",
        "karpenter.sh/disrupted",
        "aws-node-termination-handler/rebalance-recommendation",
    }
)


def _node(**metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": "spot-0", **metadata}, "spec": {}, "status": {}}


def test_a_plain_node_shows_no_interruption() -> None:
    assert node_signal.interruption(_node(), TAINTS, NOW) is None


def test_a_node_being_deleted_is_an_interruption() -> None:
    signal = node_signal.interruption(_node(deletionTimestamp="2026-01-02T15:05:00Z"), TAINTS, NOW)

    assert signal is not None
    assert (signal.source, signal.kind, signal.node) == (
        Source.NODE_DELETION,
        Kind.INTERRUPTION,
        "spot-0",
    )


def test_the_karpenter_disruption_taint_is_an_interruption() -> None:
    node = _node()
    node["spec"]["taints"] = [{"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}]

    signal = node_signal.interruption(node, TAINTS, NOW)

    assert signal is not None
    assert (signal.source, signal.kind) == (Source.NODE_TAINT, Kind.INTERRUPTION)


def test_a_rebalance_taint_is_only_a_recommendation() -> None:
    node = _node()
    node["spec"]["taints"] = [
        {"key": "aws-node-termination-handler/rebalance-recommendation", "effect": "NoSchedule"}
    ]

    signal = node_signal.interruption(node, TAINTS, NOW)

    assert signal is not None
    assert signal.kind is Kind.REBALANCE


def test_unknown_taints_are_ignored() -> None:
    node = _node()
    node["spec"]["taints"] = [{"key": "dedicated", "effect": "NoSchedule"}]

    assert node_signal.interruption(node, TAINTS, NOW) is None


def test_fargate_nodes_are_recognised_by_their_label() -> None:
    fargate = _node(labels={"eks.amazonaws.com/compute-type": "fargate"})

    assert node_signal.is_fargate(fargate)
    assert not node_signal.is_fargate(_node())


def test_spot_capacity_needs_a_ready_schedulable_node() -> None:
    ready = _node()
    ready["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    cordoned = _node()
    cordoned["spec"]["unschedulable"] = True
    cordoned["status"]["conditions"] = [{"type": "Ready", "status": "True"}]

    assert node_signal.schedulable_and_ready(ready)
    assert not node_signal.schedulable_and_ready(cordoned)
    assert not node_signal.schedulable_and_ready(_node())
