"""Which of the Deployment's pods the rollout should remove first: those on the doomed node.

The ReplicaSet controller scales down pods in this order: unassigned, Pending, not Ready, lower
``controller.kubernetes.io/pod-deletion-cost``, more pods on the same node, younger. Nothing in
it prefers the pods on an instance that is about to be reclaimed, so with a strategy that keeps
every pod available until its replacement is (``maxUnavailable: 0``), the rollout might remove
healthy pods elsewhere and leave the doomed ones running until the instance dies under them.
A move therefore gives the pods on the interrupted node the lowest deletion cost
(:data:`~spot_common.contract.DOOMED_POD_DELETION_COST`) before it changes the template, and takes
it away again if the move rolls back (the pods stay, the notice may have been withdrawn).

A pod that already carries another deletion cost keeps it: whoever set it manages it (and the
admission policy lets a sidecar change only its own value). Pure: pods in, names out.
"""

from __future__ import annotations

from collections.abc import Iterable

from sidecar.core import objects
from sidecar.core.objects import JSONObject
from spot_common import contract


def on_node(pods: Iterable[JSONObject], node: str) -> list[JSONObject]:
    """The pods bound to ``node`` that are not already being deleted."""
    return [
        pod
        for pod in pods
        if objects.text(objects.child(pod, "spec", ""), "nodeName", "spec") == node
        and objects.child(pod, "metadata", "").get("deletionTimestamp") is None
    ]


def to_mark(pods: Iterable[JSONObject], node: str) -> list[str]:
    """Names of the pods on ``node`` to give the doomed deletion cost (those without one)."""
    return [_name(pod) for pod in on_node(pods, node) if _cost(pod) is None]


def to_clear(pods: Iterable[JSONObject], node: str) -> list[str]:
    """Names of the pods on ``node`` that carry the deletion cost a move set."""
    return [
        _name(pod) for pod in on_node(pods, node) if _cost(pod) == contract.DOOMED_POD_DELETION_COST
    ]


def _cost(pod: JSONObject) -> str | None:
    metadata = objects.child(pod, "metadata", "")
    return objects.string_map(metadata, "annotations", "metadata").get(contract.POD_DELETION_COST)


def _name(pod: JSONObject) -> str:
    return objects.text(objects.child(pod, "metadata", ""), "name", "metadata", "") or ""
