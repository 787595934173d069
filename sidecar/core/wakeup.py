"""When the sidecar's loop looks at its Deployment again, as pure decisions over ``now``.

An idle tick only polls the signal sources; the Deployment is read only when
:func:`needs_attention` says so: the first tick, a signal not yet decided on, a move under way
that spot-failover may act on, a wake-up that is due, or a change of a setting the user set on
the Deployment (:func:`changed`: the Deployment's watch shows it). A Deployment found unusable
(an annotation that does not parse) is looked at again when it changes, or after
:func:`unusable_wait_s`. What the loop remembers between ticks
(the last view, the signals handled, the wake-up) comes from :func:`settle` at the end of each
tick that read the Deployment. Between ticks it pauses :func:`interval_s`; after a refusal that
retrying will not mend (a Role not provisioned yet, or withdrawn) it leaves the Deployment
alone for :func:`refused_backoff_s`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Final, TypeAlias

from sidecar.core import problems
from sidecar.core.annotations import DeploymentView
from sidecar.core.failback import failback_cooldown, failback_due_at
from sidecar.core.inputs import Policy
from sidecar.core.signals import Interruption
from sidecar.core.transitions import UNFINISHED
from spot_common import contract
from spot_common.contract import State

SPOT_RECHECK: Final = timedelta(seconds=30)
"""Once failback is due, how often to look for spot capacity again."""
HANDS_OFF_RECHECK: Final = timedelta(seconds=30)
"""A move left unfinished while the Deployment is paused or opted out is read again this often,
to resume it when the user hands it back (not every tick: nothing may happen meanwhile)."""
FAILBACK_SPREAD_S: Final = 10.0
"""Each sidecar wakes for a due failback up to this much (at most a tenth of the cooldown) after
the cooldown ends, so the one that wakes first usually starts the move before the others read
the Deployment."""
REFUSED_FIRST_S: Final = 5.0
REFUSED_BACKOFF_S: Final = 300.0
"""After the API server refused for good (403: the Role was withdrawn on opt-out, or not
provisioned yet; 404: the Deployment is gone), wait before asking again instead of failing
every tick and crash-looping the container: :data:`REFUSED_FIRST_S` after the first refusal,
twice as long after each further one, at most this long. A sidecar that starts before the
webhook's controller has provisioned its Role (the usual order at opt-in) is then refused
once or twice and acts within seconds of the grant, not minutes later."""

REPORT_SPREAD_S: Final = 5.0
"""A sidecar that finds its Deployment unusable waits up to this long (drawn at random) before it
says so on the Deployment, so that of many sidecars woken by the same change one reports it and
the others see the report on their watch instead of racing to write it."""

SignalKey: TypeAlias = tuple[str, str, str, str]


def refused_backoff_s(refusals: int) -> float:
    """How long to wait after the ``refusals``-th refusal in a row (1, 2, ...)."""
    doublings = max(0, min(refusals - 1, 16))
    return min(REFUSED_BACKOFF_S, REFUSED_FIRST_S * float(2**doublings))


def signal_key(signal: Interruption) -> SignalKey:
    """One notice: a new one on the same node (a new deadline) is a new signal."""
    deadline = signal.deadline.isoformat() if signal.deadline is not None else ""
    return (signal.node, str(signal.source), str(signal.kind), deadline)


def under_way(view: DeploymentView | None) -> bool:
    """Whether a move is under way that spot-failover may act on (opted in, not paused)."""
    return view is not None and view.state in UNFINISHED and view.overrides.acting


def interval_s(view: DeploymentView | None, *, poll_s: float, renew_s: float) -> float:
    """The pause between ticks: the Lease's renewal interval while a move is under way, else
    the poll interval."""
    return renew_s if under_way(view) else poll_s


def changed(
    before: Mapping[str, str] | None, after: Mapping[str, str] | None, *, unusable: bool
) -> bool:
    """Whether the Deployment's annotations ``after`` (its newest copy) differ from ``before``
    (as the last tick found them) in what matters: the settings users set, or while the
    Deployment is unusable, any ``spot-failover/`` annotation (the fix may be to a kept one, and
    another sidecar's report is one). Not knowing either, nothing changed."""
    if before is None or after is None:
        return False
    if unusable:
        keys: Collection[str] = {
            key for key in (*before, *after) if key.startswith(contract.PREFIX)
        }
    else:
        keys = contract.USER_ANNOTATIONS
    return any(before.get(key) != after.get(key) for key in keys)


def unusable_wait_s(times: int, spread: float) -> float:
    """How long to leave an unusable Deployment alone (unless it changes) after finding it so
    ``times`` times in a row: the first time only a moment drawn from ``spread`` in ``[0, 1]``
    (:data:`REPORT_SPREAD_S`), then as after a refusal."""
    return spread * REPORT_SPREAD_S if times <= 1 else refused_backoff_s(times - 1)


def needs_attention(
    view: DeploymentView | None,
    signal: Interruption | None,
    now: datetime,
    *,
    handled: Collection[SignalKey],
    wake_at: datetime | None,
    refused_until: datetime | None,
    changed: bool = False,
    unusable_until: datetime | None = None,
) -> bool:
    """Whether this tick reads the Deployment and decides (else it only polled).

    ``view`` is the last one settled (``None``: never read yet); ``handled`` the signals
    already decided on; ``wake_at`` the wake-up :func:`settle` (or a ``Wait``) asked for;
    ``changed`` whether the Deployment changed in what matters since (:func:`changed`);
    ``unusable_until`` when to look again at a Deployment found unusable.
    """
    if refused_until is not None and now < refused_until:
        return False
    if changed:
        return True
    if unusable_until is not None:
        return now >= unusable_until  # nothing can be decided on it before it changes
    new_signal = signal is not None and signal_key(signal) not in handled
    if view is None or new_signal or under_way(view) or problems.outdated(view.body):
        return True  # (a problem reading the Deployment whole shows to be over: take it back)
    return wake_at is not None and now >= wake_at


@dataclasses.dataclass(frozen=True)
class Settled:
    """What a tick leaves for the next ones to remember."""

    view: DeploymentView
    handled: SignalKey | None
    """The signal now decided on for good, if any (to add to those handled)."""
    wake_at: datetime | None
    """When to read the Deployment again without a signal (``None``: not before one)."""


def settle(
    view: DeploymentView,
    policy: Policy,
    now: datetime,
    *,
    signal: Interruption | None,
    released_in: State | None,
    spread: float,
) -> Settled:
    """What to remember after a tick that ended on ``view``.

    ``released_in`` is the settled state the leader last released the Lease in, if that is
    the last the Lease showed: a read older than the leader's final write still shows the move
    under way, and the release tells where it ended. ``signal`` is the one this tick decided on
    (``None`` if none, or if the move it found settled while this sidecar waited: then it was
    not considered, and stays new). It is handled once the Deployment is settled. ``spread``
    in ``[0, 1]`` (drawn by the caller) places this sidecar's wake-up for a due failback within
    :data:`FAILBACK_SPREAD_S`.
    """
    if released_in is not None and view.state in UNFINISHED:
        view = dataclasses.replace(view, state=released_in)
    handled = signal_key(signal) if signal is not None and view.state not in UNFINISHED else None
    due = failback_due_at(view, policy, now)
    if due is not None and due <= now:
        due = now + SPOT_RECHECK
    cooldown = failback_cooldown(view, policy)
    if due is not None and isinstance(cooldown, timedelta):
        # Spread the Deployment's sidecars: the first to wake usually moves it alone.
        window_s = min(FAILBACK_SPREAD_S, cooldown.total_seconds() / 10)
        due += timedelta(seconds=spread * window_s)
    if view.state in UNFINISHED and not view.overrides.acting:
        due = now + HANDS_OFF_RECHECK
    return Settled(view=view, handled=handled, wake_at=due)
