"""One leader per Deployment: the sidecar's side of the Lease, around the pure decisions.

:func:`sidecar.core.lease.decide` says what this candidate may do; this module does the
conditional write and keeps the last record it saw. The webhook's controller provisions the
Lease (no holder) with the Deployment's RBAC; sidecars only read, replace and watch it. Exactly
one candidate wins because every write is a replace carrying the ``resourceVersion`` it read
(409 if anyone wrote since). A replace keeps the labels, annotations and owner the webhook set
(the admission policy shipped in deploy/ insists), adding the state stamp.

A record held by a stranger (a holder whose name cannot be a pod of this Deployment) or with a
term no sidecar asks for is reported once per record through ``on_suspicious``; the term is
trusted only up to :data:`~spot_common.contract.MAX_LEASE_DURATION_S` either way.

Beside the spec, every write stamps the Deployment's state (``spot-failover/state``) on the
Lease. Candidates that lost the race follow the Lease (one watch, in a
:class:`~sidecar.follower.Follower`) instead of polling the Deployment: a release stamped with a
settled state tells them the work is done without another read; a release stamped with an
unfinished state (the leader was stopped mid-move) or an expired term tells them to take over.

Who takes over first: a move's leader dies with the pod it is moving away from, so a successor
on the same side would soon die too. Candidates on the move's destination side (Fargate while
Migrating, spot while FailingBack) may take a free Lease at once; the others only one term
later, if nobody on the destination side took it (the destination pods may never start).
Among those that may, each waits a random moment first and tries only if the watch has not
meanwhile shown someone else taking it, so a handoff costs a write or two, not one per waiter.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sidecar.adapters.kube import Kube
from sidecar.core import handoff, lease
from sidecar.core.lease import LeaseRecord
from sidecar.core.transitions import SETTLED, UNFINISHED
from sidecar.follower import Follower
from spot_common import contract
from spot_common.api_errors import ApiError, Conflict
from spot_common.contract import State

log = logging.getLogger(__name__)

JITTER_S = 1.0
"""Longest random pause before a waiter tries a free Lease. The first of N waiters goes after
about JITTER_S / (N + 1) on average, so a wide spread costs a crowd almost nothing and keeps
its tries far enough apart for each to see the previous winner on the watch."""

WATCH_SECONDS = 300
"""Server-side limit of one Lease watch; renewals usually keep it busy until the move ends."""
WAIT_SLICE_S = 1.0
"""Longest single wait, so a stop asked for without a signal is seen within a second."""


class Leadership:
    """This sidecar's view of its Deployment's Lease."""

    def __init__(
        self,
        kube: Kube,
        me: str,
        duration_s: int,
        on_acquired: Callable[[], None] | None = None,
        on_suspicious: Callable[[str], None] | None = None,
    ) -> None:
        self.kube = kube
        self.me = me
        self.name = contract.lease_name(kube.deployment)
        self.duration_s = duration_s
        self.record: LeaseRecord | None = None
        self.stamped_state: State | None = None
        """The Deployment state the last seen write of the Lease was stamped with."""
        self._on_acquired = on_acquired or (lambda: None)
        self._on_suspicious = on_suspicious or (lambda _message: None)
        self._reported: tuple[str | None, int] | None = None
        """(holder, duration) of the last suspicious record reported, to report each once."""
        self._metadata: dict[str, object] = {}
        """Labels, annotations and owner of the Lease as last read: every replace keeps them."""
        self._absent = False
        """A watch from the current state saw no Lease at all: read it before deciding."""
        self._follower: Follower | None = None

    @property
    def quiet_s(self) -> float:
        """A Lease watch silent this long has a dead holder (renewals are events)."""
        return self.duration_s + 2.0

    def margin(self) -> timedelta:
        """Stop acting this long before the term ends, so a successor never overlaps."""
        return timedelta(seconds=max(1.0, self.duration_s / 5))

    def holds(self, now: datetime) -> bool:
        return lease.holds(self.record, self.me, now, self.margin())

    def _remember(self, raw: dict[str, object]) -> None:
        self.record = LeaseRecord.from_lease(raw)
        metadata = raw.get("metadata") or {}
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        stamp = annotations.get(contract.STATE) if isinstance(annotations, dict) else None
        self.stamped_state = State(stamp) if stamp in set(State) else None
        if isinstance(metadata, dict):
            self._metadata = {
                key: metadata[key]
                for key in ("labels", "annotations", "ownerReferences")
                if key in metadata
            }
        self._check(self.record)

    def _check(self, record: LeaseRecord) -> None:
        """Report a stranger holding the Lease, or an absurd term, once per such record."""
        stranger = lease.stranger(record.holder, self.kube.deployment)
        if not (stranger or record.absurd_duration) or record.holder == self.me:
            return
        seen = (record.holder, record.duration_s)
        if seen == self._reported:
            return
        self._reported = seen
        why = "is not a pod of this Deployment" if stranger else "is held"
        message = (
            f"Lease {self.name} {why}: holder {record.holder!r}, term {record.duration_s} s. "
            f"Spot failover trusts a term of at most {contract.MAX_LEASE_DURATION_S} s and takes "
            "the Lease over when it ends; find out who wrote it."
        )
        log.warning(
            "lease held by a stranger",
            extra={"lease": self.name, "holder": record.holder, "duration_s": record.duration_s},
        )
        self._on_suspicious(message)

    def acquire(self, now: datetime, state: State, *, fetch: bool = True) -> bool:
        """Renew or take over if the record allows; ``True`` if we hold it now.

        Without a record the Lease is read first, then written in the same call (it exists
        from the opt-in on, provisioned by the webhook), so no poll is lost to a failed blind
        create. With ``fetch=False`` (a move is under way: the watch will show the record) an
        unknown record is only waited on.
        """
        if self.record is None:
            if not (fetch or self._absent):
                return False
            current = self.kube.get_lease(self.name)
            if current is None:
                log.warning(
                    "no lease to take: the webhook's controller provisions it",
                    extra={"lease": self.name},
                )
                return False
            self._remember(current)
        was_holder = self.holds(now)
        decision = lease.decide(self.record, self.me, now, self.duration_s)
        stamp = {contract.STATE: str(state)}
        try:
            match decision:
                case (
                    lease.Renew(spec=spec, resource_version=version)
                    | lease.TakeOver(spec=spec, resource_version=version)
                ):
                    self._remember(
                        self.kube.replace_lease(self.name, spec, version, stamp, self._metadata)
                    )
                case lease.Wait() | lease.Missing():
                    return False
        except Conflict:
            self.record, self.stamped_state = None, None  # the watch will tell what won
            return False
        if not was_holder:
            log.info("lease acquired", extra={"lease": self.name, "holder": self.me})
            self._on_acquired()
        return self.holds(now)

    def release(self, now: datetime, state: State) -> None:
        """Give the Lease up, stamped with ``state``; losing a race here is fine."""
        write = lease.release(self.record, self.me, now)
        if write is None:
            return
        try:
            self._remember(
                self.kube.replace_lease(
                    self.name,
                    write.spec,
                    write.resource_version,
                    {contract.STATE: str(state)},
                    self._metadata,
                )
            )
            log.info("lease released", extra={"lease": self.name, "state": str(state)})
        except ApiError as error:  # it expires on its own; a stop must not fail on it
            log.warning("lease release failed", extra={"lease": self.name, "error": str(error)})

    def wait_for_turn(
        self,
        clock: Callable[[], datetime],
        should_stop: Callable[[], bool],
        interruptible: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
        *,
        preferred: bool = True,
    ) -> None:
        """Follow the Lease until this candidate may try it (free, and its turn), or until it
        is found not to exist; ``preferred``: on the move's destination side."""
        self._absent = False
        follower = self._follow()
        with interruptible():
            if not self._wait(follower.wait_ready, self.quiet_s, should_stop):
                self._absent = not follower.failing  # silence: there is no Lease at all
                return
            while not should_stop():
                seen = follower.changes
                latest = follower.latest
                if latest is not None:
                    self._remember(latest)
                now = clock()
                turn = self._turn(now, preferred)
                if turn is not None and turn <= now:
                    if self.stamped_state in SETTLED:
                        return  # done: nobody needs it, nothing to race for
                    pause = random.uniform(0, JITTER_S)  # noqa: S311 - spreading, not secrecy
                    if not follower.wait_for_change(seen, pause):
                        return  # nobody took it meanwhile: our turn
                    continue
                wait_s = WAIT_SLICE_S if turn is None else (turn - now).total_seconds()
                follower.wait_for_change(seen, min(WAIT_SLICE_S, max(0.01, wait_s)))

    def take_turn(self, now: datetime, state: State) -> bool:
        """After :meth:`wait_for_turn`: take the free Lease (stamped with the state it was
        left in, else ``state``). ``True`` if we hold it now, or if the watch saw no Lease and
        the next :meth:`acquire` reads it afresh; ``False``: someone else won, wait again."""
        if self._absent:
            return True
        record = self.record
        if record is None or not record.is_free(now):
            return False
        stamp = self.stamped_state if self.stamped_state in UNFINISHED else state
        return self.acquire(now, stamp, fetch=False)

    def stand_by(
        self,
        state: State,
        clock: Callable[[], datetime],
        should_stop: Callable[[], bool],
        interruptible: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
        *,
        on_fargate: bool,
    ) -> bool:
        """While another sidecar leads the move in ``state``: wait until this one holds the
        Lease, or may create it (``True``); ``False`` if the move settled meanwhile (nothing
        left to do) or a stop was asked for.

        A free Lease is taken before the Deployment is read again, so the waiters that lose
        the race for it spend no read on a Deployment they will not act on.
        """
        preferred = handoff.on_destination_side(state, on_fargate=on_fargate)
        while not should_stop():
            self.wait_for_turn(clock, should_stop, interruptible, preferred=preferred)
            if self.released_in() is not None:
                return False
            if self.take_turn(clock(), state):
                return True
        return False

    def released_in(self) -> State | None:
        """The settled state the leader released the Lease in, if that is the last seen."""
        return handoff.released_in(self.record, self.stamped_state)

    def stop_following(self) -> None:
        """The move is over: stop watching the Lease."""
        if self._follower is not None:
            self._follower.stop()
            self._follower = None

    def _follow(self) -> Follower:
        if self._follower is None or not self._follower.running:
            self._follower = Follower(
                f"lease {self.name}",
                lambda version: self.kube.watch_lease(
                    self.name, version, WATCH_SECONDS, quiet_s=self.quiet_s
                ),
            ).start()
        return self._follower

    def _turn(self, now: datetime, preferred: bool) -> datetime | None:
        """When this candidate may try the Lease as last seen (``None``: not known yet)."""
        record = self.record
        if record is None:
            return None
        released = record.holder is None
        free_since = (record.renew_time if released else record.expires_at) or now
        return free_since + (timedelta(0) if preferred else timedelta(seconds=self.duration_s))

    @staticmethod
    def _wait(
        wait: Callable[[float], bool], timeout_s: float, should_stop: Callable[[], bool]
    ) -> bool:
        """``wait`` in slices of at most :data:`WAIT_SLICE_S` until it is true, ``timeout_s``
        passed or a stop is asked for."""
        deadline = time.monotonic() + timeout_s
        while not should_stop():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if wait(min(WAIT_SLICE_S, remaining)):
                return True
        return False

    def renew_due(self, now: datetime) -> bool:
        """Whether a third of the term has passed since the last renewal (client-go renews
        far more often; a third leaves two chances before anyone may take over)."""
        record = self.record
        if record is None or record.renew_time is None:
            return True
        return now >= record.renew_time + timedelta(seconds=self.duration_s / 3)
