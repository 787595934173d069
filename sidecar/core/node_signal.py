"""What this sidecar's own Node object says about its fate, as a pure reading.

For clusters where IMDS is unreachable (hop limit 1, or Fargate) the Node is the other signal
source: the node termination handler and Karpenter taint a node they are about to reclaim, and
a node being deleted carries a ``deletionTimestamp``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sidecar.core import objects
from sidecar.core.objects import JSONObject
from sidecar.core.signals import Interruption, Kind, Source
from sidecar.core.times import parse_time, require_utc

FARGATE_LABEL = "eks.amazonaws.com/compute-type"
"""Label (and taint) key of EKS Fargate nodes, value ``fargate``."""

_REBALANCE_MARK = "rebalance"
"""A taint key containing this word recommends moving; it is not a notice."""


def interruption(
    node: JSONObject, taint_keys: frozenset[str], now: datetime
) -> Interruption | None:
    """The interruption the Node shows, if any: deletion first, then an interruption taint."""
    now = require_utc(now, "now")
    metadata = objects.child(node, "metadata", "node")
    name = objects.text(metadata, "name", "node.metadata") or "?"
    deleted = objects.text(metadata, "deletionTimestamp", "node.metadata")
    if deleted is not None:
        return Interruption(
            node=name,
            source=Source.NODE_DELETION,
            kind=Kind.INTERRUPTION,
            seen_at=now,
            deadline=parse_time(deleted),
            detail=f"node {name} is being deleted",
        )
    spec = objects.child(node, "spec", "node")
    for index, taint in enumerate(objects.items(spec, "taints", "node.spec")):
        key = objects.text(taint, "key", f"node.spec.taints[{index}]", "")
        if key in taint_keys:
            kind = Kind.REBALANCE if _REBALANCE_MARK in key else Kind.INTERRUPTION
            effect = objects.text(taint, "effect", f"node.spec.taints[{index}]", "")
            return Interruption(
                node=name,
                source=Source.NODE_TAINT,
                kind=kind,
                seen_at=now,
                detail=f"taint {key}:{effect}",
            )
    return None


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
