"""Fake nodes played by kwok: spot nodes as EKS managed node groups and Karpenter label them,
and Fargate nodes as EKS names, labels and taints them."""

from __future__ import annotations

from typing import Any

from devtools.controlplane.cluster import KWOK_NODE_ANNOTATION

FARGATE_KEY = "eks.amazonaws.com/compute-type"
"""Label and taint key of every EKS Fargate node (value ``fargate``)."""

SPOT_LABELS = {
    "eks.amazonaws.com/capacityType": "SPOT",
    "karpenter.sh/capacity-type": "spot",
    "node.kubernetes.io/instance-type": "m5.large",
}


def _node(name: str, labels: dict[str, str], taints: list[dict[str, str]]) -> dict[str, Any]:
    resources = {"cpu": "8", "memory": "32Gi", "pods": "110"}
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
                "topology.kubernetes.io/zone": "us-east-1a",
                "type": "kwok",
                **labels,
            },
        },
        "spec": {"taints": taints},
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
            },
        },
    }


def spot_node(name: str) -> dict[str, Any]:
    """A spot node with both the managed-node-group and the Karpenter capacity label."""
    return _node(name, dict(SPOT_LABELS), [])


def fargate_node(name: str) -> dict[str, Any]:
    """A Fargate node: ``fargate-ip-...`` name, compute-type label and NoSchedule taint.

    Real Fargate runs one pod per node and creates the node for the pod; a pool of roomy fake
    Fargate nodes stands in for that here.
    """
    if not name.startswith("fargate-"):
        raise ValueError(f"Fargate node names start with 'fargate-', got {name!r}")
    taint = {"key": FARGATE_KEY, "value": "fargate", "effect": "NoSchedule"}
    return _node(name, {FARGATE_KEY: "fargate"}, [taint])
