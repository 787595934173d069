"""The sidecar's loop: observe → decide → act, with ``now`` read once per step.

Idle (no signal, nothing unfinished) a tick only polls the signal sources
(:mod:`sidecar.sources`, in order, the first signal wins): IMDS asks over HTTP, and the node
source's single watch is the only Kubernetes traffic. The Deployment is read when there is
something to decide: a new signal for this node, an unfinished move (Migrating, FailingBack)
or a failback that is due. Decisions come from :func:`sidecar.core.machine.decide`; this
module runs the actions it returns.

Reads are spent carefully, because fifty sidecars may act on one Deployment: a decision after
acquiring the Lease or checking health reuses the read it started from (the write is
conditional, so a stale read costs a 409, never a lost edit); after a write, the API server's
answer is the next read; and while it leads a move, the leader follows its Deployment with one
watch (a :class:`~sidecar.follower.Follower`) and wakes on each change instead of polling.

A failing tick is logged and the loop goes on; :data:`MAX_FAILED_TICKS` failures in a row exit
non-zero so Kubernetes restarts the container. A stop request (SIGTERM) is honoured between
steps, and the Lease is released on the way out.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import random
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import requests

from sidecar.adapters.kube import Kube
from sidecar.core import actions, doomed, health, machine, node_signal, objects, strategy
from sidecar.core.annotations import DeploymentView
from sidecar.core.errors import InvalidInputError
from sidecar.core.inputs import Facts
from sidecar.core.objects import JSONObject
from sidecar.core.signals import Interruption
from sidecar.core.steps import failback_cooldown, failback_due_at
from sidecar.core.transitions import SETTLED, UNFINISHED
from sidecar.follower import Follower
from sidecar.leadership import Leadership
from sidecar.metrics import Metrics
from sidecar.settings import Settings
from sidecar.shutdown import Shutdown, ShutdownRequested
from sidecar.sources import PollContext, SignalSource, first_signal
from spot_common import contract
from spot_common.api_errors import ApiError, Conflict, GiveUp
from spot_common.contract import State

log = logging.getLogger(__name__)

MAX_FAILED_TICKS = 30
MAX_DECISIONS_PER_TICK = 8
SPOT_RECHECK_S = 30.0
"""Once failback is due, how often to look for spot capacity again."""
HANDS_OFF_RECHECK_S = 30.0
"""A move left unfinished while the Deployment is paused or opted out is read again this often,
to resume it when the user hands it back (not every tick: nothing may happen meanwhile)."""
REFUSED_FIRST_S = 5.0
REFUSED_BACKOFF_S = 300.0
"""After the API server refused for good (403: the Role was withdrawn on opt-out, or not
provisioned yet; 404: the Deployment is gone), wait before asking again instead of failing
every tick and crash-looping the container: :data:`REFUSED_FIRST_S` after the first refusal,
twice as long after each further one, at most this long. A sidecar that starts before the
webhook's controller has provisioned its Role (the usual order at opt-in) is then refused
once or twice and acts within seconds of the grant, not minutes later."""


def refused_backoff_s(refusals: int) -> float:
    """How long to wait after the ``refusals``-th refusal in a row (1, 2, ...)."""
    doublings = max(0, min(refusals - 1, 16))
    return min(REFUSED_BACKOFF_S, REFUSED_FIRST_S * float(2**doublings))


FAILBACK_SPREAD_S = 10.0
"""Each sidecar wakes for a due failback up to this much (at most a tenth of the cooldown) after
the cooldown ends, so the one that wakes first usually starts the move before the others read
the Deployment."""
DEPLOYMENT_WATCH_S = 300
"""Server-side limit of one watch of the Deployment while leading a move."""


class Outcome(enum.Enum):
    DONE = "done"
    AGAIN = "again"
    """Decide again on the same read (the Lease was taken, health was checked)."""
    WRITTEN = "written"
    """Decide again on the API server's answer to our write."""
    REREAD = "reread"
    """Decide again on a new read (someone else wrote first)."""
    WAIT_FOR_LEASE = "wait-for-lease"


@dataclasses.dataclass
class Memory:
    """What the loop remembers between ticks; all of it can be rebuilt from one read."""

    view: DeploymentView | None = None
    handled: set[tuple[str, str, str, str]] = dataclasses.field(default_factory=set)
    """Signals already decided on, so a lasting notice is not re-read every poll."""
    wake_at: datetime | None = None
    health: health.Verdict | None = None
    failed_ticks: int = 0
    refused_until: datetime | None = None
    refusals: int = 0
    """Refusals in a row (see :func:`refused_backoff_s`)."""
    """Set after a refusal that retrying will not mend (:class:`GiveUp`)."""


def _signal_key(signal: Interruption) -> tuple[str, str, str, str]:
    """One notice: a new one on the same node (a new deadline) is a new signal."""
    deadline = signal.deadline.isoformat() if signal.deadline is not None else ""
    return (signal.node, str(signal.source), str(signal.kind), deadline)


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
        http: requests.Session | None = None,
        shutdown: Shutdown | None = None,
    ) -> None:
        self.settings = settings
        self.policy = settings.policy()
        self.kube = kube
        self.clock = clock
        self.metrics = metrics
        self.sources = tuple(sources)
        """Polled in this order every tick; the first signal wins."""
        self.on_fargate = on_fargate or (lambda: node_signal.fargate_by_name(settings.node_name))
        """Whether this sidecar runs on Fargate now."""
        self.http = http or requests.Session()
        self.leader = Leadership(
            kube,
            settings.pod_name,
            settings.lease_duration_s,
            metrics.lease_acquisitions.inc,
            on_suspicious=self.report_lease_stranger,
        )
        self.memory = Memory()
        self.shutdown = shutdown or Shutdown()
        self.following: Follower | None = None
        """The Deployment, followed while this sidecar leads a move."""
        self._written: JSONObject | None = None
        """The API server's answer to our last write of the Deployment."""

    # --- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *, once: bool = False) -> int:
        """Loop until stopped (0), or until failures repeat (1)."""
        stop = stop or self.shutdown.requested
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
            self._unfollow()
            self.leader.stop_following()
            self._release()
        return 0

    def _pause(self, stop: threading.Event) -> None:
        """Until the next tick: the interval, or while leading a move, the next change of the
        Deployment if it comes first."""
        following = self.following
        if following is None:
            stop.wait(self._interval())
            return
        seen = following.changes
        with self.shutdown.interruptible():
            following.wait_for_change(seen, self._interval())

    def step(self, stop: threading.Event) -> None:
        """One tick: observe, and decide and act if there is anything to decide."""
        now = self.clock()
        signal = self._observe(now)
        if not self._needs_attention(signal, now):
            return
        try:
            self._tick(signal, stop)
            self.memory.failed_ticks = 0
            self.memory.refused_until = None
            self.memory.refusals = 0
        except GiveUp as error:
            self.memory.refusals += 1
            wait_s = refused_backoff_s(self.memory.refusals)
            self.memory.refused_until = now + timedelta(seconds=wait_s)
            log.warning(
                "the API server refused; asking again later",
                extra={**self._context(), "error": str(error), "in_s": wait_s},
            )
        except ApiError as error:
            self.memory.failed_ticks += 1
            log.warning("tick failed", extra={**self._context(), "error": str(error)})
        except InvalidInputError as error:
            self.memory.failed_ticks += 1
            log.error(
                "cannot act on the Deployment", extra={**self._context(), "error": str(error)}
            )

    def _interval(self) -> float:
        view = self.memory.view
        if view is not None and view.state in UNFINISHED and _acting(view):
            return self.settings.lease_renew_s
        return self.settings.poll_interval_s

    # --- observe ----------------------------------------------------------------------------

    def _observe(self, now: datetime) -> Interruption | None:
        view = self.memory.view
        context = PollContext(
            on_fargate=self.on_fargate(),
            rebalance_wanted=self.policy.rebalance_wanted(
                view.overrides if view is not None else None
            ),
        )
        signal = first_signal(self.sources, now, context)
        if signal is not None and _signal_key(signal) not in self.memory.handled:
            self.metrics.notices.labels(str(signal.source), str(signal.kind)).inc()
        return signal

    def _needs_attention(self, signal: Interruption | None, now: datetime) -> bool:
        memory = self.memory
        if memory.refused_until is not None and now < memory.refused_until:
            return False
        if memory.view is None:
            return True
        if signal is not None and _signal_key(signal) not in memory.handled:
            return True
        if memory.view.state in UNFINISHED and _acting(memory.view):
            return True
        return memory.wake_at is not None and now >= memory.wake_at

    # --- decide and act ---------------------------------------------------------------------

    def _tick(self, signal: Interruption | None, stop: threading.Event) -> None:
        self.memory.health = None
        view = self._read()
        # Whether the last decision saw the Deployment as it now is (not so after a wait that
        # ended with the leader's settled release: the state moved on without us reading it).
        decided = True
        for _ in range(MAX_DECISIONS_PER_TICK):
            if stop.is_set():
                return
            now = self.clock()
            self.memory.view = view
            if self.leader.holds(now) and not _acting(view):
                self.leader.release(now, view.state)  # handed back to the user: let go
            elif self.leader.holds(now) and view.state in UNFINISHED and self.leader.renew_due(now):
                self.leader.acquire(now, view.state)  # renew while working
            facts = Facts(
                me=self.settings.pod_name,
                holds_lease=self.leader.holds(now),
                interruption=signal,
                health=self.memory.health,
                spot_available=self._spot_available(view, now),
                doomed_pods=self._doomed_pods(view),
            )
            decision = machine.decide(view, facts, self.policy, now)
            outcome = self._act(decision, view, now)
            if outcome is Outcome.WAIT_FOR_LEASE:
                if not self._wait_for_lease(view, stop):
                    decided = False
                    break  # the leader finished and let go, or we are stopping
                view = self._read(again=True)
            elif outcome is Outcome.AGAIN and self.following is not None:
                view = self._read()  # the newest copy: checks take time, statuses move on
            elif outcome is Outcome.WRITTEN and self._written is not None:
                view = DeploymentView.parse(self._written)
            elif outcome is Outcome.REREAD:
                view = self._read(again=True)
            elif outcome is Outcome.DONE:
                break
        # A signal is handled once decided on in the state it found; a move that settled while
        # we waited did not consider it, so the next tick reads the Deployment and decides.
        self._settle(signal if decided else None)
        self._follow_while_leading()

    def _wait_for_lease(self, view: DeploymentView, stop: threading.Event) -> bool:
        """Stand by until this sidecar holds the Lease, or may create it; ``False`` if the
        move settled meanwhile (nothing left to do) or a stop was asked for.

        A free Lease is taken before the Deployment is read again, so the waiters that lose
        the race for it spend no read on a Deployment they will not act on.
        """
        preferred = self._on_destination_side(view)
        while not stop.is_set():
            self.leader.wait_for_turn(
                self.clock, stop.is_set, self.shutdown.interruptible, preferred=preferred
            )
            if self._released_in_settled_state() is not None:
                return False
            if self.leader.take_turn(self.clock(), view.state):
                return True
        return False

    def _read(self, *, again: bool = False) -> DeploymentView:
        """The Deployment as this sidecar best knows it: while following it, the watch's copy
        (or our own write, which the watch has not shown yet); otherwise, or ``again`` after a
        conflict or a wait, a read."""
        following = self.following
        if following is not None and not again and not following.failing:
            body = following.current() or self._written
            if body is not None:
                return DeploymentView.parse(body)
        self._written = None
        return DeploymentView.parse(self.kube.get_deployment())

    def _on_destination_side(self, view: DeploymentView) -> bool:
        """Whether this sidecar runs where the move in progress goes (it outlives the move)."""
        if view.state is State.MIGRATING:
            return self.on_fargate()
        if view.state is State.FAILING_BACK:
            return not self.on_fargate()
        return True

    def _follow_while_leading(self) -> None:
        """Follow the Deployment while leading an unfinished move; stop once it settles."""
        view, now = self.memory.view, self.clock()
        leading = view is not None and view.state in UNFINISHED and self.leader.holds(now)
        if leading and self.following is None:
            # Its first copy is listed after our last write, so nothing to expect().
            self.following = Follower(
                f"deployment {self.settings.deployment}",
                lambda version: self.kube.watch_deployment(version, DEPLOYMENT_WATCH_S),
            ).start()
        elif not leading:
            self._unfollow()
        if view is not None and view.state not in UNFINISHED:
            self.leader.stop_following()

    def _unfollow(self) -> None:
        if self.following is not None:
            self.following.stop()
            self.following = None
        self._written = None

    def _settle(self, signal: Interruption | None) -> None:
        """Remember what this tick finished with, so idle ticks need no API request."""
        view = self.memory.view
        if view is None:
            return
        now = self.clock()
        finished = self._released_in_settled_state()
        if finished is not None and view.state in UNFINISHED:
            # Our last read predates the leader's final write; it told us where it ended.
            view = dataclasses.replace(view, state=finished)
            self.memory.view = view
        if signal is not None and view.state not in UNFINISHED:
            self.memory.handled.add(_signal_key(signal))
        due = failback_due_at(view, self.policy, now)
        if due is not None and due <= now:
            due = now + timedelta(seconds=SPOT_RECHECK_S)
        cooldown = failback_cooldown(view, self.policy)
        if due is not None and isinstance(cooldown, timedelta):
            # Spread the Deployment's sidecars: the first to wake usually moves it alone.
            spread = min(FAILBACK_SPREAD_S, cooldown.total_seconds() / 10)
            due += timedelta(seconds=random.uniform(0, spread))  # noqa: S311 - spreading only
        if view.state in UNFINISHED and not _acting(view):
            due = now + timedelta(seconds=HANDS_OFF_RECHECK_S)
        self.memory.wake_at = due

    def _released_in_settled_state(self) -> State | None:
        """The settled state a leader released the Lease in, if that is the last we saw."""
        record = self.leader.record
        stamped = self.leader.stamped_state
        if record is None or record.holder is not None or stamped not in SETTLED:
            return None
        return stamped

    def _act(self, decision: machine.Decision, view: DeploymentView, now: datetime) -> Outcome:
        outcome = Outcome.DONE
        for action in decision.actions:
            match action:
                case actions.AcquireLease():
                    # Mid-move the Lease exists: wait on it rather than try to create it.
                    if self.leader.acquire(now, view.state, fetch=view.state not in UNFINISHED):
                        return Outcome.AGAIN
                    return Outcome.WAIT_FOR_LEASE
                case actions.CheckHealth():
                    self.memory.health = self._health(view, action)
                    return Outcome.AGAIN
                case actions.WriteTransition():
                    if not self._replace(action.body):
                        log.info(
                            "deployment changed under us; deciding again", extra=self._context()
                        )
                        self.memory.health = None
                        return Outcome.REREAD
                    self._record_transition(action, view, now)
                    outcome = Outcome.WRITTEN
                case actions.AskForRefusedPods() if self._replace(action.body):
                    # On a conflict nothing is lost: the next tick asks again.
                    log.info("asked again for the pods a quota refused", extra=self._context())
                    outcome = Outcome.WRITTEN
                case actions.RecordEvent():
                    self._event(view, action.reason, action.message, warning=action.warning)
                case actions.ReleaseLease():
                    self.leader.release(now, decision.next_state or view.state)
                case actions.MarkDoomedPods() | actions.ClearDoomedPods():
                    self._deletion_cost(view, action)
                case actions.Wait():
                    self.memory.wake_at = action.until
                case actions.Nothing():
                    log.debug("nothing to do", extra={**self._context(), "reason": action.reason})
        return outcome

    def _replace(self, body: JSONObject) -> bool:
        """The conditional replace of the Deployment; ``False`` if it changed since read."""
        try:
            written = self.kube.replace_deployment(body)
        except Conflict:
            self.metrics.conflicts.inc()
            return False
        self._written = written
        if self.following is not None:
            self.following.expect(_version(written))
        return True

    def _record_transition(
        self, action: actions.WriteTransition, view: DeploymentView, now: datetime
    ) -> None:
        self.metrics.transitions.labels(str(action.from_state), str(action.to_state)).inc()
        moved = action.from_state is not action.to_state
        if moved and action.from_state in UNFINISHED and view.last_transition is not None:
            seconds = (now - view.last_transition).total_seconds()
            self.metrics.move_seconds.labels(str(action.to_state)).observe(seconds)
        log.info(
            "transition",
            extra={
                **self._context(),
                "from": str(action.from_state),
                "to": str(action.to_state),
                "reason": action.reason,
                "detail": action.message,
                "template_changed": action.template_changed,
            },
        )
        self.memory.view = dataclasses.replace(view, state=action.to_state)
        self.memory.health = None

    def _event(
        self, view: DeploymentView | None, reason: str, message: str, *, warning: bool
    ) -> None:
        body = view.body if view is not None else {"metadata": {}}
        try:
            self.kube.record_event(
                body,
                reason=reason,
                message=message,
                warning=warning,
                reporter=self.settings.pod_name,
                now=self.clock(),
            )
        except ApiError as error:
            log.warning("event not recorded", extra={**self._context(), "error": str(error)})

    def report_lease_stranger(self, message: str) -> None:
        self._event(self.memory.view, "LeaseHeldByStranger", message, warning=True)

    def report_imds_unreachable(self, message: str) -> None:
        self._event(self.memory.view, "ImdsUnreachable", message, warning=True)

    def _deletion_cost(
        self, view: DeploymentView, action: actions.MarkDoomedPods | actions.ClearDoomedPods
    ) -> None:
        """Set or clear the doomed pods' deletion cost; best effort, never stops the move."""
        marking = isinstance(action, actions.MarkDoomedPods)
        try:
            pods = self.kube.list_pods(_selector(view.body))
            names = (doomed.to_mark if marking else doomed.to_clear)(pods, action.node)
            value = contract.DOOMED_POD_DELETION_COST if marking else None
            for name in names:
                self.kube.annotate_pod(name, contract.POD_DELETION_COST, value)
        except ApiError as error:
            log.warning(
                "pod deletion cost not changed; the rollout picks the pods to remove itself",
                extra={**self._context(), "node": action.node, "error": str(error)},
            )
            return
        log.info(
            "pod deletion cost set" if marking else "pod deletion cost cleared",
            extra={**self._context(), "node": action.node, "pods": names},
        )

    # --- facts ------------------------------------------------------------------------------

    def _doomed_pods(self, view: DeploymentView) -> int:
        """The Deployment's pods on the interrupted node, counted only when a quota refuses the
        move's surge (:func:`sidecar.core.strategy.within_quota` needs it then)."""
        if view.state is not State.MIGRATING or view.notice is None:
            return 0
        if strategy.quota_refusal(view.body) is None:
            return 0
        if strategy.encode(strategy.current(view.body)) != contract.MOVE_STRATEGY:
            return 0
        return len(doomed.on_node(self.kube.list_pods(_selector(view.body)), view.notice.node))

    def _spot_available(self, view: DeploymentView, now: datetime) -> bool:
        due = failback_due_at(view, self.policy, now)
        if due is None or now < due:
            return False
        for key, value in self.settings.spot_capacity_labels.items():
            nodes = self.kube.list_nodes(f"{key}={value}")
            if any(node_signal.schedulable_and_ready(node) for node in nodes):
                return True
        return False

    def _health(self, view: DeploymentView, check: actions.CheckHealth) -> health.Verdict:
        selector = _selector(view.body)
        replica_sets = self.kube.list_replica_sets(selector)
        template_hash = health.current_template_hash(view.body, replica_sets)
        pods = self.kube.list_pods(selector)
        names = {str((p.get("spec") or {}).get("nodeName")) for p in pods}
        labels: dict[str, dict[str, str]] = {}
        for name in sorted(n for n in names if n != "None"):
            node = self.kube.get_node(name)
            labels[name] = dict((node.get("metadata") or {}).get("labels") or {})
        verdict = health.pods_verdict(
            pods,
            labels,
            expected=check.expected,
            replicas=check.replicas,
            template_hash=template_hash,
        )
        if check.url is None:
            return verdict
        ok, detail = self._probe(check.url)
        return health.with_http_check(verdict, ok=ok, detail=detail)

    def _probe(self, url: str) -> tuple[bool, str]:
        detail = ""
        for _ in range(self.settings.health_retries):
            try:
                response = self.http.get(url, timeout=self.settings.health_timeout_s)
            except requests.RequestException as error:
                detail = f"{type(error).__name__}: {str(error)[:200]}"
                continue
            if 200 <= response.status_code < 300:
                return True, f"HTTP {response.status_code}"
            detail = f"HTTP {response.status_code}"
        return False, detail

    # --- shutdown ---------------------------------------------------------------------------

    def _release(self) -> None:
        now = self.clock()
        if self.leader.holds(now) or (
            self.leader.record is not None and self.leader.record.holder == self.settings.pod_name
        ):
            view = self.memory.view
            self.leader.release(now, view.state if view is not None else State.WATCHING)

    def _context(self) -> dict[str, str]:
        view = self.memory.view
        return {
            "deployment": self.settings.deployment,
            "namespace": self.settings.namespace,
            "pod": self.settings.pod_name,
            "state": str(view.state) if view is not None else "unknown",
        }


def _acting(view: DeploymentView) -> bool:
    """Whether spot-failover may act on the Deployment: opted in and not paused."""
    return view.overrides.enabled and not view.overrides.paused


def _version(body: JSONObject) -> str | None:
    version = objects.child(body, "metadata", "").get("resourceVersion")
    return version if isinstance(version, str) else None


def _selector(deployment: JSONObject) -> str:
    """``spec.selector.matchLabels`` as a label selector string."""
    spec = objects.child(deployment, "spec", "")
    selector = objects.child(spec, "selector", "spec")
    labels = objects.string_map(selector, "matchLabels", "spec.selector")
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
