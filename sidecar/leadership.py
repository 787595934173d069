"""One leader per Deployment: the sidecar's side of the Lease, around the pure decisions.

:func:`sidecar.core.lease.decide` says what this candidate may do; this module does the
conditional write and keeps the last record it saw. Exactly one candidate wins because every
write is a create (409 if the Lease exists) or a replace carrying the ``resourceVersion`` it read
(409 if anyone wrote since).

Beside the spec, every write stamps the Deployment's state (``spot-failover/state``) on the
Lease. Candidates that lost the race watch the Lease instead of polling the Deployment: a
release stamped with a settled state tells them the work is done without another read; a release
stamped with an unfinished state (the leader was stopped mid-move) or an expired term tells them
to take over.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sidecar import contract
from sidecar.adapters.errors import Conflict, RetryLater
from sidecar.adapters.kube import Kube
from sidecar.contract import State
from sidecar.core import lease
from sidecar.core.lease import LeaseRecord

log = logging.getLogger(__name__)

JITTER_S = 0.5
"""Longest random pause before a waiter tries a free Lease."""
UNFINISHED = frozenset({State.MIGRATING, State.FAILING_BACK})

WATCH_SECONDS = 300
"""Server-side limit of one Lease watch; renewals usually keep it busy until the move ends."""


class Leadership:
    """This sidecar's view of its Deployment's Lease."""

    def __init__(
        self, kube: Kube, me: str, duration_s: int, on_acquired: Callable[[], None] | None = None
    ) -> None:
        self.kube = kube
        self.me = me
        self.name = contract.lease_name(kube.deployment)
        self.duration_s = duration_s
        self.record: LeaseRecord | None = None
        self.stamped_state: State | None = None
        """The Deployment state the last seen write of the Lease was stamped with."""
        self._on_acquired = on_acquired or (lambda: None)
        self._absent = False
        """A watch from the current state saw no Lease at all: creating it is allowed."""

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

    def refresh(self) -> None:
        raw = self.kube.get_lease(self.name)
        if raw is None:
            self.record, self.stamped_state = None, None
        else:
            self._remember(raw)

    def acquire(self, now: datetime, state: State, *, create: bool = True) -> bool:
        """Acquire, renew or take over if the record allows; ``True`` if we hold it now.

        Without a record the first try is a blind create (the Lease usually does not exist
        yet when a notice arrives), so the winner spends one request and a loser two. With
        ``create=False`` (a move is under way, so the Lease exists) an unknown record is only
        waited on, never created.
        """
        if self.record is None and not (create or self._absent):
            return False
        was_holder = self.holds(now)
        decision = lease.decide(self.record, self.me, now, self.duration_s)
        stamp = {contract.STATE: str(state)}
        try:
            match decision:
                case lease.Acquire(spec=spec):
                    self._remember(self.kube.create_lease(self.name, spec, stamp))
                case (
                    lease.Renew(spec=spec, resource_version=version)
                    | lease.TakeOver(spec=spec, resource_version=version)
                ):
                    self._remember(self.kube.replace_lease(self.name, spec, version, stamp))
                case lease.Wait():
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
                    self.name, write.spec, write.resource_version, {contract.STATE: str(state)}
                )
            )
            log.info("lease released", extra={"lease": self.name, "state": str(state)})
        except RetryLater as error:
            log.warning("lease release failed", extra={"lease": self.name, "error": str(error)})

    def wait_for_turn(
        self,
        clock: Callable[[], datetime],
        should_stop: Callable[[], bool],
        interruptible: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        """Watch the Lease until it is free (released or expired), or found not to exist.

        One watch request lasts as long as the holder keeps renewing: each renewal is an event,
        and a silence longer than the term (the read timeout) means the holder is gone.
        Without a record the watch starts from the Lease's current state.
        """
        self._absent = False
        with interruptible():
            while not should_stop():
                version = self.record.resource_version if self.record is not None else None
                seen = 0
                for raw in self.kube.watch_lease(
                    self.name, version, WATCH_SECONDS, quiet_s=self.duration_s + 2.0
                ):
                    seen += 1
                    self._remember(raw)
                    if should_stop() or (
                        self._free(clock()) and self._still_free_after_jitter(clock)
                    ):
                        return
                if self.record is None and seen == 0:
                    self._absent = True  # no Lease at all: the next acquire may create it
                    return
                if self._free(clock()) and self._still_free_after_jitter(clock):
                    return

    def _still_free_after_jitter(self, clock: Callable[[], datetime]) -> bool:
        """Let a random one of the waiters go first: after a short random pause, read the
        Lease once; if someone took it meanwhile, keep waiting instead of racing (a released
        Lease otherwise draws one doomed write from every waiter)."""
        if self.stamped_state is not None and self.stamped_state not in UNFINISHED:
            return True  # settled: nobody needs it, nothing to race for
        time.sleep(random.uniform(0, JITTER_S))  # noqa: S311 - spreading, not secrecy
        self.refresh()
        return self.record is None or self.record.is_free(clock())

    def renew_due(self, now: datetime) -> bool:
        """Whether a third of the term has passed since the last renewal (client-go renews
        far more often; a third leaves two chances before anyone may take over)."""
        record = self.record
        if record is None or record.renew_time is None:
            return True
        return now >= record.renew_time + timedelta(seconds=self.duration_s / 3)

    def _free(self, now: datetime) -> bool:
        return self.record is not None and self.record.is_free(now)
