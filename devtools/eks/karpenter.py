"""What Karpenter does to its nodes, for scenarios on Karpenter-shaped spot capacity.

Karpenter-launched nodes (:func:`devtools.controlplane.nodes.karpenter_spot_node`) differ from
a managed node group's in three ways that the add-on sees:

* labels: ``karpenter.sh/capacity-type: spot`` and ``karpenter.sh/nodepool``, no node group;
* IMDS: Karpenter's default EC2NodeClass sets ``httpPutResponseHopLimit: 1``, so from a pod the
  IMDSv2 token PUT never gets an answer (:func:`add_imds_node` sets that fault);
* disruption: Karpenter taints every node it disrupts with ``karpenter.sh/disrupted:NoSchedule``
  and records Events on the Node (in the ``default`` namespace, as Node Events are).

:func:`interrupt` plays Karpenter receiving a spot interruption: the taint and the Warning
Events ``SpotInterrupted`` and ``TerminatingOnInterruption``; the node itself is deleted at
the deadline by :class:`~devtools.eks.reclaim.Reclaimer` (its instance is gone then).
:func:`consolidate` plays a voluntary disruption (consolidation): the taint and the Normal
Event ``DisruptionTerminating``, replacements first (the caller's ``replace`` step, e.g. new
nodes), then the Node's deletion. Pods are not drained here: the scenario decides what the
workload does, and the Node's deletion leaves its pods to the pod garbage collector.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final

from kubernetes.client.rest import ApiException

from devtools.controlplane.kube import Kube
from devtools.imds import FaultKind, ImdsSimulator

DISRUPTED_TAINT: Final = {"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}
REPORTER: Final = "karpenter"
SPOT_INTERRUPTED: Final = ("SpotInterrupted", "Spot interruption warning was triggered")
TERMINATING_ON_INTERRUPTION: Final = (
    "TerminatingOnInterruption",
    "Interruption triggered termination for the Node",
)


def add_imds_node(imds: ImdsSimulator, node: str) -> None:
    """IMDS of a Karpenter node as a pod sees it: hop limit 1, the token PUT never answers."""
    imds.add_node(node)
    imds.set_fault(node, FaultKind.HANG_TOKEN)


def taint_disrupted(kube: Kube, node: str) -> None:
    """Add ``karpenter.sh/disrupted:NoSchedule`` to the Node (once; a conditional write,
    retried when the Node changed meanwhile, since taints are one list)."""
    for _ in range(20):
        current = kube.core.read_node(node)
        taints = [kube.api.sanitize_for_serialization(t) for t in current.spec.taints or []]
        if any(t.get("key") == DISRUPTED_TAINT["key"] for t in taints):
            return
        patch = {
            "metadata": {"resourceVersion": current.metadata.resource_version},
            "spec": {"taints": [*taints, dict(DISRUPTED_TAINT)]},
        }
        try:
            kube.core.patch_node(node, patch)
        except ApiException as error:
            if error.status != 409:
                raise
        else:
            return
    raise RuntimeError(f"could not taint {node}: it kept changing")


def node_event(kube: Kube, node: str, kind: str, reason: str, message: str) -> None:
    """An Event about the Node, from Karpenter, in ``default`` (where Node Events live)."""
    uid = kube.core.read_node(node).metadata.uid
    now = dt.datetime.now(dt.UTC)
    kube.core.create_namespaced_event(
        "default",
        {
            "metadata": {"generateName": f"{node}."},
            "involvedObject": {"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid},
            "type": kind,
            "reason": reason,
            "message": message,
            "source": {"component": REPORTER},
            "reportingComponent": REPORTER,
            "reportingInstance": REPORTER,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        },
    )


def interrupt(kube: Kube, node: str) -> None:
    """Karpenter receiving a spot interruption for ``node``: taint, then Warning Events."""
    taint_disrupted(kube, node)
    for reason, message in (SPOT_INTERRUPTED, TERMINATING_ON_INTERRUPTION):
        node_event(kube, node, "Warning", reason, message)


def consolidate(
    kube: Kube,
    node: str,
    replace: Callable[[], object] | None = None,
    reason: str = "Underutilized",
) -> None:
    """Karpenter consolidating ``node``: taint and ``DisruptionTerminating`` Event, then
    ``replace()`` (replacements first), then the Node's deletion."""
    taint_disrupted(kube, node)
    node_event(kube, node, "Normal", "DisruptionTerminating", f"Disrupting Node: {reason}")
    if replace is not None:
        replace()
    try:
        kube.core.delete_node(node)
    except ApiException as error:
        if error.status != 404:
            raise
