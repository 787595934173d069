"""List-then-watch of one kind of object in a thread, surviving API-server restarts.

devtools' one watch-with-reconnect: the simulators of :mod:`devtools.eks`, the pod runner
(:mod:`devtools.controlplane.podrunner`) and the reclaim benchmark react to objects as
controllers do: a list, then a watch from its resourceVersion; on a dropped connection or an
expired version (410 Gone) the watch relists and goes on, after a short capped backoff. Each
event reaches ``on_event`` as ``("ADDED" | "MODIFIED" | "DELETED", object)``; a relist replays
every listed object as ``"ADDED"`` and calls ``on_relist`` with the keys listed
(:func:`object_key`), so a handler can forget the others.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes.client.rest import ApiException

log = logging.getLogger(__name__)

WATCH_TIMEOUT_S = 240
ListCall = Callable[..., Any]
"""A client list method with its selectors bound, e.g. ``partial(core.list_node, ...)``."""
Handler = Callable[[str, dict[str, Any]], None]


def describe(error: BaseException) -> str:
    """One short line for a log field; API errors without their headers and body."""
    if isinstance(error, ApiException):
        return f"API error {error.status} {error.reason}"
    return f"{type(error).__name__}: {error}"[:300]


def object_key(obj: dict[str, Any]) -> str:
    """``namespace/name``, or ``name`` for cluster-scoped objects."""
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])


class ResourceWatch:
    """Calls ``on_event`` for every change of what ``list_call`` lists, until :meth:`stop`."""

    def __init__(
        self,
        name: str,
        list_call: ListCall,
        on_event: Handler,
        on_relist: Callable[[set[str]], None] | None = None,
    ) -> None:
        self._list, self._on_event, self._on_relist = list_call, on_event, on_relist
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None
        self.synced = threading.Event()
        """Set once the first list has been handled."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self, timeout_s: float = 30.0) -> None:
        self._thread.start()
        if not self.synced.wait(timeout_s):
            self.stop()
            raise TimeoutError(f"{self._thread.name}: no first list in {timeout_s:.0f}s")

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            if self._response is not None:
                with contextlib.suppress(Exception):
                    self._response.shutdown()
        if self._thread.ident is not None:
            self._thread.join()

    def _run(self) -> None:
        delay = 0.25
        version: str | None = None
        while not self._stopping.is_set():
            try:
                if version is None:
                    version = self._relist()
                    delay = 0.25
                version = self._follow(version)
            except Exception as error:  # one failed request must not end the watch
                if self._stopping.is_set():
                    return
                log.warning(
                    "watch interrupted; relisting",
                    extra={"watch": self._thread.name, "error": describe(error)},
                )
                version = None
                self._stopping.wait(delay)
                delay = min(delay * 2, 2.0)

    def _relist(self) -> str:
        response = self._list(_preload_content=False, _request_timeout=(5, 30))
        try:
            body = json.loads(response.data)
        finally:
            response.release_conn()
        for item in body["items"]:
            self._handle("ADDED", item)
        if self._on_relist is not None:
            self._on_relist({object_key(item) for item in body["items"]})
        self.synced.set()
        return str(body["metadata"]["resourceVersion"])

    def _follow(self, version: str) -> str | None:
        response = self._list(
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_TIMEOUT_S,
            _preload_content=False,
            _request_timeout=(5, WATCH_TIMEOUT_S + 30),
        )
        with self._lock:
            self._response = response
        try:
            current: str | None = version
            for line in _lines(response, self._stopping):
                event = json.loads(line)
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        return None
                    raise RuntimeError(f"watch error {obj.get('code')}: {obj.get('message')}")
                if kind != "BOOKMARK":
                    self._handle(kind, obj)
                current = str(obj["metadata"]["resourceVersion"])
            return current
        finally:
            with self._lock:
                self._response = None
            response.close()
            response.release_conn()

    def _handle(self, kind: str, obj: dict[str, Any]) -> None:
        try:
            self._on_event(kind, obj)
        except Exception:  # a handler's bug must not end the watch
            log.exception("watch handler failed", extra={"watch": self._thread.name})


def _lines(response: Any, stopping: threading.Event) -> Iterator[bytes]:
    """The newline-delimited events of a watch response, as they arrive."""
    if stopping.is_set():  # stop() came before the response was registered
        return
    pending = b""
    for chunk in response.stream(amt=None, decode_content=False):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
