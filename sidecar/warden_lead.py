"""How the warden leads one move: the sidecar's own loop (:class:`sidecar.daemon.Daemon`, with
no signal sources) for that Deployment alone, under the warden's holder identity, in a thread
of its own."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sidecar.adapters.apiserver import ApiServer
from sidecar.adapters.kube import Kube
from sidecar.core.transitions import UNFINISHED
from sidecar.daemon import Daemon
from sidecar.metrics import Metrics
from sidecar.shutdown import Shutdown
from sidecar.warden_settings import move_settings
from spot_common.contract import State

log = logging.getLogger("sidecar.warden")

Key = tuple[str, str]
"""(namespace, name) of a Deployment."""


@dataclasses.dataclass
class Runner:
    """One move the warden leads: a sidecar's loop for that Deployment, in a thread."""

    shutdown: Shutdown
    thread: threading.Thread
    settled: Callable[[], bool]
    """Whether the loop's last tick left the move settled (its work is done)."""

    def stop(self) -> None:
        self.shutdown.requested.set()


def lead(
    api: ApiServer,
    clock: Callable[[], datetime],
    metrics: Metrics,
    *,
    holder: str,
    key: Key,
    state: State,
) -> Runner:
    """A runner (not started) that leads the move of ``key`` from ``state`` as ``holder``."""
    namespace, name = key
    settings = move_settings(holder, namespace, name)
    shutdown = Shutdown()  # the warden's own stop is passed on by Runner.stop
    destination = state is State.MIGRATING
    daemon = Daemon(
        settings,
        Kube(api.fork(), namespace, name),
        clock,
        metrics,
        sources=(),
        # On the move's destination side, so a free Lease is taken at once: the warden
        # waited out every sidecar's turn before it started.
        on_fargate=lambda: destination,
        shutdown=shutdown,
    )

    def lead() -> None:
        try:
            daemon.run(shutdown.requested)
        except Exception:
            log.exception("leading the move failed", extra=_context(key))

    def settled() -> bool:
        view = daemon.memory.view
        return view is not None and view.state not in UNFINISHED

    thread = threading.Thread(target=lead, name=f"lead-{namespace}/{name}", daemon=True)
    return Runner(shutdown, thread, settled)


def _context(key: Key) -> dict[str, str]:
    return {"namespace": key[0], "deployment": key[1]}
