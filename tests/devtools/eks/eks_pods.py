"""Pods and reads shared by the EKS-simulator tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devtools.controlplane.kube import Kube
from devtools.controlplane.nodes import FARGATE_KEY
from devtools.controlplane.waiting import wait_for


def pod(
    name: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "registry.example/app:1.0",
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
    }
    return {
        "metadata": {
            "name": name,
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
        },
        "spec": {"containers": [container], **(spec or {})},
    }


def read(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return dict(kube.api.sanitize_for_serialization(kube.core.read_namespaced_pod(name, namespace)))


def ready(obj: Mapping[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_ready(kube: Kube, namespace: str, name: str, timeout_s: float = 60) -> dict[str, Any]:
    return wait_for(
        lambda: found if ready(found := read(kube, namespace, name)) else None,
        timeout_s,
        f"{name} to be Ready",
    )


def node_labels(kube: Kube, node: str) -> dict[str, str]:
    return dict(kube.core.read_node(node).metadata.labels or {})


def on_fargate(kube: Kube, node: str) -> bool:
    return node_labels(kube, node).get(FARGATE_KEY) == "fargate"


def events_about(kube: Kube, namespace: str, name: str) -> list[dict[str, Any]]:
    found = kube.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
    return [dict(kube.api.sanitize_for_serialization(e)) for e in found.items]
