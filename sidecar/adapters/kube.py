"""The sidecar's only door to the Kubernetes API: the few calls it makes, as plain JSON.

Every call returns the API's JSON as dicts (``_preload_content=False``): the pure core works on
that form, and skipping the client's model classes saves time and memory on every read. Every
failure leaves as a typed error from :mod:`sidecar.adapters.errors`.

The calls, and so the RBAC the sidecar needs (the webhook provisions exactly this):
its Deployment (get, update), ReplicaSets and Pods of its namespace (list), its Lease (create,
get, update, watch), Events (create), and Nodes (get, list, watch).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config, watch

from sidecar.adapters.errors import ApiError, NotFound, translate
from sidecar.core.objects import JSONObject
from sidecar.core.times import format_micro_time

T = TypeVar("T")
JSON = dict[str, Any]

COMPONENT = "spot-failover"


def load_api_client() -> client.ApiClient:
    """In-cluster credentials (the pod's ServiceAccount token), else ``$KUBECONFIG``."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


class Kube:
    """The Kubernetes calls of one sidecar, scoped to its namespace and Deployment."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        deployment: str,
        *,
        timeout_s: float = 5.0,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        self.namespace = namespace
        self.deployment = deployment
        self.timeout_s = timeout_s
        self._core = client.CoreV1Api(api)
        self._apps = client.AppsV1Api(api)
        self._coordination = client.CoordinationV1Api(api)
        self._on_request = on_request or (lambda _verb: None)

    # --- plumbing ---------------------------------------------------------------------------

    def _call(self, operation: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> JSON:
        self._on_request(operation.split(" ", 1)[0])
        try:
            response = call(
                *args, _preload_content=False, _request_timeout=self.timeout_s, **kwargs
            )
            data: JSON = json.loads(response.data)
        except Exception as error:
            raise translate(error, operation) from error
        return data

    # --- the Deployment ---------------------------------------------------------------------

    def get_deployment(self) -> JSON:
        return self._call(
            f"get deployment {self.deployment}",
            self._apps.read_namespaced_deployment,
            self.deployment,
            self.namespace,
        )

    def replace_deployment(self, body: JSONObject) -> JSON:
        """PUT the whole Deployment; its ``resourceVersion`` makes the write conditional."""
        return self._call(
            f"replace deployment {self.deployment}",
            self._apps.replace_namespaced_deployment,
            self.deployment,
            self.namespace,
            dict(body),
        )

    def list_replica_sets(self, selector: str) -> list[JSON]:
        found = self._call(
            "list replicasets",
            self._apps.list_namespaced_replica_set,
            self.namespace,
            label_selector=selector,
        )
        return list(found.get("items") or [])

    def list_pods(self, selector: str) -> list[JSON]:
        found = self._call(
            "list pods", self._core.list_namespaced_pod, self.namespace, label_selector=selector
        )
        return list(found.get("items") or [])

    # --- the Lease --------------------------------------------------------------------------

    def get_lease(self, name: str) -> JSON | None:
        try:
            return self._call(
                f"get lease {name}",
                self._coordination.read_namespaced_lease,
                name,
                self.namespace,
            )
        except NotFound:
            return None

    def create_lease(
        self, name: str, spec: Mapping[str, Any], annotations: Mapping[str, str]
    ) -> JSON:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": name,
                "labels": {"app.kubernetes.io/managed-by": COMPONENT},
                "annotations": dict(annotations),
            },
            "spec": dict(spec),
        }
        return self._call(
            f"create lease {name}",
            self._coordination.create_namespaced_lease,
            self.namespace,
            body,
        )

    def replace_lease(
        self,
        name: str,
        spec: Mapping[str, Any],
        resource_version: str,
        annotations: Mapping[str, str],
    ) -> JSON:
        body = {
            "metadata": {
                "name": name,
                "resourceVersion": resource_version,
                "labels": {"app.kubernetes.io/managed-by": COMPONENT},
                "annotations": dict(annotations),
            },
            "spec": dict(spec),
        }
        return self._call(
            f"replace lease {name}",
            self._coordination.replace_namespaced_lease,
            name,
            self.namespace,
            body,
        )

    def watch_lease(
        self, name: str, resource_version: str | None, timeout_s: float, quiet_s: float
    ) -> Iterator[JSON]:
        """The Lease as it changes after ``resource_version`` (``None``: its current state
        first), until ``timeout_s`` or until no change came for ``quiet_s``."""
        yield from self._watch(
            f"watch lease {name}",
            self._coordination.list_namespaced_lease,
            self.namespace,
            field_selector=f"metadata.name={name}",
            resource_version=resource_version,
            timeout_seconds=max(1, int(timeout_s)),
            _request_timeout=(self.timeout_s, quiet_s),
        )

    # --- Nodes ------------------------------------------------------------------------------

    def get_node(self, name: str) -> JSON:
        return self._call(f"get node {name}", self._core.read_node, name)

    def list_nodes(self, selector: str) -> list[JSON]:
        found = self._call("list nodes", self._core.list_node, label_selector=selector)
        return list(found.get("items") or [])

    def watch_node(self, name: str, timeout_s: float) -> Iterator[JSON]:
        """The Node ``name``, its current state first, then as it changes, for ``timeout_s``."""
        yield from self._watch(
            f"watch node {name}",
            self._core.list_node,
            field_selector=f"metadata.name={name}",
            timeout_seconds=max(1, int(timeout_s)),
        )

    def _watch(
        self, operation: str, call: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Iterator[JSON]:
        """One watch request; it ends at the server's timeout, or quietly when the read timeout
        passes without an event."""
        self._on_request("watch")
        stream = watch.Watch()
        try:
            for event in stream.stream(call, *args, allow_watch_bookmarks=False, **kwargs):
                _raise_watch_error(operation, event)
                if event.get("type") == "DELETED":
                    continue
                yield dict(event["raw_object"])
        except ApiError:
            raise
        except urllib3.exceptions.ReadTimeoutError:
            return  # nothing changed for the whole read timeout: the caller decides what that means
        except Exception as error:
            raise translate(error, operation) from error
        finally:
            stream.stop()

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
        self._call("create event", self._core.create_namespaced_event, self.namespace, body)


def _raise_watch_error(operation: str, event: Mapping[str, Any]) -> None:
    """A watch delivers failures (e.g. 410 Gone) as ERROR events carrying a Status."""
    if event.get("type") != "ERROR":
        return
    raw = event.get("raw_object") or {}
    status = int(raw.get("code") or 0)
    message = str(raw.get("message", ""))[:300]
    raise ApiError(operation, f"watch error {status}: {message}", status)
