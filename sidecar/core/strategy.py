"""The rollout strategy during a move: every replacement at once, and the user's back after.

A Fargate pod needs about a minute to become Ready, and a rolling update starts the next batch
only when the last one is available. Kubernetes' default strategy (25 % / 25 %) gives three
replicas a surge of one: about three minutes on Fargate, beyond the two-minute notice. So a move
sets :data:`~spot_common.contract.MOVE_STRATEGY` (``maxSurge: 100%``, ``maxUnavailable: 0``) in the
same write as its pod template, and saves the user's strategy in the annotation
:data:`~spot_common.contract.SAVED_STRATEGY`, in the compact form :func:`encode` gives (the
admission policy compares the same form in CEL, so a sidecar can only go user → move → user's
again).

* :func:`for_move`: the change a move makes (none for a strategy that already is the move's,
  none for ``Recreate``, which the user chose because two sets of pods must not run at once:
  the move keeps it and says that it means downtime);
* :func:`restored`: the change that ends a move. Only a strategy the move set is replaced; one
  the user wrote meanwhile is theirs and stays (:func:`ending` says so, as
  :mod:`~sidecar.core.restore` does for the pod template);
* :func:`within_quota`: the move's strategy made to fit a ResourceQuota that refuses the surge,
  and :data:`QUOTA_RETRY_EVERY`, how often the refused pods are asked for again after that.

A change of ``spec.strategy`` alone starts no rollout (the pod-template hash does not change),
so restoring it after the rollout is harmless. All functions are pure.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any, Final

from sidecar.core import objects
from sidecar.core.errors import CorruptStateError, MalformedObjectError
from sidecar.core.objects import JSONObject
from spot_common import contract

QUOTA_RETRY_EVERY: Final = timedelta(seconds=5)
"""How often the leader asks again for the pods a quota refused, once the move is fitted to it.

The ReplicaSet controller retries a refused pod after an exponential back-off (5 ms doubling per
failure, to 1000 s) that nothing resets while some of its pods are still refused, and the
quota's freed room wakes nothing (kubernetes/kubernetes#98656): with three replicas and no room
for a surge, the last replacement waited over a minute for a quota that had room a second after
the old pod went. A change of the ReplicaSet is synced at once, so a write of
:data:`~spot_common.contract.QUOTA_RETRY` every few seconds bounds each wait."""

RECREATE: Final = "Recreate"
ROLLING_UPDATE: Final = "RollingUpdate"

_QUOTA_FORM: Final = re.compile(r"^RollingUpdate:100%:([1-9][0-9]*)$")
"""The move's strategy made to fit a quota: ``maxUnavailable`` a positive integer."""
_SURGE: Final = re.compile(r"^([0-9]+%?)?$")


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """What a write does to the strategy: the new ``spec.strategy`` (``None``: leave it) and the
    new :data:`~spot_common.contract.SAVED_STRATEGY` (``None``: remove it)."""

    strategy: dict[str, Any] | None
    saved: str | None


def current(deployment: JSONObject) -> JSONObject:
    """``spec.strategy`` of a Deployment as read (the API server fills in the defaults)."""
    return objects.child(objects.child(deployment, "spec", ""), "strategy", "spec")


def encode(strategy: JSONObject) -> str:
    """The compact, deterministic form: ``Recreate`` or ``RollingUpdate:<surge>:<unavailable>``
    (an integer as digits, a percentage as written; an absent value as the empty string).

    Lossless for what a strategy holds: :func:`decode` gives the same object back.
    """
    kind = objects.text(strategy, "type", "spec.strategy", "") or ""
    if strategy.get("rollingUpdate") is None:
        return kind
    rolling = objects.child(strategy, "rollingUpdate", "spec.strategy")
    surge, unavailable = (_int_or_string(rolling.get(key)) for key in _ROLLING_KEYS)
    return f"{kind}:{surge}:{unavailable}"


def decode(text: str) -> dict[str, Any]:
    """The ``spec.strategy`` that :func:`encode` gave ``text`` for; :class:`CorruptStateError`
    (naming :data:`~spot_common.contract.SAVED_STRATEGY`) if ``text`` is not such a form."""
    if text == RECREATE:
        return {"type": RECREATE}
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != ROLLING_UPDATE or not all(_SURGE.match(p) for p in parts[1:]):
        shown = text if len(text) <= 80 else text[:80] + "..."
        raise CorruptStateError(
            contract.SAVED_STRATEGY,
            f"{shown!r} is neither Recreate nor RollingUpdate:<maxSurge>:<maxUnavailable>",
        )
    rolling = {
        key: (value if value.endswith("%") else int(value))
        for key, value in zip(_ROLLING_KEYS, parts[1:], strict=True)
        if value
    }
    return {"type": ROLLING_UPDATE, "rollingUpdate": rolling}


def is_moves(strategy: JSONObject) -> bool:
    """Whether ``strategy`` is one a move sets: the move's own, or it made to fit a quota."""
    form = encode(strategy)
    return form == contract.MOVE_STRATEGY or _QUOTA_FORM.match(form) is not None


def for_move(strategy: JSONObject) -> Change | None:
    """The change a move makes to ``strategy``; ``None`` when it keeps it (already the move's,
    or ``Recreate``: see :func:`downtime_warning`)."""
    form = encode(strategy)
    if (
        form == contract.MOVE_STRATEGY
        or objects.text(strategy, "type", "spec.strategy") == RECREATE
    ):
        return None
    return Change(strategy=decode(contract.MOVE_STRATEGY), saved=form)


def restored(strategy: JSONObject, saved: str | None) -> Change | None:
    """The change that ends a move: the saved strategy back if the move's is still in place,
    else only the saved record dropped (the user's strategy stays); ``None``: nothing to do.

    With nothing saved (the user's strategy was the move's own), the move's own comes back.
    ``restored(for_move(t).strategy, for_move(t).saved)`` gives ``t`` back, for every ``t``.
    Raises :class:`CorruptStateError` if ``saved`` is not a strategy's form.
    """
    if not is_moves(strategy):
        return Change(strategy=None, saved=None) if saved is not None else None
    target = decode(saved if saved is not None else contract.MOVE_STRATEGY)
    if encode(target) == encode(strategy):
        return Change(strategy=None, saved=None) if saved is not None else None
    return Change(strategy=target, saved=None)


def within_quota(replicas: int, doomed: int, saved: str | None) -> Change:
    """The move's strategy made to fit a quota that admits no surge: keep ``maxSurge: 100%``
    (the quota admits what it admits) and let ``maxUnavailable`` be the pods on the interrupted
    node (at least one, at most ``replicas``): those are lost at the deadline anyway, and their
    deletion cost makes the rollout take them first, so the move goes on instead of stalling."""
    unavailable = min(max(replicas, 1), max(doomed, 1))
    return Change(
        strategy={
            "type": ROLLING_UPDATE,
            "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": unavailable},
        },
        saved=saved,
    )


def downtime_warning(strategy: JSONObject, where: str) -> str | None:
    """What to tell the user when the move keeps a ``Recreate`` strategy: it means downtime."""
    if objects.text(strategy, "type", "spec.strategy") != RECREATE:
        return None
    return (
        f"the Deployment's strategy is Recreate: every pod stops before its replacement starts "
        f"on {where}, so the move means downtime (about one Fargate start, a minute or more). "
        "spot-failover keeps Recreate, which says that two sets of pods must not run at once; "
        "use RollingUpdate if they may"
    )


def quota_refusal(deployment: JSONObject) -> str | None:
    """The message of a ``ReplicaFailure`` condition saying that a ResourceQuota refused pods,
    if the Deployment has one (the controller sets it while pod creations fail)."""
    state = objects.child(deployment, "status", "")
    for index, condition in enumerate(objects.items(state, "conditions", "status")):
        where = f"status.conditions[{index}]"
        if objects.text(condition, "type", where) != "ReplicaFailure":
            continue
        message = objects.text(condition, "message", where, "") or ""
        if objects.text(condition, "status", where) == "True" and "exceeded quota" in message:
            return message
    return None


_ROLLING_KEYS: Final = ("maxSurge", "maxUnavailable")


def _int_or_string(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedObjectError("spec.strategy.rollingUpdate", f"{value!r} is not int-or-string")
    return str(value)


STRATEGY: Final = "spec.strategy"
"""The field's name, as :attr:`Ending.kept` gives it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Ending:
    """What the write that ends a move does to the strategy, and what to say about it."""

    change: Change | None
    warning: str | None = None
    """Set when the saved strategy cannot be read: the strategy is left as it is."""
    kept: tuple[str, ...] = ()
    """``(STRATEGY,)`` when a strategy written since the move, other than the saved one, stays."""


def ending(deployment: JSONObject, saved: str | None) -> Ending:
    """:func:`restored` for the write that ends a move, a warning if the saved strategy cannot be
    read (then the strategy stays as it is and the unreadable record is dropped), and whether a
    strategy written during the move stays instead of the saved one."""
    strategy = current(deployment)
    try:
        change = restored(strategy, saved)
    except CorruptStateError as error:
        return Ending(Change(strategy=None, saved=None), f"{error}; the strategy was left as it is")
    written = saved is not None and not is_moves(strategy) and encode(strategy) != saved
    return Ending(change, kept=(STRATEGY,) if written else ())
