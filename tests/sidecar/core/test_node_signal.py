"""The Node as a signal source: deletion and interruption taints, read purely."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

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


def _ready(**metadata: Any) -> dict[str, Any]:
    node = _node(**metadata)
    node["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    return node


def test_a_ready_schedulable_node_is_capacity() -> None:
    assert node_signal.capacity(_ready())
    assert node_signal.not_capacity_because(_ready()) == ""


@pytest.mark.parametrize(
    ("change", "because"),
    [
        (lambda n: n["spec"].update(unschedulable=True), "cordoned"),
        (lambda n: n["status"].update(conditions=[]), "not Ready"),
        (
            lambda n: n["status"].update(conditions=[{"type": "Ready", "status": "False"}]),
            "not Ready",
        ),
        (
            lambda n: n["status"].update(conditions=[{"type": "Ready", "status": "Unknown"}]),
            "not Ready",
        ),
        (lambda n: n["metadata"].update(deletionTimestamp="2026-01-02T15:05:00Z"), "being deleted"),
        (
            lambda n: n["spec"].update(
                taints=[{"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}]
            ),
            "tainted karpenter.sh/disrupted",
        ),
        (
            lambda n: n["spec"].update(
                taints=[{"key": "karpenter.sh/unregistered", "effect": "NoExecute"}]
            ),
            "tainted karpenter.sh/unregistered",
        ),
        (
            lambda n: n["spec"].update(
                taints=[{"key": "aws-node-termination-handler/spot-itn", "effect": "NoSchedule"}]
            ),
            "tainted aws-node-termination-handler/spot-itn",
        ),
        (
            lambda n: n["spec"].update(
                taints=[
                    {
                        "key": "aws-node-termination-handler/scheduled-maintenance",
                        "effect": "NoSchedule",
                    }
                ]
            ),
            "tainted aws-node-termination-handler/scheduled-maintenance",
        ),
        (
            lambda n: n["spec"].update(
                taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
            ),
            "tainted node.kubernetes.io/not-ready",
        ),
        (
            lambda n: n["spec"].update(
                taints=[{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]
            ),
            "tainted node.kubernetes.io/out-of-service",
        ),
        (
            lambda n: n["spec"].update(
                taints=[{"key": "ToBeDeletedByClusterAutoscaler", "effect": "NoSchedule"}]
            ),
            "tainted ToBeDeletedByClusterAutoscaler",
        ),
    ],
    ids=[
        "cordoned",
        "no-ready-condition",
        "not-ready",
        "ready-unknown",
        "being-deleted",
        "karpenter-disrupted",
        "karpenter-unregistered",
        "nth-interruption",
        "nth-maintenance",
        "node-not-ready-taint",
        "out-of-service",
        "cluster-autoscaler-scale-down",
    ],
)
def test_a_node_that_is_going_away_or_not_working_is_not_capacity(
    change: Callable[[dict[str, Any]], object], because: str
) -> None:
    node = _ready()
    change(node)

    assert not node_signal.capacity(node)
    assert node_signal.not_capacity_because(node) == because


def test_a_taint_the_sidecar_is_told_of_as_an_interruption_is_not_capacity_either() -> None:
    node = _ready()
    node["spec"]["taints"] = [{"key": "example.com/going", "effect": "NoSchedule"}]

    assert node_signal.capacity(node)
    assert not node_signal.capacity(node, frozenset({"example.com/going"}))


def test_a_users_own_taint_leaves_a_node_capacity() -> None:
    node = _ready()
    node["spec"]["taints"] = [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]

    assert node_signal.capacity(node)
