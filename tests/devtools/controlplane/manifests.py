"""Pods and Deployments carrying the sidecar container, as the webhook would inject it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spot_common import contract

APP = {"name": "app", "image": "registry.example/app:1.0"}
METRICS_PORT = 9090


def field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def sidecar(extra_env: Sequence[dict[str, Any]] = (), *, native: bool = True) -> dict[str, Any]:
    """The sidecar container: downward-API env, a metrics port, args that reference the env."""
    container: dict[str, Any] = {
        "name": contract.SIDECAR_CONTAINER,
        "image": "registry.example/spot-failover:test",
        "args": ["--pod", "$(SPOT_FAILOVER_POD_NAME)"],
        "env": [
            field_env(contract.ENV_POD_NAME, "metadata.name"),
            field_env(contract.ENV_NAMESPACE, "metadata.namespace"),
            field_env(contract.ENV_NODE_NAME, "spec.nodeName"),
            field_env("POD_IP", "status.podIP"),
            field_env("POD_UID", "metadata.uid"),
            field_env("SERVICE_ACCOUNT", "spec.serviceAccountName"),
            field_env("APP_LABEL", "metadata.labels['app']"),
            {"name": contract.ENV_METRICS_PORT, "value": str(METRICS_PORT)},
            *extra_env,
        ],
    }
    if native:
        container["restartPolicy"] = "Always"
    return container


def pod(
    name: str,
    *,
    init_containers: Sequence[dict[str, Any]] = (),
    containers: Sequence[dict[str, Any]] = (APP,),
    node_selector: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "initContainers": list(init_containers),
        "containers": list(containers),
        "terminationGracePeriodSeconds": 5,
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"metadata": {"name": name, "labels": {"app": name}}, "spec": spec}


def sidecar_deployment(
    name: str, replicas: int, service_account: str | None = None
) -> dict[str, Any]:
    """A Deployment whose pods carry the native sidecar."""
    template = pod(name, init_containers=[sidecar()])
    if service_account:
        template["spec"]["serviceAccountName"] = service_account
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
        },
    }
