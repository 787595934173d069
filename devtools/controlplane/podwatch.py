"""The pods of one namespace, kept current for the pod runner by a
:class:`~devtools.controlplane.watch.ResourceWatch` (list, then watch, relisting after a
dropped connection, 410 Gone or an API server restart)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

from kubernetes import client

from devtools.controlplane.podspec import Pod
from devtools.controlplane.watch import ResourceWatch


class PodWatch:
    """The pods of one namespace as JSON dicts, kept current by list-then-watch in a thread."""

    def __init__(
        self, api: client.ApiClient, namespace: str, on_change: Callable[[], None]
    ) -> None:
        self._on_change = on_change
        self._pods: dict[str, Pod] = {}
        self._lock = threading.Lock()
        self._watch = ResourceWatch(
            f"pod-watch-{namespace}",
            functools.partial(client.CoreV1Api(api).list_namespaced_pod, namespace),
            self._event,
            self._relisted,
        )

    def start(self, timeout_s: float) -> None:
        """Start watching; return once the first list has landed (TimeoutError if not)."""
        self._watch.start(timeout_s)

    def stop(self) -> None:
        """End the watch now, even mid-read, and join the thread."""
        self._watch.stop()

    def snapshot(self) -> dict[str, Pod]:
        with self._lock:
            return dict(self._pods)

    def _event(self, kind: str, pod: Pod) -> None:
        with self._lock:
            if kind == "DELETED":
                self._pods.pop(pod["metadata"]["name"], None)
            else:
                self._pods[pod["metadata"]["name"]] = pod
        self._on_change()

    def _relisted(self, keys: set[str]) -> None:
        """After a relist (whose pods came as ADDED): forget the pods it did not list."""
        names = {key.rpartition("/")[2] for key in keys}
        with self._lock:
            self._pods = {name: pod for name, pod in self._pods.items() if name in names}
        self._on_change()
