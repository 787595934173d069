"""Small client helpers over the local cluster: apply manifests, wait on conditions, nodes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kubernetes import client, config, dynamic
from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.waiting import wait_for


def api_client(cluster: LocalCluster) -> client.ApiClient:
    """An admin ApiClient for ``cluster``."""
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


class Kube:
    """Admin access to the local cluster for tests, the demo and benchmarks."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.coordination = client.CoordinationV1Api(api)
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.storage = client.StorageV1Api(api)

    @functools.cached_property
    def dynamic(self) -> dynamic.DynamicClient:
        return dynamic.DynamicClient(self.api)

    def apply(self, manifests: Iterable[Mapping[str, Any]], namespace: str | None = None) -> None:
        """Create each object, or replace it if it exists (server-side apply as the admin)."""
        for manifest in manifests:
            resource = self.dynamic.resources.get(
                api_version=manifest["apiVersion"], kind=manifest["kind"]
            )
            ns = manifest.get("metadata", {}).get("namespace", namespace)
            resource.server_side_apply(
                body=dict(manifest),
                name=manifest["metadata"]["name"],
                namespace=ns if resource.namespaced else None,
                field_manager="local-cluster-harness",
                force_conflicts=True,
            )

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        self.core.create_namespace({"metadata": {"name": name, "labels": dict(labels or {})}})
        # The controller manager creates the default ServiceAccount; pods need it.
        wait_for(
            lambda: exists(lambda: self.core.read_namespaced_service_account("default", name)),
            30,
            f"the default ServiceAccount in {name}",
        )

    def delete_namespace(self, name: str) -> None:
        try:
            self.core.delete_namespace(name, propagation_policy="Background")
        except ApiException as error:
            if error.status != 404:
                raise


def exists(read: Callable[[], object]) -> bool:
    """Whether ``read()`` finds the object (a 404 says no; any other error is raised)."""
    try:
        read()
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True
