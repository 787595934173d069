"""A watch of one Deployment's pods that records every change as a :class:`Sighting`.

Times are seconds on the monotonic clock since an origin the trial sets when it posts the
notice (:meth:`PodSightings.set_origin`); sightings before it are negative, so the state at the
notice is known. A relist after a dropped watch replays every pod as it is then, and marks the
pods it no longer lists as gone.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from benchmarks.reclaim_replicas import Sighting
from devtools.controlplane.kube import Kube
from devtools.controlplane.watch import ResourceWatch, object_key


def _ready(pod: dict[str, Any]) -> bool:
    if "deletionTimestamp" in pod["metadata"]:
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class PodSightings:
    """Records the pods of ``namespace`` that match ``selector``, while in its context."""

    def __init__(self, kube: Kube, namespace: str, selector: str) -> None:
        self._lock = threading.Lock()
        self._origin = time.monotonic()
        self._sightings: list[Sighting] = []
        self._known: set[str] = set()
        self._watch = ResourceWatch(
            f"reclaim-pods-{namespace}",
            functools.partial(kube.core.list_namespaced_pod, namespace, label_selector=selector),
            self._on_event,
            self._on_relist,
        )

    def __enter__(self) -> PodSightings:
        self._watch.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._watch.stop()

    def set_origin(self, origin: float) -> None:
        """Count from ``origin`` (a ``time.monotonic()`` reading): the notice."""
        with self._lock:
            shift = self._origin - origin
            self._origin = origin
            self._sightings = [
                Sighting(s.at + shift, s.pod, s.node, s.ready, s.exists) for s in self._sightings
            ]

    def now(self) -> float:
        with self._lock:
            return time.monotonic() - self._origin

    def sightings(self) -> list[Sighting]:
        with self._lock:
            return list(self._sightings)

    def _record(self, pod: str, node: str | None, ready: bool, exists: bool) -> None:
        with self._lock:
            at = time.monotonic() - self._origin
            self._sightings.append(Sighting(at, pod, node, ready, exists))
            if exists:
                self._known.add(pod)
            else:
                self._known.discard(pod)

    def _on_event(self, kind: str, pod: dict[str, Any]) -> None:
        name = object_key(pod)
        node = (pod.get("spec") or {}).get("nodeName")
        self._record(name, node, _ready(pod) and kind != "DELETED", kind != "DELETED")

    def _on_relist(self, listed: set[str]) -> None:
        with self._lock:
            vanished = self._known - listed
        for name in vanished:
            self._record(name, None, ready=False, exists=False)
