"""The sidecar's only door to the Kubernetes API: the few calls it makes, as plain JSON.

Every call returns the API's JSON as dicts: the pure core works on that form. Every failure
leaves as a typed error from :mod:`sidecar.adapters.errors`. The transport is
:mod:`sidecar.adapters.apiserver`.

The calls, and so the RBAC the sidecar needs (the webhook provisions exactly this): its
Deployment (get, update, watch), ReplicaSets and Pods of its namespace (list; pods also patch,
for their deletion cost), its Lease (get, update, watch), Events of its namespace (create),
Nodes (get, list, watch), the Events about its Node (list, watch, in ``default``), and what
a claim its pods mount is backed by (claims of its namespace, PersistentVolumes and
StorageClasses: get).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sidecar.adapters.apiserver import JSON, ApiServer
from sidecar.core import node_events
from sidecar.core.objects import JSONObject
from sidecar.core.times import format_micro_time
from spot_common import contract
from spot_common.api_errors import NotFound

__all__ = ["JSON", "Kube"]

COMPONENT = "spot-failover"
APPS = "/apis/apps/v1"
CORE = "/api/v1"
COORDINATION = "/apis/coordination.k8s.io/v1"
WATCH_SILENCE_MARGIN_S = 30.0
"""A watch silent this long past its server-side end is a dead connection: start another."""


class Kube:
    """The Kubernetes calls of one sidecar, scoped to its namespace and Deployment."""

    def __init__(self, api: ApiServer, namespace: str, deployment: str) -> None:
        self.api = api
        self.namespace = namespace
        self.deployment = deployment
        self._ns = f"/namespaces/{namespace}"

    def fork(self) -> Kube:
        """The same calls over a transport of their own, for another thread."""
        return Kube(self.api.fork(), self.namespace, self.deployment)

    # --- the Deployment ---------------------------------------------------------------------

    def _deployment_path(self) -> str:
        return f"{APPS}{self._ns}/deployments/{self.deployment}"

    def get_deployment(self) -> JSON:
        return self.api.request("GET", self._deployment_path(), f"get deployment {self.deployment}")

    def replace_deployment(self, body: JSONObject) -> JSON:
        """PUT the whole Deployment; its ``resourceVersion`` makes the write conditional."""
        return self.api.request(
            "PUT",
            self._deployment_path(),
            f"replace deployment {self.deployment}",
            body=dict(body),
        )

    def watch_deployment(
        self, resource_version: str | None, timeout_s: float, quiet_s: float | None = None
    ) -> Iterator[JSON]:
        """The Deployment as it changes after ``resource_version`` (``None``: its current state
        first), until ``timeout_s``, or until no change came for ``quiet_s``."""
        yield from self._watch_one(
            f"{APPS}{self._ns}/deployments",
            self.deployment,
            f"watch deployment {self.deployment}",
            resource_version,
            timeout_s=timeout_s,
            quiet_s=quiet_s,
        )

    def list_replica_sets(self, selector: str) -> list[JSON]:
        found = self.api.request(
            "GET",
            f"{APPS}{self._ns}/replicasets",
            "list replicasets",
            params={"labelSelector": selector},
        )
        return list(found.get("items") or [])

    def list_pods(self, selector: str) -> list[JSON]:
        found = self.api.request(
            "GET", f"{CORE}{self._ns}/pods", "list pods", params={"labelSelector": selector}
        )
        return list(found.get("items") or [])

    def annotate_pod(self, name: str, key: str, value: str | None) -> JSON:
        """Set (``None``: remove) one annotation of a pod, and nothing else (a merge patch)."""
        return self.api.request(
            "PATCH",
            f"{CORE}{self._ns}/pods/{name}",
            f"annotate pod {name}",
            body={"metadata": {"annotations": {key: value}}},
            content_type="application/merge-patch+json",
        )

    # --- the Lease --------------------------------------------------------------------------

    def _leases(self) -> str:
        return f"{COORDINATION}{self._ns}/leases"

    def get_lease(self, name: str) -> JSON | None:
        try:
            return self.api.request("GET", f"{self._leases()}/{name}", f"get lease {name}")
        except NotFound:
            return None

    def replace_lease(
        self,
        name: str,
        spec: Mapping[str, Any],
        resource_version: str,
        annotations: Mapping[str, str],
        kept: Mapping[str, Any],
    ) -> JSON:
        """Replace the Lease's spec, conditional on ``resource_version``, keeping the labels,
        annotations and owner of ``kept`` (its metadata as read) and adding ``annotations``."""
        kept_annotations = kept.get("annotations")
        metadata: dict[str, Any] = {
            **{key: kept[key] for key in ("labels", "ownerReferences") if key in kept},
            "name": name,
            "resourceVersion": resource_version,
            "annotations": {
                **(kept_annotations if isinstance(kept_annotations, Mapping) else {}),
                **annotations,
            },
        }
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": dict(spec),
        }
        return self.api.request(
            "PUT", f"{self._leases()}/{name}", f"replace lease {name}", body=body
        )

    def watch_lease(
        self, name: str, resource_version: str | None, timeout_s: float, quiet_s: float
    ) -> Iterator[JSON]:
        """The Lease as it changes after ``resource_version`` (``None``: its current state
        first), until ``timeout_s`` or until no change came for ``quiet_s``."""
        yield from self._watch_one(
            self._leases(),
            name,
            f"watch lease {name}",
            resource_version,
            timeout_s=timeout_s,
            quiet_s=quiet_s,
        )

    # --- what a claim is backed by -----------------------------------------------------------

    def get_claim(self, name: str) -> JSON | None:
        """The PersistentVolumeClaim ``name`` of this namespace; ``None`` if there is none."""
        return self._maybe(f"{CORE}{self._ns}/persistentvolumeclaims/{name}", f"get claim {name}")

    def get_volume(self, name: str) -> JSON | None:
        return self._maybe(f"{CORE}/persistentvolumes/{name}", f"get volume {name}")

    def get_storage_class(self, name: str) -> JSON | None:
        return self._maybe(
            f"/apis/storage.k8s.io/v1/storageclasses/{name}", f"get storage class {name}"
        )

    def _maybe(self, path: str, operation: str) -> JSON | None:
        try:
            return self.api.request("GET", path, operation)
        except NotFound:
            return None

    # --- Nodes ------------------------------------------------------------------------------

    def get_node(self, name: str) -> JSON:
        return self.api.request("GET", f"{CORE}/nodes/{name}", f"get node {name}")

    def list_nodes(self, selector: str) -> list[JSON]:
        found = self.api.request(
            "GET", f"{CORE}/nodes", "list nodes", params={"labelSelector": selector}
        )
        return list(found.get("items") or [])

    def watch_node(
        self, name: str, timeout_s: float, resource_version: str | None = None
    ) -> Iterator[JSON]:
        """The Node ``name`` as it changes after ``resource_version`` (``None``: its current
        state first), for ``timeout_s``."""
        yield from self._watch_one(
            f"{CORE}/nodes",
            name,
            f"watch node {name}",
            resource_version,
            timeout_s=timeout_s,
            quiet_s=timeout_s + WATCH_SILENCE_MARGIN_S,
        )

    def _watch_one(
        self,
        collection: str,
        name: str,
        operation: str,
        resource_version: str | None,
        *,
        timeout_s: float,
        quiet_s: float | None,
    ) -> Iterator[JSON]:
        """One watch of the object ``name`` in ``collection`` (by field selector, so RBAC can
        allow it by resource name)."""
        params = {
            "fieldSelector": f"metadata.name={name}",
            "timeoutSeconds": str(max(1, int(timeout_s))),
        }
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        yield from self._objects(
            self.api.watch(collection, operation, params=params, quiet_s=quiet_s)
        )

    @staticmethod
    def _objects(events: Iterator[JSON]) -> Iterator[JSON]:
        """The objects of a watch's ADDED and MODIFIED events."""
        for event in events:
            if event.get("type") in {"ADDED", "MODIFIED"}:
                yield dict(event.get("object") or {})

    # --- the Node's Events ------------------------------------------------------------------

    def _node_events(self) -> str:
        return f"{CORE}/namespaces/{contract.NODE_EVENTS_NAMESPACE}/events"

    def list_node_events(self, node: str) -> tuple[list[JSON], str | None]:
        """The Warning Events about Node ``node`` and the list's ``resourceVersion``."""
        found = self.api.request(
            "GET",
            self._node_events(),
            f"list events of node {node}",
            params={"fieldSelector": node_events.field_selector(node)},
        )
        metadata = found.get("metadata") or {}
        version = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
        return list(found.get("items") or []), version if isinstance(version, str) else None

    def watch_node_events(
        self, node: str, resource_version: str, timeout_s: float
    ) -> Iterator[JSON]:
        """The watch events (``{"type", "object"}``, bookmarks too) of the Warning Events about
        Node ``node`` after ``resource_version``, until ``timeout_s``."""
        params = {
            "fieldSelector": node_events.field_selector(node),
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(max(1, int(timeout_s))),
        }
        yield from self.api.watch(
            self._node_events(),
            f"watch events of node {node}",
            params=params,
            quiet_s=timeout_s + WATCH_SILENCE_MARGIN_S,
        )

    # --- Events -----------------------------------------------------------------------------

    def record_event(
        self,
        deployment: JSONObject,
        *,
        reason: str,
        message: str,
        warning: bool,
        reporter: str,
        now: datetime,
    ) -> None:
        """An Event on the Deployment, so ``kubectl describe`` tells the story."""
        metadata = deployment.get("metadata") or {}
        stamp = format_micro_time(now)
        body = {
            "metadata": {
                "name": f"{self.deployment}.{uuid.uuid4().hex[:12]}",
                "namespace": self.namespace,
            },
            "involvedObject": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": self.deployment,
                "namespace": self.namespace,
                "uid": metadata.get("uid"),
                "resourceVersion": metadata.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "firstTimestamp": stamp[:19] + "Z",
            "lastTimestamp": stamp[:19] + "Z",
            "eventTime": stamp,
            "count": 1,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": reporter,
            "action": reason,
        }
        self.api.request("POST", f"{CORE}{self._ns}/events", "create event", body=body)


def watch_deployments(
    api: ApiServer,
    namespace: str | None,
    resource_version: str | None,
    timeout_s: float,
    quiet_s: float | None = None,
) -> Iterator[JSON]:
    """The watch events (``{"type", "object"}``: ADDED, MODIFIED, DELETED, bookmarks) of every
    Deployment of ``namespace`` (``None``: of the cluster) after ``resource_version`` (``None``:
    every Deployment as it is first, as ADDED), until ``timeout_s``: the warden's one watch."""
    scope = "" if namespace is None else f"/namespaces/{namespace}"
    params = {"timeoutSeconds": str(max(1, int(timeout_s))), "allowWatchBookmarks": "true"}
    if resource_version is not None:
        params["resourceVersion"] = resource_version
    yield from api.watch(
        f"{APPS}{scope}/deployments",
        f"watch deployments{'' if namespace is None else ' of ' + namespace}",
        params=params,
        quiet_s=quiet_s,
    )
