"""The durable state of the failover, as kept in the Deployment's annotations.

The sidecar that starts a move is on a node that is about to disappear, so nothing about the
move may live in its memory: the state, where the template points, when the state last changed,
why, what the move changed (saved scheduling) and which interruption started it are all
annotations on the Deployment, and any sidecar can pick the work up from there.

* :class:`DeploymentView` is one read of a Deployment: the user's :class:`Overrides`, the
  durable state, and the body itself (needed to compute the next write). Parsing is strict;
  a value that cannot be read raises a typed error rather than being guessed at.
* :func:`transition_body` is the write: a copy of the body with the new state annotations
  (and, for moves, the new pod template), so that one conditional replace changes both.

The saved-scheduling annotation is kept as text in the view and parsed only when a move back
needs it, because a corrupt one must not stop anything else: the machine turns it into the
``Failed`` state with the parse error as the message.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime
from typing import Any, TypeVar

from sidecar.core import objects
from sidecar.core.errors import CorruptStateError, MalformedObjectError
from sidecar.core.history import HistoryEntry, dump_history, parse_history
from sidecar.core.objects import JSONObject
from sidecar.core.overrides import Overrides
from sidecar.core.signals import Interruption, Kind
from sidecar.core.strategy import Change
from sidecar.core.times import format_time, parse_time
from spot_common import contract
from spot_common.contract import ComputeType, State

_E = TypeVar("_E", State, ComputeType)

MESSAGE_LIMIT = 1024
"""Characters kept of the ``spot-failover/message`` annotation."""


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    """The interruption that started the current move, as kept in ``spot-failover/notice``."""

    node: str
    source: str
    kind: Kind
    action: str | None
    time: datetime
    """When the action is due if the source said so, else when the signal was seen."""

    @classmethod
    def of(cls, interruption: Interruption) -> Notice:
        """The notice to store for ``interruption``."""
        return cls(
            node=interruption.node,
            source=str(interruption.source),
            kind=interruption.kind,
            action=interruption.action,
            time=interruption.deadline or interruption.seen_at,
        )

    def same_signal(self, interruption: Interruption) -> bool:
        """Whether ``interruption`` is the signal this notice recorded (same node and kind).

        Sources differ for one event (IMDS, then a taint), so they are not compared.
        """
        return self.node == interruption.node and self.kind == interruption.kind

    def to_json(self) -> str:
        """The annotation value."""
        document = {
            "node": self.node,
            "source": self.source,
            "kind": str(self.kind),
            "action": self.action,
            "time": format_time(self.time),
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Notice:
        """Parse the annotation value; :class:`CorruptStateError` if it is not one."""
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            raise CorruptStateError(contract.NOTICE, "not JSON") from None
        if not isinstance(document, dict) or set(document) != {
            "node", "source", "kind", "action", "time"
        }:  # fmt: skip
            raise CorruptStateError(contract.NOTICE, "not {node, source, kind, action, time}")
        node, source, kind, action, time = (
            document[key] for key in ("node", "source", "kind", "action", "time")
        )
        parsed_time = parse_time(time) if isinstance(time, str) else None
        if (
            not isinstance(node, str)
            or not isinstance(source, str)
            or not isinstance(kind, str)
            or kind not in set(Kind)
            or not (action is None or isinstance(action, str))
            or parsed_time is None
        ):
            raise CorruptStateError(contract.NOTICE, "a field has the wrong type or value")
        return cls(node, source, Kind(kind), action, parsed_time)


@dataclasses.dataclass(frozen=True)
class DeploymentView:
    """One read of a Deployment: user overrides, durable state, and the body itself."""

    body: JSONObject
    name: str
    namespace: str
    overrides: Overrides
    state: State
    compute_type: ComputeType
    last_transition: datetime | None
    """Time of the last state change; ``None`` only in ``Watching`` before any move."""
    message: str
    history: tuple[HistoryEntry, ...]
    saved_scheduling: str | None
    """Raw ``saved-scheduling`` annotation; parse with ``SavedScheduling.from_json``."""
    notice: Notice | None
    replicas: int
    saved_strategy: str | None = None
    """Raw ``saved-strategy`` annotation; decode with :func:`sidecar.core.strategy.decode`."""
    quota_retry: datetime | None = None
    """When the leader last asked for the pods a quota refused (an unreadable value: never)."""

    @property
    def template(self) -> JSONObject:
        """``spec.template`` of the body."""
        return objects.child(objects.child(self.body, "spec", ""), "template", "spec")

    @classmethod
    def parse(cls, deployment: JSONObject) -> DeploymentView:
        """Read a Deployment in JSON form.

        Raises :class:`~sidecar.core.errors.InvalidValueError` for a bad user annotation,
        :class:`CorruptStateError` for a bad state annotation, :class:`MalformedObjectError`
        for a body the API would not have returned.
        """
        metadata = objects.child(deployment, "metadata", "")
        annotations = objects.string_map(metadata, "annotations", "metadata")
        name = objects.text(metadata, "name", "metadata")
        if not name:
            raise MalformedObjectError("metadata.name", "missing")
        raw_state = annotations.get(contract.STATE)
        state = parse_member(State, raw_state, contract.STATE) if raw_state else State.WATCHING
        raw_type = annotations.get(contract.COMPUTE_TYPE)
        compute_type = (
            parse_member(ComputeType, raw_type, contract.COMPUTE_TYPE)
            if raw_type
            else _implied_compute_type(state)
        )
        last_transition = _last_transition(annotations.get(contract.LAST_TRANSITION))
        if last_transition is None and state is not State.WATCHING:
            raise CorruptStateError(contract.LAST_TRANSITION, f"missing in state {state}")
        raw_history = annotations.get(contract.HISTORY)
        raw_notice = annotations.get(contract.NOTICE)
        spec = objects.child(deployment, "spec", "")
        return cls(
            body=deployment,
            name=name,
            namespace=objects.text(metadata, "namespace", "metadata", "") or "",
            overrides=Overrides.parse(annotations),
            state=state,
            compute_type=compute_type,
            last_transition=last_transition,
            message=annotations.get(contract.MESSAGE, ""),
            history=parse_history(raw_history) if raw_history else (),
            saved_scheduling=annotations.get(contract.SAVED_SCHEDULING),
            notice=Notice.from_json(raw_notice) if raw_notice else None,
            replicas=objects.integer(spec, "replicas", "spec", 1) or 0,
            saved_strategy=annotations.get(contract.SAVED_STRATEGY),
            quota_retry=parse_time(annotations.get(contract.QUOTA_RETRY) or ""),
        )


def transition_body(
    view: DeploymentView,
    *,
    state: State,
    compute_type: ComputeType,
    now: datetime,
    message: str,
    history: tuple[HistoryEntry, ...],
    saved_scheduling: str | None,
    notice: Notice | None,
    template: JSONObject | None = None,
    strategy: Change | None = None,
) -> dict[str, Any]:
    """A copy of the Deployment body carrying a transition, ready for a conditional replace.

    The state annotations are set from the arguments (``saved_scheduling`` or ``notice`` of
    ``None`` removes that annotation); ``template``, if given, replaces ``spec.template``;
    ``strategy``, if given, sets ``spec.strategy`` (unless its strategy is ``None``) and the
    saved strategy (``None`` removes it).
    ``metadata.resourceVersion`` is kept: it is the precondition that makes the write fail with
    409 if anyone wrote the Deployment since it was read.
    """
    body = copy.deepcopy(dict(view.body))
    metadata = body.setdefault("metadata", {})
    if not metadata.get("resourceVersion"):
        raise MalformedObjectError(
            "metadata.resourceVersion", "missing: the write would not be conditional"
        )
    annotations = dict(metadata.get("annotations") or {})
    annotations[contract.STATE] = str(state)
    annotations[contract.COMPUTE_TYPE] = str(compute_type)
    annotations[contract.LAST_TRANSITION] = format_time(now)
    annotations[contract.MESSAGE] = message[:MESSAGE_LIMIT]
    annotations[contract.HISTORY] = dump_history(history)
    annotations.pop(contract.QUOTA_RETRY, None)  # a transition starts or ends a wait anew
    annotations.pop(contract.PROBLEM, None)  # written, so nothing stops spot-failover now
    for key, value in (
        (contract.SAVED_SCHEDULING, saved_scheduling),
        (contract.NOTICE, None if notice is None else notice.to_json()),
    ):
        if value is None:
            annotations.pop(key, None)
        else:
            annotations[key] = value
    if strategy is not None:
        if strategy.saved is None:
            annotations.pop(contract.SAVED_STRATEGY, None)
        else:
            annotations[contract.SAVED_STRATEGY] = strategy.saved
        if strategy.strategy is not None:
            body.setdefault("spec", {})["strategy"] = copy.deepcopy(strategy.strategy)
    metadata["annotations"] = annotations
    if template is not None:
        body.setdefault("spec", {})["template"] = copy.deepcopy(dict(template))
    return body


def quota_retry_body(view: DeploymentView, now: datetime) -> dict[str, Any]:
    """A copy of the Deployment body with :data:`~spot_common.contract.QUOTA_RETRY` set to ``now``
    and nothing else changed, for a conditional replace (its ``resourceVersion`` is kept)."""
    body = copy.deepcopy(dict(view.body))
    metadata = body.setdefault("metadata", {})
    if not metadata.get("resourceVersion"):
        raise MalformedObjectError(
            "metadata.resourceVersion", "missing: the write would not be conditional"
        )
    metadata["annotations"] = {
        **(metadata.get("annotations") or {}),
        contract.QUOTA_RETRY: format_time(now),
    }
    return body


def parse_member(kind: type[_E], raw: str, key: str) -> _E:
    """``raw`` as a member of ``kind``; :class:`CorruptStateError` naming ``key`` (and a
    bounded excerpt of ``raw``) if it is none of them."""
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(str(member) for member in kind)
        shown = raw if len(raw) <= 80 else raw[:80] + "..."
        raise CorruptStateError(key, f"{shown!r} is not one of {allowed}") from None


def _implied_compute_type(state: State) -> ComputeType:
    """Where the template points in ``state`` when the compute-type annotation is absent."""
    if state in {State.MIGRATING, State.ON_FARGATE}:
        return ComputeType.FARGATE
    return ComputeType.SPOT


def _last_transition(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    parsed = parse_time(raw)
    if parsed is None:
        raise CorruptStateError(contract.LAST_TRANSITION, f"{raw!r} is not an RFC 3339 time")
    return parsed
