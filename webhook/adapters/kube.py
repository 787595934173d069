"""The webhook's Kubernetes API calls (other than kopf's watches), each one typed and bounded.

Every call goes through :meth:`Kube._call`, which maps failures onto
:mod:`spot_common.api_errors` (:mod:`webhook.adapters.errors`) and counts the request. Calls are
synchronous (the ``kubernetes`` client); async callers run them with ``asyncio.to_thread`` so
the event loop that answers admission reviews never blocks. Objects come back as plain JSON
dicts (``_preload_content=False``): cheaper than the client's models, and the core works on
JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

from kubernetes import client, config

from spot_common.api_errors import Conflict, NotFound
from webhook.adapters.errors import from_client_error

log = logging.getLogger(__name__)

FIELD_MANAGER: Final = "spot-failover-webhook"
APPLY_PATCH: Final = "application/apply-patch+yaml"
WRITE_TIMEOUT_S: Final = 10.0
"""Seconds for one controller-side request (RBAC, Events); off the admission path."""

T = TypeVar("T")
JSON = dict[str, Any]


def load_api_client(kubeconfig: Path | None) -> client.ApiClient:
    """The pod's ServiceAccount (token re-read as it rotates), or ``kubeconfig`` if given."""
    configuration = client.Configuration()
    if kubeconfig is None:
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


class Kube:
    """Typed access to the few objects the webhook reads and writes."""

    def __init__(self, api: client.ApiClient, on_request: Callable[[], None] | None = None) -> None:
        self.api = api
        self._core = client.CoreV1Api(api)
        self._apps = client.AppsV1Api(api)
        self._rbac = client.RbacAuthorizationV1Api(api)
        self._coordination = client.CoordinationV1Api(api)
        self._on_request = on_request

    def _call(self, operation: str, call: Callable[[], T]) -> T:
        if self._on_request is not None:
            self._on_request()
        try:
            return call()
        except Exception as error:  # mapped in one place, re-raised typed
            raise from_client_error(operation, error) from error

    def _json(self, operation: str, call: Callable[[], Any]) -> JSON:
        response = self._call(operation, call)
        try:
            body = json.loads(response.data)
        except (AttributeError, ValueError) as error:
            raise from_client_error(operation, error) from error
        if not isinstance(body, dict):
            raise from_client_error(operation, ValueError("the answer is not a JSON object"))
        return body

    # --- reads on the admission path (bounded by the caller's timeout) --------------------------

    def read_replicaset(self, namespace: str, name: str, timeout_s: float) -> JSON:
        return self._json(
            f"get ReplicaSet {namespace}/{name}",
            lambda: self._apps.read_namespaced_replica_set(
                name, namespace, _preload_content=False, _request_timeout=timeout_s
            ),
        )

    def read_deployment(self, namespace: str, name: str, timeout_s: float) -> JSON:
        return self._json(
            f"get Deployment {namespace}/{name}",
            lambda: self._apps.read_namespaced_deployment(
                name, namespace, _preload_content=False, _request_timeout=timeout_s
            ),
        )

    # --- controller side ------------------------------------------------------------------------

    def list_deployments(self, namespace: str) -> list[JSON]:
        body = self._json(
            f"list Deployments in {namespace}",
            lambda: self._apps.list_namespaced_deployment(
                namespace, _preload_content=False, _request_timeout=WRITE_TIMEOUT_S
            ),
        )
        return _items(body)

    def list_pods(self, namespace: str, label_selector: str) -> list[JSON]:
        """Pods matching a selector, from the API server's watch cache (``resourceVersion=0``)."""
        body = self._json(
            f"list pods in {namespace} ({label_selector})",
            lambda: self._core.list_namespaced_pod(
                namespace,
                label_selector=label_selector,
                resource_version="0",
                _preload_content=False,
                _request_timeout=WRITE_TIMEOUT_S,
            ),
        )
        return _items(body)

    def apply(self, manifest: Mapping[str, Any]) -> None:
        """Server-side apply of a Role, RoleBinding or ClusterRoleBinding, as our field manager."""
        kind = manifest["kind"]
        meta = manifest["metadata"]
        name, namespace = meta["name"], meta.get("namespace")
        common: dict[str, Any] = {
            "field_manager": FIELD_MANAGER,
            "force": True,
            "_content_type": APPLY_PATCH,
            "_request_timeout": WRITE_TIMEOUT_S,
        }
        body = dict(manifest)
        calls: dict[str, Callable[[], object]] = {
            "Role": lambda: self._rbac.patch_namespaced_role(name, namespace, body, **common),
            "RoleBinding": lambda: self._rbac.patch_namespaced_role_binding(
                name, namespace, body, **common
            ),
            "ClusterRoleBinding": lambda: self._rbac.patch_cluster_role_binding(
                name, body, **common
            ),
        }
        self._call(f"apply {kind} {_where(namespace, name)}", calls[kind])

    def create_lease(self, manifest: Mapping[str, Any]) -> bool:
        """Create a Lease; False if one of that name exists (it is never overwritten: its
        holder belongs to the sidecars)."""
        meta = manifest["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        try:
            self._call(
                f"create Lease {_where(namespace, name)}",
                lambda: self._coordination.create_namespaced_lease(
                    namespace, dict(manifest), _request_timeout=WRITE_TIMEOUT_S
                ),
            )
        except Conflict:
            return False
        return True

    def delete(self, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete a Role, RoleBinding or ClusterRoleBinding; False if it was already gone."""
        calls: dict[str, Callable[[], object]] = {
            "Role": lambda: self._rbac.delete_namespaced_role(
                name, namespace, _request_timeout=WRITE_TIMEOUT_S
            ),
            "RoleBinding": lambda: self._rbac.delete_namespaced_role_binding(
                name, namespace, _request_timeout=WRITE_TIMEOUT_S
            ),
            "ClusterRoleBinding": lambda: self._rbac.delete_cluster_role_binding(
                name, _request_timeout=WRITE_TIMEOUT_S
            ),
        }
        try:
            self._call(f"delete {kind} {_where(namespace, name)}", calls[kind])
        except NotFound:
            return False
        return True

    def list_managed(self, kind: str, label_selector: str) -> list[JSON]:
        """Leases, Roles, RoleBindings (all namespaces) or ClusterRoleBindings carrying
        ``label_selector``."""
        calls: dict[str, Callable[[], Any]] = {
            "Lease": lambda: self._coordination.list_lease_for_all_namespaces(
                label_selector=label_selector,
                _preload_content=False,
                _request_timeout=WRITE_TIMEOUT_S,
            ),
            "Role": lambda: self._rbac.list_role_for_all_namespaces(
                label_selector=label_selector,
                _preload_content=False,
                _request_timeout=WRITE_TIMEOUT_S,
            ),
            "RoleBinding": lambda: self._rbac.list_role_binding_for_all_namespaces(
                label_selector=label_selector,
                _preload_content=False,
                _request_timeout=WRITE_TIMEOUT_S,
            ),
            "ClusterRoleBinding": lambda: self._rbac.list_cluster_role_binding(
                label_selector=label_selector,
                _preload_content=False,
                _request_timeout=WRITE_TIMEOUT_S,
            ),
        }
        return _items(self._json(f"list {kind} ({label_selector})", calls[kind]))

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> bool:
        """Create a core/v1 Event; False if one of that name exists (another replica wrote it)."""
        try:
            self._call(
                f"create Event in {namespace}",
                lambda: self._core.create_namespaced_event(
                    namespace, dict(event), _request_timeout=WRITE_TIMEOUT_S
                ),
            )
        except Conflict:
            return False
        return True

    def close(self) -> None:
        self.api.close()


def _items(body: Mapping[str, Any]) -> list[JSON]:
    items = body.get("items")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _where(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name
