"""What the bodies of the EC2 instance metadata service mean, as pure functions.

The sidecar trusts IMDS to tell it that its node is about to go, so every body it reads is
checked against the documented shape before it becomes a value. Parsing lives here, away from
HTTP, so that it can be property-tested: for any input, a parser either returns a valid value
or raises :class:`ImdsMalformed`, never anything else.

The root of the IMDS error hierarchy lives here too, because a malformed body is found by these
pure functions; the adapter :mod:`sidecar.adapters.imds` adds the errors that come from the
network and draws the whole hierarchy.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from typing import Final

from sidecar.core.signals import Interruption, Kind, Source

INSTANCE_ACTION_PATH: Final = "/latest/meta-data/spot/instance-action"
REBALANCE_PATH: Final = "/latest/meta-data/events/recommendations/rebalance"
INSTANCE_ID_PATH: Final = "/latest/meta-data/instance-id"
LIFE_CYCLE_PATH: Final = "/latest/meta-data/instance-life-cycle"
TOKEN_PATH: Final = "/latest/api/token"  # noqa: S105 -- a path

ACTIONS: Final = frozenset({"terminate", "stop", "hibernate"})
"""The actions a spot instance-action notice may announce."""

BODY_EXCERPT_CHARS: Final = 120
"""How much of an offending body an error message quotes: enough to recognise it, no more."""

_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
_INSTANCE_ID: Final = re.compile(r"i-[0-9a-f]{8,17}", re.ASCII)
_LIFE_CYCLE: Final = re.compile(r"[a-z][a-z0-9-]{0,31}", re.ASCII)
_TOKEN: Final = re.compile(r"[A-Za-z0-9+/=_.~-]{1,4096}", re.ASCII)


class ImdsError(Exception):
    """Base of every error the IMDS client raises (hierarchy: :mod:`sidecar.adapters.imds`)."""


class ImdsMalformed(ImdsError):
    """IMDS answered, but the body is not the documented shape.

    The message names the path, what was wrong, and a truncated excerpt of the body.
    """

    def __init__(self, path: str, body: str, problem: str) -> None:
        self.path = path
        self.body_excerpt = excerpt(body)
        self.problem = problem
        super().__init__(f"IMDS {path}: {problem}; body: {self.body_excerpt}")


@dataclasses.dataclass(frozen=True, slots=True)
class InstanceAction:
    """A spot interruption notice: what will happen to the instance, and when (UTC)."""

    action: str
    time: datetime


def excerpt(body: str) -> str:
    """A printable, bounded quotation of ``body`` for messages and logs."""
    if len(body) <= BODY_EXCERPT_CHARS:
        return repr(body)
    return repr(body[:BODY_EXCERPT_CHARS]) + f"... ({len(body)} chars)"


def decode(path: str, raw: bytes) -> str:
    """The text of a body; IMDS bodies are UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ImdsMalformed(path, raw.decode("utf-8", "replace"), "not UTF-8") from None


def parse_time(path: str, body: str, value: object, field: str) -> datetime:
    """An RFC 3339 timestamp with an explicit offset, as an aware UTC datetime."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ImdsMalformed(
            path, body, f"{field!r} is not an RFC 3339 time such as 2026-01-02T15:04:05Z"
        )
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ImdsMalformed(path, body, f"{field!r} is not a valid calendar time") from None


def _json_object(path: str, body: str) -> dict[str, object]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise ImdsMalformed(path, body, "not JSON") from None
    if not isinstance(value, dict):
        raise ImdsMalformed(path, body, "not a JSON object")
    return value


def parse_instance_action(body: str) -> InstanceAction:
    """``{"action": "terminate"|"stop"|"hibernate", "time": "<RFC 3339>"}``; extra keys are
    ignored, so that a field AWS adds later does not hide a notice."""
    path = INSTANCE_ACTION_PATH
    document = _json_object(path, body)
    action = document.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise ImdsMalformed(path, body, f"'action' is not one of {sorted(ACTIONS)}")
    return InstanceAction(action=action, time=parse_time(path, body, document.get("time"), "time"))


def parse_rebalance(body: str) -> datetime:
    """``{"noticeTime": "<RFC 3339>"}``: when EC2 recommended the rebalance (UTC)."""
    path = REBALANCE_PATH
    document = _json_object(path, body)
    return parse_time(path, body, document.get("noticeTime"), "noticeTime")


def parse_instance_id(body: str) -> str:
    """``i-`` followed by 8 or 17 hex digits (older and newer ids)."""
    if not _INSTANCE_ID.fullmatch(body):
        raise ImdsMalformed(
            INSTANCE_ID_PATH, body, "not an instance id such as i-0123456789abcdef0"
        )
    return body


def parse_life_cycle(body: str) -> str:
    """The purchasing option: ``spot``, ``on-demand``, or another one AWS names in lowercase
    (``scheduled``, ``capacity-block``); callers compare with ``"spot"``."""
    if not _LIFE_CYCLE.fullmatch(body):
        raise ImdsMalformed(
            LIFE_CYCLE_PATH, body, "not a purchasing option such as spot or on-demand"
        )
    return body


def parse_token(body: str) -> str:
    """An IMDSv2 session token: an opaque, printable, header-safe string."""
    if not _TOKEN.fullmatch(body):
        raise ImdsMalformed(TOKEN_PATH, body, "not a session token")
    return body


def interruption_from_instance_action(
    notice: InstanceAction, *, node: str, seen_at: datetime
) -> Interruption:
    """The signal an instance-action notice stands for: the node goes at ``notice.time``."""
    return Interruption(
        node=node,
        source=Source.IMDS_INSTANCE_ACTION,
        kind=Kind.INTERRUPTION,
        seen_at=seen_at,
        action=notice.action,
        deadline=notice.time,
        detail=f"spot instance-action {notice.action} at {notice.time.isoformat()}",
    )


def interruption_from_rebalance(
    notice_time: datetime, *, node: str, seen_at: datetime
) -> Interruption:
    """The signal a rebalance recommendation stands for: elevated risk, no deadline."""
    return Interruption(
        node=node,
        source=Source.IMDS_REBALANCE,
        kind=Kind.REBALANCE,
        seen_at=seen_at,
        detail=f"rebalance recommended at {notice_time.isoformat()}",
    )
