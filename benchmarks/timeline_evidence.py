"""Gather the server-side evidence of a failover trial (the I/O half of the timeline).

* :class:`DeploymentWatch`: every version of the Deployment in order, from a watch that
  starts at a known resourceVersion (so the version before the first change is known too);
* :func:`audited_writes`: the successful updates of the Deployment from the API server's audit
  log, with the resourceVersion each one replaced;
* :func:`first_served`: when the IMDS simulator first answered a poll with the notice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from kubernetes import watch

from benchmarks.timeline_phases import Version, Write
from devtools.controlplane.kube import Kube
from devtools.imds import ImdsSimulator
from sidecar.core import rollout
from spot_common import contract
from spot_common.contract import State

INSTANCE_ACTION = "/latest/meta-data/spot/instance-action"


class WatchBrokenError(RuntimeError):
    """The watch lost events (the server said its resourceVersion is too old, or failed)."""


def version_of(deployment: Mapping[str, Any]) -> Version:
    """The parts of a Deployment (JSON, as the API returns it) that the timeline needs."""
    annotations = deployment["metadata"].get("annotations") or {}
    return Version(
        resource_version=str(deployment["metadata"]["resourceVersion"]),
        state=str(annotations.get(contract.STATE, State.WATCHING)),
        rolled_out=isinstance(rollout.status(dict(deployment)), rollout.Complete),
    )


class DeploymentWatch:
    """Records every version of one Deployment while the ``with`` block runs."""

    def __init__(self, kube: Kube, namespace: str, name: str) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name
        body = kube.api.sanitize_for_serialization(
            kube.apps.read_namespaced_deployment(name, namespace)
        )
        self.start = version_of(body)
        """The version the watch starts from: the one before the first recorded change."""
        self._versions: list[Version] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)

    def __enter__(self) -> DeploymentWatch:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType
    ) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def versions(self) -> list[Version]:
        """The versions seen so far, oldest first; raises if the watch broke."""
        with self._lock:
            if self._error is not None:
                raise WatchBrokenError(f"watch of {self.name} failed") from self._error
            return list(self._versions)

    def _run(self) -> None:
        last = self.start.resource_version
        try:
            while not self._stopping.is_set():
                for event in self._events(last):
                    with self._lock:
                        self._versions.append(version_of(event))
                    last = self._versions[-1].resource_version
        except BaseException as error:  # handed to the reader by versions()
            with self._lock:
                self._error = error

    def _events(self, since: str) -> Iterator[dict[str, Any]]:
        """Deployment bodies after ``since``; the server ends each watch after 2 s."""
        stream = watch.Watch().stream(
            self.kube.apps.list_namespaced_deployment,
            self.namespace,
            field_selector=f"metadata.name={self.name}",
            resource_version=since,
            timeout_seconds=2,
        )
        for event in stream:
            if event["type"] == "ERROR":
                raise WatchBrokenError(f"watch of {self.name}: {event['raw_object']}")
            if event["type"] == "MODIFIED":
                yield event["raw_object"]


def audited_writes(audit_log: Path, namespace: str, name: str) -> list[Write]:
    """Successful updates of the Deployment (object and status), oldest first."""
    found = []
    with audit_log.open() as lines:
        for line in lines:
            if name not in line:
                continue
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if (
                event.get("stage") == "ResponseComplete"
                and event.get("verb") == "update"
                and ref.get("resource") == "deployments"
                and ref.get("namespace") == namespace
                and ref.get("name") == name
                and (event.get("responseStatus") or {}).get("code") == 200
            ):
                found.append(
                    Write(
                        subresource=ref.get("subresource") or "",
                        replaced=str(ref.get("resourceVersion", "")),
                        time=datetime.fromisoformat(event["stageTimestamp"]),
                    )
                )
    return found


def first_served(imds: ImdsSimulator, node: str, since: datetime) -> datetime | None:
    """When IMDS first answered a poll of ``node`` with a notice, at or after ``since``."""
    for request in imds.requests(node, INSTANCE_ACTION):
        if request.status == 200 and request.time >= since:
            return request.time
    return None
