"""What this sidecar's own Node object says about its fate, as a pure reading.

For clusters where IMDS is unreachable (hop limit 1, or Fargate) the Node is the other signal
source. Not everything that removes a node is a spot interruption, and only an interruption
leaves two minutes at most:

* the node termination handler taints a node it has an interruption notice for
  (``aws-node-termination-handler/spot-itn``; a rebalance recommendation has a taint of its
  own): an **interruption** (or a rebalance);
* Karpenter taints *every* node it disrupts with ``karpenter.sh/disrupted`` — consolidation,
  drift, expiry and node repair as well as a spot interruption — and a Node being deleted
  carries a ``deletionTimestamp`` whoever deletes it. Either alone is a **voluntary
  disruption** (replacements start first, drains honour PodDisruptionBudgets); Karpenter
  records a spot interruption as Events on the Node, which :mod:`sidecar.core.node_events`
  reads.

Which taint keys mean which is the sidecar's settings' (:class:`NodeTaints`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime
from typing import Final

from sidecar.core import objects
from sidecar.core.objects import JSONObject
from sidecar.core.signals import Interruption, Kind, Source, strongest
from sidecar.core.times import parse_time, require_utc

FARGATE_LABEL = "eks.amazonaws.com/compute-type"
"""Label (and taint) key of EKS Fargate nodes, value ``fargate``."""

_REBALANCE_MARK = "rebalance"
"""A taint key containing this word recommends moving; it is not a notice."""


@dataclasses.dataclass(frozen=True, slots=True)
class NodeTaints:
    """Which taint keys say what (a key in both lists is an interruption)."""

    interruption: frozenset[str]
    """The node is being reclaimed (a key containing ``rebalance``: it is recommended to move)."""
    disruption: frozenset[str] = frozenset()
    """The node is being removed, for whatever reason: a voluntary disruption unless an
    interruption is recorded."""


def interruption(
    node: JSONObject, taints: NodeTaints, now: datetime, *, wanted: Collection[Kind] = tuple(Kind)
) -> Interruption | None:
    """The strongest signal of a kind in ``wanted`` that the Node shows, if any
    (:data:`~sidecar.core.signals.STRENGTH`): an interruption taint, a voluntary disruption
    (a disruption taint, or the deletion), a rebalance taint."""
    return strongest(signals(node, taints, now), wanted)


def signals(node: JSONObject, taints: NodeTaints, now: datetime) -> list[Interruption]:
    """Every signal the Node shows, in the order of its taints, the deletion last."""
    now = require_utc(now, "now")
    metadata = objects.child(node, "metadata", "node")
    name = objects.text(metadata, "name", "node.metadata") or "?"
    found: list[Interruption] = []
    spec = objects.child(node, "spec", "node")
    for index, taint in enumerate(objects.items(spec, "taints", "node.spec")):
        key = objects.text(taint, "key", f"node.spec.taints[{index}]", "") or ""
        effect = objects.text(taint, "effect", f"node.spec.taints[{index}]", "")
        if key in taints.interruption:
            kind = Kind.REBALANCE if _REBALANCE_MARK in key else Kind.INTERRUPTION
        elif key in taints.disruption:
            kind = Kind.DISRUPTION
        else:
            continue
        found.append(
            Interruption(name, Source.NODE_TAINT, kind, now, detail=f"taint {key}:{effect}")
        )
    deleted = objects.text(metadata, "deletionTimestamp", "node.metadata")
    if deleted is not None:
        found.append(
            Interruption(
                node=name,
                source=Source.NODE_DELETION,
                kind=Kind.DISRUPTION,
                seen_at=now,
                deadline=parse_time(deleted),
                detail=f"node {name} is being deleted",
            )
        )
    return found


def disrupted(node: JSONObject, taints: NodeTaints) -> bool:
    """Whether the Node is being removed (a disruption taint, or its deletion): the moment to
    look for a recorded interruption (:mod:`sidecar.core.node_events`)."""
    metadata = objects.child(node, "metadata", "node")
    if objects.text(metadata, "deletionTimestamp", "node.metadata") is not None:
        return True
    spec = objects.child(node, "spec", "node")
    return any(
        objects.text(taint, "key", f"node.spec.taints[{index}]", "") in taints.disruption
        for index, taint in enumerate(objects.items(spec, "taints", "node.spec"))
    )


def uid(node: JSONObject) -> str | None:
    """The Node's uid: which instance's Node it is (names come back with new instances)."""
    return objects.text(objects.child(node, "metadata", "node"), "uid", "node.metadata")


def is_fargate(node: JSONObject) -> bool:
    """Whether the Node is an EKS Fargate node (no IMDS there)."""
    metadata = objects.child(node, "metadata", "node")
    return objects.string_map(metadata, "labels", "node.metadata").get(FARGATE_LABEL) == "fargate"


FARGATE_NODE_PREFIX = "fargate-"
"""EKS names every Fargate node ``fargate-ip-…`` (one node per pod)."""


def fargate_by_name(node_name: str) -> bool:
    """Whether a node name is a Fargate node's, known before any read of the Node."""
    return node_name.startswith(FARGATE_NODE_PREFIX)


NOT_CAPACITY_TAINT_PREFIXES: Final = (
    "karpenter.sh/",
    "aws-node-termination-handler/",
    "node.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
    "ToBeDeletedByClusterAutoscaler",
)
"""Taint keys (by prefix) of a node that is going away or not working: Karpenter's
``karpenter.sh/disrupted`` (and ``karpenter.sh/unregistered`` before a node has joined), the node
termination handler's, the node lifecycle's ``node.kubernetes.io/*`` (``not-ready``,
``unreachable``, ``unschedulable``, ``out-of-service``, the pressure taints), the cloud
provider's ``node.cloudprovider.kubernetes.io/shutdown``, and the cluster autoscaler's."""


def capacity(node: JSONObject, going_taints: frozenset[str] = frozenset()) -> bool:
    """Whether the node is spot capacity a move back can land on: Ready, not cordoned, not being
    deleted, and without a taint of a node that is going away (:data:`NOT_CAPACITY_TAINT_PREFIXES`,
    or any key in ``going_taints``: the interruption taints the sidecar is told of)."""
    return not not_capacity_because(node, going_taints)


def not_capacity_because(node: JSONObject, going_taints: frozenset[str] = frozenset()) -> str:
    """Why the node is not capacity (``""``: it is): the first reason found."""
    metadata = objects.child(node, "metadata", "node")
    if objects.text(metadata, "deletionTimestamp", "node.metadata") is not None:
        return "being deleted"
    spec = objects.child(node, "spec", "node")
    if objects.flag(spec, "unschedulable", "node.spec"):
        return "cordoned"
    for index, taint in enumerate(objects.items(spec, "taints", "node.spec")):
        key = objects.text(taint, "key", f"node.spec.taints[{index}]", "") or ""
        if key in going_taints or key.startswith(NOT_CAPACITY_TAINT_PREFIXES):
            return f"tainted {key}"
    status = objects.child(node, "status", "node")
    for index, condition in enumerate(objects.items(status, "conditions", "node.status")):
        where = f"node.status.conditions[{index}]"
        if objects.text(condition, "type", where) == "Ready":
            ready = objects.text(condition, "status", where) == "True"
            return "" if ready else "not Ready"
    return "not Ready"
