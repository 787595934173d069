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

    def acquire(self, now: datetime, state: State) -> bool:
        """Acquire, renew or take over if the record allows; ``True`` if we hold it now.

        Without a record the first try is a blind create (the Lease usually does not exist
        yet when a notice arrives), so the winner spends one request and a loser two.
        """
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
            self.refresh()
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
        now: datetime,
        should_stop: Callable[[], bool],
        interruptible: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        """Watch the Lease until it is released, changes holder, or the holder's term ends.

        Renewals arrive as events and push the end of the term out; the watch itself is a
        single request per term.
        """
        record = self.record
        if record is None or record.resource_version is None:
            return
        expires = record.expires_at or now
        timeout = max(1.0, (expires - now).total_seconds()) + 1
        holder = record.holder
        with interruptible():
            for raw in self.kube.watch_lease(self.name, record.resource_version, timeout):
                self._remember(raw)
                if self.record is None or self.record.holder != holder or should_stop():
                    return
