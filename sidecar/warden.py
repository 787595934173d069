"""The warden: ends a move that no sidecar is left to finish (``spot-failover-sidecar --warden``).

A move is led by one sidecar, and any other takes over when the leader dies with its node. But
when the new pods never start (Fargate refuses them, or no profile selects them) no pod runs a
sidecar any more, and nothing would end the move. The warden is the sidecar program run in a
second mode, as a small Deployment of its own pinned off spot (deploy/warden), so it does not
die with the nodes it watches.

What it does, and what it costs:

* One watch of Deployments (cluster-wide, or one per namespace of
  ``SPOT_FAILOVER_WARDEN_NAMESPACES``) tells it which opted-in Deployments have an unfinished
  move (:func:`sidecar.core.warden.followed`); it keeps only those, a few fields each.
  Idle, that watch is all it does.
* For each of them it reads the Deployment and its Lease once, and again only when the pure
  :func:`sidecar.core.warden.verdict` says the move could be stuck by then: one read per Lease
  term or two while a live sidecar leads it.
* A move whose Lease has been free for a whole term is stuck: the warden runs the same loop a
  sidecar runs (:class:`sidecar.daemon.Daemon`, with no signal sources) for that Deployment
  alone, under its own holder identity (:func:`sidecar.core.warden.holder_identity`): it takes the
  Lease, follows the rollout and writes the transition the state machine decides, rolled back
  if the rollout is not healthy by the move's timeout, finished if it is; then it lets go.

The move's settings (rollout timeout, Lease term, Fargate labels, ...) are the sidecar's own
``SPOT_FAILOVER_*`` variables, which the warden's Deployment sets as the webhook sets them for the
sidecars; its own (``SPOT_FAILOVER_WARDEN_*``) are in :class:`WardenSettings`
(:mod:`sidecar.warden_settings`). How it leads one move is :mod:`sidecar.warden_lead`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from sidecar.adapters.apiserver import JSON, ApiServer
from sidecar.adapters.credentials import InCluster
from sidecar.adapters.kube import WATCH_SILENCE_MARGIN_S, Kube, watch_deployments
from sidecar.core import warden
from sidecar.core.errors import MalformedObjectError
from sidecar.core.lease import LeaseRecord
from sidecar.core.times import parse_time
from sidecar.metrics import Metrics
from sidecar.shutdown import Shutdown
from sidecar.warden_lead import Key, Runner, lead
from sidecar.warden_settings import WardenSettings, move_settings
from spot_common import contract
from spot_common.api_errors import ApiError, NotFound
from spot_common.contract import State

log = logging.getLogger("sidecar.warden")

WATCH_S: Final = 3600
"""Server-side limit of one watch of Deployments; the next resumes where it ended."""
WAIT_SLICE_S: Final = 1.0
"""Longest single wait of the warden's loop, so a stop is seen within a second."""
STOP_S: Final = 10.0
"""How long a stop waits for the moves being led to let go of their Leases."""


@dataclasses.dataclass
class Followed:
    """A Deployment with an unfinished move, as the warden keeps it."""

    state: State
    look_at: datetime | None
    """When to read it and its Lease again (``None``: while a runner leads it)."""
    runner: Runner | None = None


RunnerFactory = Callable[[Key, State], Runner]


class Warden:
    """Follows the unfinished moves and leads those nobody else leads."""

    def __init__(
        self,
        settings: WardenSettings,
        api: ApiServer,
        clock: Callable[[], datetime],
        metrics: Metrics,
        *,
        make_runner: RunnerFactory | None = None,
    ) -> None:
        self.settings = settings
        self.api = api
        self.clock = clock
        self.metrics = metrics
        self.holder = warden.holder_identity(settings.pod_name)
        self._template = move_settings(self.holder, "-", "-")
        self.grace = timedelta(seconds=self._template.lease_duration_s)
        """How long a Lease must have been free before the warden takes it: one term."""
        self._make_runner = make_runner or self._runner
        self._followed: dict[Key, Followed] = {}
        self._changed = threading.Condition()

    # --- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> int:
        namespaces: list[str | None] = [*sorted(self.settings.namespaces)] or [None]
        for namespace in namespaces:
            threading.Thread(
                target=self._watch, args=(namespace, stop), name=f"watch-{namespace}", daemon=True
            ).start()
        log.info("following unfinished moves", extra={"namespaces": namespaces})
        try:
            while not stop.is_set():
                self.step()
                self._pause(stop)
        finally:
            self._stop_all()
        return 0

    def _pause(self, stop: threading.Event) -> None:
        with self._changed:
            now = self.clock()
            due = [f.look_at for f in self._followed.values() if f.look_at is not None]
            wait_s = WAIT_SLICE_S
            if due:
                wait_s = min(wait_s, max(0.0, (min(due) - now).total_seconds()))
            if wait_s > 0 and not stop.is_set():
                self._changed.wait(wait_s)

    def step(self) -> None:
        """Read what is due, start a runner for each stuck move, end those that are done."""
        now = self.clock()
        with self._changed:
            due = [
                key
                for key, f in self._followed.items()
                if f.runner is None and f.look_at is not None and f.look_at <= now
            ]
            finished = [
                key
                for key, f in self._followed.items()
                if f.runner is not None and (f.runner.settled() or not f.runner.thread.is_alive())
            ]
        for key in finished:
            self._end(key, "the move ended")
        for key in due:
            try:
                self._look(key)
            except ApiError as error:
                log.warning("cannot read the move", extra={**_context(key), "error": str(error)})
                self._schedule(key, self.clock() + self.grace)

    def _look(self, key: Key) -> None:
        """Read the Deployment and its Lease: lead the move if it is stuck, else look again
        when it could be."""
        namespace, name = key
        kube = Kube(self.api, namespace, name)
        try:
            body = kube.get_deployment()
        except NotFound:
            self._forget(key)
            return
        annotations = _annotations(body)
        state = warden.followed(annotations)
        if state is None:
            self._forget(key)
            return
        raw = kube.get_lease(contract.lease_name(name))
        try:
            record = None if raw is None else LeaseRecord.from_lease(raw)
        except MalformedObjectError as error:
            log.warning("the Lease cannot be read", extra={**_context(key), "error": str(error)})
            record = None
        since = parse_time(annotations.get(contract.LAST_TRANSITION, ""))
        now = self.clock()
        verdict = warden.verdict(record, now, grace=self.grace, since=since)
        match verdict:
            case warden.LookAgain(at=at, why=why):
                log.debug("not stuck", extra={**_context(key), "why": why, "at": at.isoformat()})
                self._schedule(key, at)
            case warden.Act(stuck_for=stuck_for):
                log.warning(
                    "no sidecar leads the move: leading it",
                    extra={
                        **_context(key),
                        "state": str(state),
                        "stuck_s": round(stuck_for.total_seconds(), 1),
                        "holder": self.holder,
                    },
                )
                runner = self._make_runner(key, state)
                with self._changed:
                    followed = self._followed.get(key)
                    if followed is None:
                        runner.stop()
                        return
                    followed.runner, followed.look_at = runner, None
                runner.thread.start()

    # --- what the watch says ----------------------------------------------------------------

    def _watch(self, namespace: str | None, stop: threading.Event) -> None:
        api = self.api.fork()  # a transport of this thread's own
        version: str | None = None
        failures = 0
        while not stop.is_set():
            try:
                for event in watch_deployments(
                    api,
                    namespace,
                    version,
                    WATCH_S,
                    quiet_s=WATCH_S + WATCH_SILENCE_MARGIN_S,
                ):
                    if stop.is_set():
                        return
                    version = self.seen(event) or version
                    failures = 0
            except ApiError as error:
                failures += 1
                version = None  # from the current state again: every Deployment as ADDED
                log.warning(
                    "watch of Deployments failed",
                    extra={"namespace": namespace, "error": str(error), "failures": failures},
                )
                stop.wait(min(60.0, float(failures)))

    def seen(self, event: JSON) -> str | None:
        """Keep or forget the Deployment of one watch event; its ``resourceVersion``."""
        body = event.get("object") or {}
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            return None
        version = metadata.get("resourceVersion")
        if event.get("type") == "BOOKMARK":
            return version if isinstance(version, str) else None
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        annotations = metadata.get("annotations") or {}
        state = None
        if event.get("type") != "DELETED" and isinstance(annotations, dict):
            state = warden.followed({str(k): str(v) for k, v in annotations.items()})
        if state is None:
            self._forget(key)
        else:
            with self._changed:
                followed = self._followed.get(key)
                if followed is None:
                    self._followed[key] = Followed(state, self.clock())
                    self._changed.notify_all()
                else:
                    followed.state = state
        return version if isinstance(version, str) else None

    # --- bookkeeping ------------------------------------------------------------------------

    def _schedule(self, key: Key, at: datetime) -> None:
        with self._changed:
            followed = self._followed.get(key)
            if followed is not None and followed.runner is None:
                followed.look_at = at

    def _forget(self, key: Key) -> None:
        """The Deployment's move is over (or it is gone, opted out, paused): stop following."""
        with self._changed:
            followed = self._followed.pop(key, None)
        if followed is not None and followed.runner is not None:
            followed.runner.stop()
            log.info("stopped leading the move", extra=_context(key))

    def _end(self, key: Key, why: str) -> None:
        """A runner is done (settled, or its loop gave up): look again a grace later."""
        with self._changed:
            followed = self._followed.get(key)
            runner = followed.runner if followed is not None else None
            if followed is not None:
                followed.runner, followed.look_at = None, self.clock() + self.grace
        if runner is not None:
            runner.stop()
            log.info("stopped leading the move", extra={**_context(key), "why": why})

    def _stop_all(self) -> None:
        with self._changed:
            runners = [f.runner for f in self._followed.values() if f.runner is not None]
        for runner in runners:
            runner.stop()
        for runner in runners:
            runner.thread.join(STOP_S)

    def following(self) -> dict[Key, State]:
        """The unfinished moves the warden follows now (for tests and logs)."""
        with self._changed:
            return {key: f.state for key, f in self._followed.items()}

    # --- leading a move ---------------------------------------------------------------------

    def _runner(self, key: Key, state: State) -> Runner:
        return lead(self.api, self.clock, self.metrics, holder=self.holder, key=key, state=state)


def _annotations(body: Mapping[str, object]) -> dict[str, str]:
    metadata = body.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        return {}
    return {str(k): str(v) for k, v in annotations.items()}


def _context(key: Key) -> dict[str, str]:
    return {"namespace": key[0], "deployment": key[1]}


def now() -> datetime:
    return datetime.now(UTC)


def main(settings: WardenSettings, shutdown: Shutdown) -> int:
    """Run the warden until ``shutdown`` is requested (the entry point installs it)."""
    credentials = InCluster.from_pod(os.environ, settings.api_credentials_dir)
    metrics = Metrics()
    metrics.serve(settings.metrics_port)
    api = ApiServer(credentials, on_request=lambda verb: metrics.api_requests.labels(verb).inc())
    return Warden(settings, api, now, metrics).run(shutdown.requested)
