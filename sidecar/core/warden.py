"""The warden's decisions, over plain data: which moves it follows, and when one is stuck.

The warden (:mod:`sidecar.warden`) is the last resort for a move no sidecar can finish: the
leader died with its node and the new pods never started, so no pod runs a sidecar to take
over. It runs off spot, follows every opted-in Deployment whose move is unfinished
(:func:`followed`) and, for one whose Lease nobody renews, becomes its leader and runs the same
tick a sidecar would (:func:`sidecar.core.machine.decide`): the move then ends, rolled back if
its rollout is not healthy by the move's timeout, finished if it is.

When a move counts as stuck (:func:`verdict`): its Lease has been free for a whole ``grace``
(one Lease term). Free means released, or its holder's term over; the grace is the longest
sidecars wait for their turn (those on the move's destination side take a free Lease at once,
the others one term later: :mod:`sidecar.leadership`), so the warden never races a sidecar that
is about to take over, and never acts while a live sidecar holds the Lease. Its leader renewed
last at the latest when it died, so the warden takes over at most two terms after that, and
the move ends by its rollout timeout plus two Lease terms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta

from sidecar.core.lease import LeaseRecord
from sidecar.core.times import require_utc
from sidecar.core.transitions import UNFINISHED
from spot_common import contract
from spot_common.contract import State


def followed(annotations: Mapping[str, str]) -> State | None:
    """The unfinished state of a Deployment the warden follows, else ``None``: opted in
    (``"true"``, exactly), not paused, and its move Migrating or FailingBack."""
    if annotations.get(contract.ENABLED) != "true":
        return None
    if annotations.get(contract.PAUSED) == "true":
        return None
    state = annotations.get(contract.STATE)
    if state not in {str(s) for s in UNFINISHED}:
        return None
    return State(state)


def holder_identity(pod_name: str) -> str:
    """The warden's identity as a Lease holder: the prefix and its pod's name."""
    if not pod_name:
        raise ValueError("the warden needs its pod's name")
    return contract.WARDEN_HOLDER_PREFIX + pod_name


@dataclasses.dataclass(frozen=True, slots=True)
class Act:
    """Nobody has acted on the move for ``stuck_for``: lead it."""

    stuck_for: timedelta


@dataclasses.dataclass(frozen=True, slots=True)
class LookAgain:
    """Someone may still act: look at the Lease again at ``at`` (nothing to read before)."""

    at: datetime
    why: str


Verdict = Act | LookAgain


def verdict(
    record: LeaseRecord | None,
    now: datetime,
    *,
    grace: timedelta,
    since: datetime | None,
) -> Verdict:
    """Whether the warden leads the move now, given its Lease ``record`` (``None``: there is
    none) and ``since``, when the move last changed state (for a Lease never held).

    A holder's term ends at ``renewTime`` + its term (capped as every sidecar caps it); a
    released Lease is free from its ``renewTime``. The warden acts ``grace`` after that.
    """
    now = require_utc(now, "now")
    if record is None:
        return LookAgain(now + grace, "the Deployment has no Lease yet (the webhook provisions it)")
    free_since = record.renew_time if record.holder is None else record.expires_at
    if free_since is None:
        free_since = since or now
    due = free_since + grace
    if now >= due:
        return Act(now - free_since)
    if record.holder is not None and now < (record.expires_at or now):
        why = f"{record.holder} holds the Lease"
    else:
        why = "the Lease is free, but a sidecar may still take it"
    return LookAgain(due, why)
