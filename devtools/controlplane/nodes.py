"""Fake nodes played by kwok, shaped as EKS shapes them.

Three shapes, because the add-on must tell them apart as it would on EKS:

* :func:`managed_spot_node`: a spot instance of an EKS managed node group
  (``eks.amazonaws.com/capacityType: SPOT``, ``eks.amazonaws.com/nodegroup``); the default;
* :func:`karpenter_spot_node`: a spot instance that Karpenter launched
  (``karpenter.sh/capacity-type: spot``, ``karpenter.sh/nodepool``, no node-group label). Its
  IMDS has a hop limit of 1 (see :mod:`devtools.eks.karpenter`);
* :func:`fargate_node`: the node EKS creates for one Fargate pod (``fargate-ip-...`` name,
  ``eks.amazonaws.com/compute-type: fargate`` label and NoSchedule taint, room for one pod).
  :mod:`devtools.eks.fargate_scheduler` creates and deletes these; nobody else should.

Every node carries ``kwok.x-k8s.io/node: fake``, so kwok plays its kubelet; nothing else does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final

from devtools.controlplane.cluster import KWOK_NODE_ANNOTATION

FARGATE_KEY: Final = "eks.amazonaws.com/compute-type"
"""Label and taint key of every EKS Fargate node (value ``fargate``)."""
REGION: Final = "us-east-1"
ZONE: Final = "us-east-1a"

MANAGED_CAPACITY_LABEL: Final = "eks.amazonaws.com/capacityType"
KARPENTER_CAPACITY_LABEL: Final = "karpenter.sh/capacity-type"
KARPENTER_NODEPOOL_LABEL: Final = "karpenter.sh/nodepool"
NODEGROUP_LABEL: Final = "eks.amazonaws.com/nodegroup"


class SpotShape(enum.StrEnum):
    """Who launched a spot node: an EKS managed node group, or Karpenter."""

    MANAGED = "managed"
    KARPENTER = "karpenter"


def _node(
    name: str,
    labels: Mapping[str, str],
    taints: list[dict[str, str]],
    resources: Mapping[str, str],
    zone: str = ZONE,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/region": REGION,
                "topology.kubernetes.io/zone": zone,
                "failure-domain.beta.kubernetes.io/region": REGION,
                "failure-domain.beta.kubernetes.io/zone": zone,
                "type": "kwok",
                **labels,
            },
        },
        "spec": {"taints": taints},
        "status": {
            "allocatable": dict(resources),
            "capacity": dict(resources),
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
            },
        },
    }


_EC2_RESOURCES: Final = {"cpu": "8", "memory": "32Gi", "pods": "110"}


def managed_spot_node(name: str, nodegroup: str = "spot") -> dict[str, Any]:
    """A spot instance of the EKS managed node group ``nodegroup``."""
    labels = {
        MANAGED_CAPACITY_LABEL: "SPOT",
        NODEGROUP_LABEL: nodegroup,
        "node.kubernetes.io/instance-type": "m5.large",
    }
    return _node(name, labels, [], _EC2_RESOURCES)


def karpenter_spot_node(name: str, nodepool: str = "default") -> dict[str, Any]:
    """A spot instance that Karpenter launched for ``nodepool``."""
    labels = {
        KARPENTER_CAPACITY_LABEL: "spot",
        KARPENTER_NODEPOOL_LABEL: nodepool,
        "karpenter.sh/initialized": "true",
        "karpenter.sh/registered": "true",
        "karpenter.k8s.aws/instance-category": "m",
        "node.kubernetes.io/instance-type": "m5.large",
    }
    return _node(name, labels, [], _EC2_RESOURCES)


def spot_node(name: str, shape: SpotShape = SpotShape.MANAGED) -> dict[str, Any]:
    """A spot node of ``shape`` (managed node group by default)."""
    if shape is SpotShape.KARPENTER:
        return karpenter_spot_node(name)
    return managed_spot_node(name)


def is_spot(node: Mapping[str, Any]) -> bool:
    """Whether ``node`` is spot capacity of either shape."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    return bool(
        labels.get(MANAGED_CAPACITY_LABEL) == "SPOT"
        or labels.get(KARPENTER_CAPACITY_LABEL) == "spot"
    )


def is_fargate(node: Mapping[str, Any]) -> bool:
    """Whether ``node`` is an EKS Fargate node (by its label, as the add-on tells)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(FARGATE_KEY) == "fargate")


def fargate_node_name(ip: str) -> str:
    """``fargate-ip-10-1-2-3.us-east-1.compute.internal`` for ``10.1.2.3``."""
    return f"fargate-ip-{ip.replace('.', '-')}.{REGION}.compute.internal"


def fargate_node(ip: str, zone: str = ZONE) -> dict[str, Any]:
    """The node EKS creates for one Fargate pod at ``ip``: its name, the compute-type label
    and NoSchedule taint, and room for exactly one pod."""
    taint = {"key": FARGATE_KEY, "value": "fargate", "effect": "NoSchedule"}
    resources = {"cpu": "2", "memory": "4Gi", "pods": "1"}
    node = _node(fargate_node_name(ip), {FARGATE_KEY: "fargate"}, [taint], resources, zone)
    node["status"]["addresses"] = [
        {"type": "InternalIP", "address": ip},
        {"type": "Hostname", "address": node["metadata"]["name"]},
    ]
    return node
