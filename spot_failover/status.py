"""What ``spot-failover status`` knows about a Deployment, read from its annotations alone.

The sidecars keep the whole failover state in ``spot-failover/*`` annotations on the Deployment
(:mod:`spot_common.contract`), so reading one Deployment tells its story without asking any pod.
:func:`read` turns one Deployment in JSON form (a plain dict, as the API returns it) into a
:class:`DeploymentStatus`, reusing the sidecar's own parsers so both programs agree on what a
value means.

The sidecar parses strictly and stops at the first bad value; this module must not. A user who
runs ``status`` wants to see every Deployment, most of all the one whose annotations someone
edited by hand. So each annotation is read on its own: a value that does not parse becomes
``None`` in the status (shown as ``?``) plus a :class:`Problem` naming the annotation and what
is wrong with it, and everything else is still read. What the sidecars say stops them
(``spot-failover/problem``: a move refused for the size of the annotations, say) is a problem
too, where this reading finds none of its own. Nothing here raises on any input.

Which Deployments are listed (:func:`is_listed`): those opted in (``spot-failover/enabled``,
any value but ``"false"``, so that a typo such as ``"yes"`` shows up with its problem instead
of hiding the Deployment) and those carrying a ``spot-failover/state`` (opted out mid-way, or
state left behind).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from sidecar.core.annotations import Notice, parse_member
from sidecar.core.durations import Duration
from sidecar.core.errors import CorruptStateError, InvalidInputError
from sidecar.core.history import HistoryEntry, parse_history
from sidecar.core.overrides import Overrides
from sidecar.core.saved_scheduling import SavedScheduling
from sidecar.core.times import parse_time
from spot_common import contract
from spot_common.contract import ComputeType, State

_T = TypeVar("_T")

USER_KEYS: Final = contract.USER_ANNOTATIONS
KEPT_KEYS: Final = contract.KEPT_ANNOTATIONS
KNOWN_KEYS: Final = frozenset({*USER_KEYS, *KEPT_KEYS})

_UNREADABLE: Final = (InvalidInputError, ValueError, TypeError, OverflowError, RecursionError)
"""What a parser of an outside value may raise. The sidecar's parsers raise their typed errors
for what they check, but a value of a shape they do not expect (a JSON list where a string
belongs, a duration too long for ``timedelta``) can surface as a plain Python error; here any
of them is a problem to show, not a reason to stop."""


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """An annotation (or field) that could not be read, and why, in words a user can act on."""

    annotation: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class Failback:
    """When the Deployment moves back to spot, as far as its annotations say.

    The cooldown comes from ``spot-failover/failback-after`` if set, else from the sidecar's
    setting ``SPOT_FAILOVER_FAILBACK_AFTER_S``, which the annotations do not show: then
    ``after`` is ``None`` and only "the sidecar's default" can be said.
    """

    after: Duration | None
    """The annotation's cooldown; ``None``: not set (or unreadable)."""
    due_at: datetime | None
    """In ``OnFargate`` with a cooldown from the annotation: the end of the cooldown, as the
    sidecar computes it (``sidecar.core.failback.failback_due_at``: last transition + cooldown)."""


@dataclasses.dataclass(frozen=True)
class DeploymentStatus:
    """One Deployment's failover status; ``None`` marks a value that could not be read."""

    namespace: str
    name: str
    state: State | None
    """``Watching`` when the annotation is absent (no move yet), as the sidecar reads it."""
    compute_type: ComputeType | None
    last_transition: datetime | None
    message: str
    enabled: bool | None
    """``spot-failover/enabled`` is exactly ``"true"`` (the webhook injects only then)."""
    paused: bool | None
    notice: Notice | None
    failback: Failback
    history: tuple[HistoryEntry, ...]
    """The entries that parse, oldest first; bad ones are in :attr:`problems`."""
    history_count: int | None
    """Entries in the history annotation, readable or not; ``None`` if it is not a list."""
    saved_scheduling: SavedScheduling | None
    annotations: Mapping[str, str]
    """Every ``spot-failover/*`` annotation, as found."""
    problems: tuple[Problem, ...]

    def unreadable(self, annotation: str) -> bool:
        """Whether ``annotation`` is there but could not be read (shown as ``?``)."""
        return any(problem.annotation == annotation for problem in self.problems)


def is_listed(deployment: object) -> bool:
    """Whether ``status`` shows ``deployment``: opted in, or carrying a failover state."""
    annotations = _raw_annotations(deployment)
    enabled = annotations.get(contract.ENABLED)
    if isinstance(enabled, str) and enabled != "false":
        return True
    return isinstance(annotations.get(contract.STATE), str)


def read(deployment: object) -> DeploymentStatus:
    """The status of one Deployment in JSON form; never raises."""
    problems: list[Problem] = []
    metadata = _mapping(deployment, "metadata")
    name = _text(metadata, "name")
    if not name:
        problems.append(Problem("metadata.name", "metadata.name is missing"))
    annotations = _string_annotations(deployment, problems)

    def guard(annotation: str, parse: Callable[[], _T]) -> _T | None:
        try:
            return parse()
        except _UNREADABLE as error:
            problems.append(Problem(annotation, _describe(annotation, annotations, error)))
            return None

    state = _state(annotations.get(contract.STATE), guard)
    last_transition = _last_transition(annotations.get(contract.LAST_TRANSITION), state, guard)
    enabled = _enabled(annotations.get(contract.ENABLED), problems)
    overrides = _overrides(annotations, guard)
    paused = overrides[contract.PAUSED].paused if contract.PAUSED in overrides else None
    failback_after = (
        overrides[contract.FAILBACK_AFTER].failback_after
        if contract.FAILBACK_AFTER in overrides
        else None
    )
    raw_notice = annotations.get(contract.NOTICE)
    raw_saved = annotations.get(contract.SAVED_SCHEDULING)
    history, history_count = _history(annotations.get(contract.HISTORY), problems)
    status = DeploymentStatus(
        namespace=_text(metadata, "namespace"),
        name=name or "?",
        state=state,
        compute_type=_compute_type(annotations.get(contract.COMPUTE_TYPE), state, guard),
        last_transition=last_transition,
        message=annotations.get(contract.MESSAGE, ""),
        enabled=enabled,
        paused=paused if contract.PAUSED in annotations else False,
        notice=guard(contract.NOTICE, lambda: Notice.from_json(raw_notice)) if raw_notice else None,
        failback=Failback(
            after=failback_after,
            due_at=guard(
                contract.FAILBACK_AFTER, lambda: _due_at(state, last_transition, failback_after)
            ),
        ),
        history=history,
        history_count=history_count,
        saved_scheduling=guard(
            contract.SAVED_SCHEDULING, lambda: SavedScheduling.from_json(raw_saved)
        )
        if raw_saved
        else None,
        annotations=annotations,
        problems=(),
    )
    reported = annotations.get(contract.PROBLEM)
    if reported and not problems:  # what the sidecars said, unless this reading says it too
        problems.append(Problem(contract.PROBLEM, f"{contract.PROBLEM}: {reported}"))
    problems.extend(
        Problem(key, f"annotation {key} is not one spot-failover knows (a typo?)")
        for key in sorted(annotations)
        if key not in KNOWN_KEYS
    )
    return dataclasses.replace(status, problems=tuple(problems))


# --- one annotation each -------------------------------------------------------------------

_Guard = Callable[[str, Callable[[], Any]], Any]
"""``guard(annotation, parse)``: ``parse()``, or ``None`` with a :class:`Problem` recorded."""


def _state(raw: str | None, guard: _Guard) -> State | None:
    if not raw:  # the sidecar reads an absent or empty state as Watching
        return State.WATCHING
    parsed: State | None = guard(contract.STATE, lambda: parse_member(State, raw, contract.STATE))
    return parsed


def _compute_type(raw: str | None, state: State | None, guard: _Guard) -> ComputeType | None:
    if raw:
        parsed: ComputeType | None = guard(
            contract.COMPUTE_TYPE, lambda: parse_member(ComputeType, raw, contract.COMPUTE_TYPE)
        )
        return parsed
    if state is None:
        return None
    # What the sidecar implies when the annotation is absent (sidecar.core.annotations).
    if state in {State.MIGRATING, State.ON_FARGATE}:
        return ComputeType.FARGATE
    return ComputeType.SPOT


def _last_transition(raw: str | None, state: State | None, guard: _Guard) -> datetime | None:
    def parse() -> datetime | None:
        if raw is None:
            if state not in {None, State.WATCHING}:
                raise CorruptStateError(contract.LAST_TRANSITION, f"missing in state {state}")
            return None
        parsed = parse_time(raw)
        if parsed is None:
            raise CorruptStateError(
                contract.LAST_TRANSITION, f"{_clip(raw)!r} is not an RFC 3339 time"
            )
        return parsed

    moment: datetime | None = guard(contract.LAST_TRANSITION, parse)
    return moment


def _overrides(annotations: Mapping[str, str], guard: _Guard) -> dict[str, Overrides]:
    """Each user annotation parsed on its own by the sidecar's parser; bad ones are left out."""
    parsed: dict[str, Overrides] = {}
    for key in USER_KEYS:
        if key == contract.ENABLED or key not in annotations:
            continue
        overrides: Overrides | None = guard(key, functools.partial(_parse_one, key, annotations))
        if overrides is not None:
            parsed[key] = overrides
    return parsed


def _parse_one(key: str, annotations: Mapping[str, str]) -> Overrides:
    return Overrides.parse({key: annotations[key]})


def _enabled(raw: str | None, problems: list[Problem]) -> bool | None:
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    problems.append(
        Problem(
            contract.ENABLED,
            f"{contract.ENABLED}={_clip(raw)!r} is invalid: only the exact string "
            '"true" opts in (the webhook injects no sidecar), "false" opts out',
        )
    )
    return None


def _history(
    raw: str | None, problems: list[Problem]
) -> tuple[tuple[HistoryEntry, ...], int | None]:
    """The readable entries and the number of entries; one bad entry does not hide the rest."""
    if raw is None:
        return (), 0
    try:
        entries = parse_history(raw)
    except _UNREADABLE as whole:
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError):
            document = None
        if not isinstance(document, list):
            message = _describe(contract.HISTORY, {contract.HISTORY: raw}, whole)
            problems.append(Problem(contract.HISTORY, message))
            return (), None
        readable = [_one_entry(index, element, problems) for index, element in enumerate(document)]
        return tuple(entry for entry in readable if entry is not None), len(document)
    return entries, len(entries)


def _one_entry(index: int, element: object, problems: list[Problem]) -> HistoryEntry | None:
    try:
        return parse_history(json.dumps([element]))[0]
    except CorruptStateError as error:
        problem = error.problem.replace("entry 0", f"entry {index}", 1)
        message = f"annotation {contract.HISTORY} is corrupt: {problem}"
    except _UNREADABLE as error:
        message = f"annotation {contract.HISTORY} is corrupt: entry {index} ({error})"
    problems.append(Problem(contract.HISTORY, message))
    return None


def _due_at(
    state: State | None, last_transition: datetime | None, after: Duration | None
) -> datetime | None:
    if state is not State.ON_FARGATE or last_transition is None:
        return None
    if not isinstance(after, timedelta):
        return None
    return last_transition + after  # OverflowError past the year 9999: a problem to show


# --- reading the body tolerantly -----------------------------------------------------------


def _mapping(value: object, key: str) -> Mapping[str, Any]:
    found = value.get(key) if isinstance(value, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


def _raw_annotations(deployment: object) -> Mapping[str, Any]:
    return _mapping(_mapping(deployment, "metadata"), "annotations")


def _string_annotations(deployment: object, problems: list[Problem]) -> dict[str, str]:
    """The ``spot-failover/*`` annotations that are strings (the API allows nothing else)."""
    metadata = _mapping(deployment, "metadata")
    raw = metadata.get("annotations")
    if raw is not None and not isinstance(raw, Mapping):
        problems.append(Problem("metadata.annotations", "metadata.annotations is not an object"))
    found: dict[str, str] = {}
    for key, value in _raw_annotations(deployment).items():
        if not isinstance(key, str) or not key.startswith(contract.PREFIX):
            continue
        if isinstance(value, str):
            found[key] = value
        else:
            problems.append(Problem(key, f"annotation {key} is not a string"))
    return found


def _describe(annotation: str, annotations: Mapping[str, str], error: BaseException) -> str:
    if isinstance(error, InvalidInputError):
        return str(error)
    if isinstance(error, OverflowError):
        value = _clip(annotations.get(annotation, ""))
        return f"{annotation}={value!r} is invalid: a number in it is too large"
    return f"annotation {annotation} is corrupt: a field has the wrong type or value ({error})"


def _clip(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "..."
