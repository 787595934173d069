"""The Node as a signal source, read purely: the node termination handler's interruption taint
is an interruption; Karpenter's disruption taint and the Node's deletion are a voluntary
disruption; the strongest wanted signal is the one the Node gives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sidecar.core import node_signal
from sidecar.core.node_signal import NodeTaints
from sidecar.core.signals import Kind, Source

NOW = datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)
TAINTS = NodeTaints(
    interruption=frozenset(
        {
            "aws-node-termination-handler/spot-itn",
            "aws-node-termination-handler/rebalance-recommendation",
        }
    ),
    disruption=frozenset({"karpenter.sh/disrupted"}),
)
EVERY_KIND = frozenset(Kind)
ITN = {"key": "aws-node-termination-handler/spot-itn", "effect": "NoSchedule"}
DISRUPTED = {"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}
REBALANCE = {"key": "aws-node-termination-handler/rebalance-recommendation", "effect": "NoSchedule"}


def _node(*taints: dict[str, str], **metadata: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "spot-0", "uid": "uid-1", **metadata},
        "spec": {"taints": list(taints)},
        "status": {},
    }


def _kinds(node: dict[str, Any]) -> list[tuple[Source, Kind]]:
    return [(s.source, s.kind) for s in node_signal.signals(node, TAINTS, NOW)]


def test_a_plain_node_shows_no_signal() -> None:
    assert node_signal.interruption(_node(), TAINTS, NOW, wanted=EVERY_KIND) is None


def test_the_termination_handler_s_interruption_taint_is_an_interruption() -> None:
    signal = node_signal.interruption(_node(ITN), TAINTS, NOW, wanted={Kind.INTERRUPTION})

    assert signal is not None
    assert (signal.source, signal.kind, signal.node) == (
        Source.NODE_TAINT,
        Kind.INTERRUPTION,
        "spot-0",
    )
    assert signal.detail == "taint aws-node-termination-handler/spot-itn:NoSchedule"


def test_karpenter_s_disruption_taint_is_a_voluntary_disruption_not_an_interruption() -> None:
    assert _kinds(_node(DISRUPTED)) == [(Source.NODE_TAINT, Kind.DISRUPTION)]
    assert (
        node_signal.interruption(_node(DISRUPTED), TAINTS, NOW, wanted={Kind.INTERRUPTION}) is None
    )


def test_a_node_being_deleted_is_a_voluntary_disruption_due_at_its_deletion() -> None:
    node = _node(deletionTimestamp="2026-01-02T15:05:00Z")

    signal = node_signal.interruption(node, TAINTS, NOW, wanted={Kind.DISRUPTION})

    assert signal is not None
    assert (signal.source, signal.kind) == (Source.NODE_DELETION, Kind.DISRUPTION)
    assert signal.deadline == datetime(2026, 1, 2, 15, 5, tzinfo=UTC)
    assert node_signal.interruption(node, TAINTS, NOW, wanted={Kind.INTERRUPTION}) is None


def test_a_rebalance_taint_is_only_a_recommendation() -> None:
    assert _kinds(_node(REBALANCE)) == [(Source.NODE_TAINT, Kind.REBALANCE)]


def test_the_strongest_wanted_signal_wins_whatever_the_order_of_the_taints() -> None:
    node = _node(REBALANCE, DISRUPTED, ITN, deletionTimestamp="2026-01-02T15:05:00Z")

    def kind(wanted: set[Kind]) -> Kind | None:
        signal = node_signal.interruption(node, TAINTS, NOW, wanted=wanted)
        return None if signal is None else signal.kind

    assert kind(set(Kind)) is Kind.INTERRUPTION
    assert kind({Kind.DISRUPTION, Kind.REBALANCE}) is Kind.DISRUPTION
    assert kind({Kind.REBALANCE}) is Kind.REBALANCE
    assert kind(set()) is None


def test_a_key_in_both_lists_is_an_interruption() -> None:
    both = NodeTaints(interruption=frozenset({"x/going"}), disruption=frozenset({"x/going"}))
    node = _node({"key": "x/going", "effect": "NoExecute"})

    assert [s.kind for s in node_signal.signals(node, both, NOW)] == [Kind.INTERRUPTION]


def test_unknown_taints_are_ignored() -> None:
    assert _kinds(_node({"key": "dedicated", "effect": "NoSchedule"})) == []


def test_a_node_is_disrupted_when_a_disruption_taint_is_on_it_or_it_is_being_deleted() -> None:
    assert node_signal.disrupted(_node(DISRUPTED), TAINTS)
    assert node_signal.disrupted(_node(deletionTimestamp="2026-01-02T15:05:00Z"), TAINTS)
    assert not node_signal.disrupted(_node(ITN), TAINTS)
    assert not node_signal.disrupted(_node(), TAINTS)


def test_the_node_s_uid_tells_its_instance() -> None:
    assert node_signal.uid(_node()) == "uid-1"


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
