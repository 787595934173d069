"""The sidecar's loop: observe → decide → act, with ``now`` read once per step.

Idle (no signal, nothing unfinished) a tick only polls the signal sources
(:mod:`sidecar.sources`, in order, the first signal wins): IMDS asks over HTTP, and the node
source's single watch is the only Kubernetes traffic. The Deployment is read when there is
something to decide (:func:`sidecar.core.wakeup.needs_attention`): a new signal for this node,
an unfinished move (Migrating, FailingBack) or a wake-up that is due. Decisions come from
:func:`sidecar.core.machine.decide`; the :class:`~sidecar.acting.Actor` runs the actions it
returns, and the tick decides again until there is nothing more to do now.

A decision after acquiring the Lease or checking health reuses the read it started from, and
after a write the API server's answer is the next read (:mod:`sidecar.deployment`); a sidecar
that loses the race for the Lease stands by on it (:meth:`sidecar.leadership.Leadership.stand_by`).

The Deployment is followed by one watch for as long as the sidecar runs
(:class:`~sidecar.deployment.OwnDeployment`): a change of a setting its user set is read at the
next tick, without restarting anything, and a decision reads the watch's copy.

A failing tick is logged and the loop goes on; :data:`MAX_FAILED_TICKS` failures in a row exit
non-zero so Kubernetes restarts the container. A refusal that retrying will not mend backs off
(:func:`sidecar.core.wakeup.refused_backoff_s`). A Deployment that cannot be used as it is (an
annotation that does not parse) is said so on the Deployment (:mod:`sidecar.problems`), left
alone until it changes or a back-off ends, and never crash-loops the container. A stop request
(SIGTERM) is honoured between steps, and the Lease is released on the way out.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import requests

from sidecar.acting import Actor, Outcome
from sidecar.adapters.kube import Kube
from sidecar.core import machine, node_signal, wakeup
from sidecar.core.annotations import DeploymentView
from sidecar.core.errors import InvalidInputError
from sidecar.core.inputs import Facts
from sidecar.core.signals import Interruption
from sidecar.core.transitions import UNFINISHED
from sidecar.deployment import OwnDeployment, annotations_of
from sidecar.events import Events
from sidecar.facts import FactFinder
from sidecar.leadership import Leadership
from sidecar.memory import Memory
from sidecar.metrics import Metrics
from sidecar.problems import Problems
from sidecar.settings import Settings
from sidecar.shutdown import Shutdown, ShutdownRequested
from sidecar.sources import PollContext, SignalSource, first_signal
from spot_common.api_errors import ApiError, GiveUp
from spot_common.contract import State

log = logging.getLogger(__name__)

MAX_FAILED_TICKS = 30
MAX_DECISIONS_PER_TICK = 8


class Daemon:
    def __init__(
        self,
        settings: Settings,
        kube: Kube,
        clock: Callable[[], datetime],
        metrics: Metrics,
        *,
        sources: Sequence[SignalSource],
        on_fargate: Callable[[], bool] | None = None,
        memory: Memory | None = None,
        events: Events | None = None,
        http: requests.Session | None = None,
        shutdown: Shutdown | None = None,
    ) -> None:
        self.settings = settings
        self.policy = settings.policy()
        self.clock = clock
        self.metrics = metrics
        self.sources = tuple(sources)
        """Polled in this order every tick; the first signal wins."""
        self.on_fargate = on_fargate or (lambda: node_signal.fargate_by_name(settings.node_name))
        """Whether this sidecar runs on Fargate now."""
        self.memory = memory or Memory()
        self.events = events or Events(kube, settings, clock, self.memory)
        self.shutdown = shutdown or Shutdown()
        self.leader = Leadership(
            kube,
            settings.pod_name,
            settings.lease_duration_s,
            metrics.lease_acquisitions.inc,
            on_suspicious=self.events.lease_stranger,
        )
        self.deployment = OwnDeployment(kube, metrics)
        self.problems = Problems(self.deployment, self.events)
        self._readable_version: object = None
        """The version of the last copy :meth:`_changed` found parses (not to parse it again)."""
        self.actor = Actor(
            settings,
            kube,
            self.deployment,
            self.leader,
            FactFinder(kube, settings, self.policy, http or requests.Session()),
            self.events,
            metrics,
            self.memory,
            self.problems,
        )

    # --- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *, once: bool = False) -> int:
        """Loop until stopped (0), or until failures repeat (1)."""
        stop = stop or self.shutdown.requested
        if not once:
            self.deployment.watch()
        try:
            while not stop.is_set():
                self.step(stop)
                if once:
                    return 0
                if self.memory.failed_ticks >= MAX_FAILED_TICKS:
                    log.error("giving up after repeated failures", extra=self._context())
                    return 1
                self._pause(stop)
        except ShutdownRequested:
            log.info("stopped while waiting", extra=self._context())
        finally:
            self.deployment.unfollow()
            self.leader.stop_following()
            self._release()
        return 0

    def _pause(self, stop: threading.Event) -> None:
        """Until the next tick: the interval, or while leading a move, the next change of the
        Deployment if it comes first."""
        interval_s = wakeup.interval_s(
            self.memory.view,
            poll_s=self.settings.poll_interval_s,
            renew_s=self.settings.lease_renew_s,
        )
        following = self.deployment.following
        if following is None or not self.deployment.leading:
            stop.wait(interval_s)
            return
        seen = following.changes
        with self.shutdown.interruptible():
            following.wait_for_change(seen, interval_s)

    def step(self, stop: threading.Event) -> None:
        """One tick: observe, and decide and act if there is anything to decide."""
        now = self.clock()
        signal = self._observe(now)
        self.events.retry_pending()
        memory = self.memory
        if not wakeup.needs_attention(
            memory.view,
            signal,
            now,
            handled=memory.handled,
            wake_at=memory.wake_at,
            refused_until=memory.refused_until,
            changed=self._changed(),
            unusable_until=memory.unusable_until,
        ):
            return
        try:
            self._tick(signal, stop)
            memory.failed_ticks = 0
            memory.refused_until = None
            memory.refusals = 0
            memory.unusable, memory.unusable_until = 0, None
        except GiveUp as error:
            memory.refusals += 1
            wait_s = wakeup.refused_backoff_s(memory.refusals)
            memory.refused_until = now + timedelta(seconds=wait_s)
            log.warning(
                "the API server refused; asking again later",
                extra={**self._context(), "error": str(error), "in_s": wait_s},
            )
        except ApiError as error:
            memory.failed_ticks += 1
            log.warning("tick failed", extra={**self._context(), "error": str(error)})
        except InvalidInputError as error:
            self._unusable(error, now)

    def _changed(self) -> bool:
        """Whether the watch shows the Deployment changed in what matters since the last tick:
        a setting its user set, or an annotation spot-failover keeps that no longer parses (a
        hand's edit, to report at once; another sidecar's transition is no business of an
        idle one)."""
        body = self.deployment.latest()
        memory = self.memory
        try:
            latest = annotations_of(body)
        except InvalidInputError:
            return True  # not what the API returns: let the tick find out and say so
        if wakeup.changed(memory.seen, latest, unusable=memory.unusable > 0):
            return True
        if body is None or not wakeup.changed(memory.seen, latest, unusable=True):
            return False
        version = (body.get("metadata") or {}).get("resourceVersion")
        if version is not None and version == self._readable_version:
            return False
        try:
            DeploymentView.parse(body)
        except InvalidInputError:
            return True
        self._readable_version = version
        return False

    def _unusable(self, error: InvalidInputError, now: datetime) -> None:
        """The Deployment cannot be used as it is: say so on it (not the first time: after a
        moment's spread, another sidecar may have said it already), and leave it alone until
        it changes or the back-off ends."""
        memory = self.memory
        memory.unusable += 1
        wait_s = wakeup.unusable_wait_s(memory.unusable, random.random())  # noqa: S311
        memory.unusable_until = now + timedelta(seconds=wait_s)
        body = self.deployment.last_body
        if memory.unusable > 1 and self.problems.unusable(error, body):
            body = self.deployment.written
        with contextlib.suppress(InvalidInputError):
            memory.seen = annotations_of(body)
        log.error(
            "cannot act on the Deployment",
            extra={**self._context(), "error": str(error), "in_s": wait_s},
        )

    def _observe(self, now: datetime) -> Interruption | None:
        view = self.memory.view
        context = PollContext(
            on_fargate=self.on_fargate(),
            wanted=self.policy.wanted(view.overrides if view is not None else None),
        )
        signal = first_signal(self.sources, now, context)
        if signal is not None and wakeup.signal_key(signal) not in self.memory.handled:
            self.metrics.notices.labels(str(signal.source), str(signal.kind)).inc()
        return signal

    # --- decide and act ---------------------------------------------------------------------

    def _tick(self, signal: Interruption | None, stop: threading.Event) -> None:
        self.memory.health = None
        view = self._without_outdated_problem(self.deployment.read())
        # Whether the last decision saw the Deployment as it now is (not so after a wait that
        # ended with the leader's settled release: the state moved on without us reading it).
        decided = True
        for _ in range(MAX_DECISIONS_PER_TICK):
            if stop.is_set():
                return
            now = self.clock()
            self.memory.view = view
            if self.leader.holds(now) and not view.overrides.acting:
                self.leader.release(now, view.state)  # handed back to the user: let go
            elif self.leader.holds(now) and view.state in UNFINISHED and self.leader.renew_due(now):
                self.leader.acquire(now, view.state)  # renew while working
            decision = machine.decide(view, self._facts(view, signal, now), self.policy, now)
            outcome = self.actor.run(decision, view, now)
            if outcome is Outcome.WAIT_FOR_LEASE:
                if not self.leader.stand_by(
                    view.state,
                    self.clock,
                    stop.is_set,
                    self.shutdown.interruptible,
                    on_fargate=self.on_fargate(),
                ):
                    decided = False
                    break  # the leader finished and let go, or we are stopping
                view = self.deployment.read(again=True)
            elif outcome is Outcome.AGAIN and self.deployment.following is not None:
                view = self.deployment.read()  # the newest copy: checks take time, statuses move on
            elif outcome is Outcome.WRITTEN and self.deployment.written is not None:
                view = DeploymentView.parse(self.deployment.written)
            elif outcome is Outcome.REREAD:
                view = self.deployment.read(again=True)
            elif outcome is Outcome.DONE:
                break
        # A signal is handled once decided on in the state it found; a move that settled while
        # we waited did not consider it, so the next tick reads the Deployment and decides.
        self._settle(signal if decided else None)
        settled, now = self.memory.view, self.clock()
        self.deployment.follow(
            leading=settled is not None and settled.state in UNFINISHED and self.leader.holds(now)
        )
        if settled is not None and settled.state not in UNFINISHED:
            self.leader.stop_following()

    def _without_outdated_problem(self, view: DeploymentView) -> DeploymentView:
        """``view``, or after taking back a problem that reading it whole shows to be over, the
        write's answer (read again after a conflict, and tried again)."""
        for _ in range(MAX_DECISIONS_PER_TICK):
            cleared = self.problems.clear_if_outdated(view)
            if cleared is None:
                break
            written = self.deployment.written if cleared else None
            if written is None:
                view = self.deployment.read(again=True)
            else:
                view = DeploymentView.parse(written)
        return view

    def _facts(self, view: DeploymentView, signal: Interruption | None, now: datetime) -> Facts:
        return Facts(
            me=self.settings.pod_name,
            holds_lease=self.leader.holds(now),
            interruption=signal,
            ebs_claims=self.actor.facts.ebs_claims(view, signal),
            health=self.memory.health,
            spot_available=self.actor.facts.spot_available(view, now),
            doomed_pods=self.actor.facts.doomed_pods(view),
        )

    def _settle(self, signal: Interruption | None) -> None:
        """Remember what this tick finished with, so idle ticks need no API request."""
        view = self.memory.view
        if view is None:
            return
        settled = wakeup.settle(
            view,
            self.policy,
            self.clock(),
            signal=signal,
            released_in=self.leader.released_in(),
            spread=random.random(),  # noqa: S311 - spreading only
        )
        self.memory.view = settled.view
        self.memory.seen = annotations_of(settled.view.body)
        if settled.handled is not None:
            self.memory.handled.add(settled.handled)
        self.memory.wake_at = settled.wake_at

    # --- shutdown ---------------------------------------------------------------------------

    def _release(self) -> None:
        now = self.clock()
        if self.leader.holds(now) or (
            self.leader.record is not None and self.leader.record.holder == self.settings.pod_name
        ):
            view = self.memory.view
            self.leader.release(now, view.state if view is not None else State.WATCHING)

    def _context(self) -> dict[str, str]:
        return self.memory.context(self.settings)
