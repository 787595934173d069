"""How one simulated node's IMDS answers one request: the protocol, without any I/O.

:func:`plan` takes the node's state, the request and ``now``, updates the state (tokens, fault
counters, request log) and returns a :class:`Plan`: how long to wait, then what to answer, or
to never answer at all. The HTTP server in :mod:`devtools.imds.server` only carries it out, so
the protocol reads top to bottom here.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from devtools.imds.node import (
    TOKEN_PATH,
    Fault,
    FaultKind,
    NodeState,
    Notice,
    RequestRecord,
    format_time,
)

TTL_HEADER: Final = "x-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER: Final = "x-aws-ec2-metadata-token"  # noqa: S105 -- a header name
MAX_TTL_S: Final = 21600
META: Final = "/latest/meta-data/"
INSTANCE_ACTION: Final = META + "spot/instance-action"
TERMINATION_TIME: Final = META + "spot/termination-time"
REBALANCE: Final = META + "events/recommendations/rebalance"
SCHEDULED: Final = META + "events/maintenance/scheduled"
INSTANCE_ID: Final = META + "instance-id"
LIFE_CYCLE: Final = META + "instance-life-cycle"
_TTL: Final = re.compile(r"[0-9]{1,5}", re.ASCII)


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


NOT_FOUND: Final = Reply(404, b"Not Found")


@dataclasses.dataclass(frozen=True)
class Plan:
    """Wait ``delay_s`` seconds, then send ``reply``; ``reply=None`` means never answer."""

    delay_s: float
    reply: Reply | None


@dataclasses.dataclass(frozen=True)
class Request:
    """One IMDS request to a node: ``path`` below the node's base URL, lowercase header names."""

    method: str
    path: str
    headers: Mapping[str, str]
    client: str


def plan(node: NodeState, request: Request, now: datetime) -> Plan:
    """Answer one request to ``node``, recording it in the node's log."""
    faults = [fault for fault in node.faults if fault.matches(request.method, request.path)]
    delay = 0.0
    for fault in faults:
        if fault.kind is FaultKind.SLOW:
            fault.consume()
            delay += fault.seconds
    terminal = _first(faults, FaultKind.HANG_TOKEN) or _first(faults, FaultKind.ERROR)
    reply: Reply | None
    if terminal is not None:
        terminal.consume()
        reply = None if terminal.kind is FaultKind.HANG_TOKEN else Reply(terminal.status, b"")
        fault_name: str | None = str(terminal.kind)
    else:
        reply, fault_name = _answer(node, request, now, _first(faults, FaultKind.MALFORMED))
    if fault_name is None and delay:
        fault_name = str(FaultKind.SLOW)
    status = None if reply is None else reply.status
    node.record(
        RequestRecord(request.method, request.path, status, now, request.client, fault_name)
    )
    node.faults = [fault for fault in node.faults if fault.remaining != 0]
    return Plan(delay, reply)


def _first(faults: list[Fault], kind: FaultKind) -> Fault | None:
    return next((fault for fault in faults if fault.kind is kind), None)


def _answer(
    node: NodeState, request: Request, now: datetime, malformed: Fault | None
) -> tuple[Reply, str | None]:
    if request.path == TOKEN_PATH:
        if request.method != "PUT":
            return _not_allowed("PUT"), None
        return _token(node, request.headers, now), None
    if request.method != "GET":
        return _not_allowed("GET"), None
    remaining = _authorise(node, request.headers, now)
    if remaining is None:
        return Reply(401, b"Unauthorized"), None
    if malformed is not None:
        malformed.consume()
        return Reply(200, malformed.body.encode("utf-8", "surrogateescape")), str(malformed.kind)
    route = _ROUTES.get(request.path)
    reply = NOT_FOUND if route is None else route(node, request.client, now)
    if remaining and reply.status == 200:
        reply = dataclasses.replace(reply, headers=((TTL_HEADER, str(remaining)),))
    return reply, None


def _not_allowed(allowed: str) -> Reply:
    return Reply(405, b"Method Not Allowed", headers=(("Allow", allowed),))


def _token(node: NodeState, headers: Mapping[str, str], now: datetime) -> Reply:
    if "x-forwarded-for" in headers:
        return Reply(403, b"Forbidden")
    ttl_text = headers.get(TTL_HEADER, "")
    if not _TTL.fullmatch(ttl_text) or not 1 <= int(ttl_text) <= MAX_TTL_S:
        return Reply(400, b"Bad Request: X-aws-ec2-metadata-token-ttl-seconds must be 1..21600")
    node.tokens = {token: expiry for token, expiry in node.tokens.items() if expiry > now}
    token = secrets.token_urlsafe(42)
    node.tokens[token] = now + timedelta(seconds=int(ttl_text))
    return Reply(200, token.encode(), headers=((TTL_HEADER, ttl_text),))


def _authorise(node: NodeState, headers: Mapping[str, str], now: datetime) -> int | None:
    """Seconds left on the request's token, 0 for an allowed tokenless (IMDSv1) request, or
    None for a refusal. A token that is present but invalid is refused even when v1 is on."""
    token = headers.get(TOKEN_HEADER)
    if token is None:
        return None if node.v2_only else 0
    expiry = node.tokens.get(token)
    if expiry is None or expiry <= now:
        return None
    return max(1, int((expiry - now).total_seconds()))


def _admitted(node: NodeState, client: str) -> bool:
    """The AWS mock's rule: only the first ``notice_ip_limit`` client IPs ever see events."""
    if node.notice_ip_limit is None or client in node.notice_clients:
        return True
    if len(node.notice_clients) < node.notice_ip_limit:
        node.notice_clients.append(client)
        return True
    return False


def _visible_notice(node: NodeState, client: str, now: datetime) -> Notice | None:
    notice = node.notice
    if notice is None or now < notice.visible_at or not _admitted(node, client):
        return None
    return notice


def _instance_action(node: NodeState, client: str, now: datetime) -> Reply:
    notice = _visible_notice(node, client, now)
    if notice is None:
        return NOT_FOUND
    return _json({"action": notice.action, "time": format_time(notice.time)})


def _termination_time(node: NodeState, client: str, now: datetime) -> Reply:
    notice = _visible_notice(node, client, now)
    return NOT_FOUND if notice is None else Reply(200, format_time(notice.time).encode())


def _rebalance(node: NodeState, client: str, now: datetime) -> Reply:
    rebalance = node.rebalance
    if rebalance is None or now < rebalance.visible_at or not _admitted(node, client):
        return NOT_FOUND
    return _json({"noticeTime": format_time(rebalance.notice_time)})


def _scheduled(node: NodeState, client: str, _now: datetime) -> Reply:
    return _json(node.scheduled_events if _admitted(node, client) else [])


def _instance_id(node: NodeState, _client: str, _now: datetime) -> Reply:
    return Reply(200, node.instance_id.encode())


def _life_cycle(node: NodeState, _client: str, _now: datetime) -> Reply:
    return Reply(200, node.life_cycle.encode())


def _json(value: object) -> Reply:
    """Tab-indented, as the AWS mock serves it."""
    return Reply(200, json.dumps(value, indent="\t").encode(), content_type="application/json")


_ROUTES: Final[dict[str, Callable[[NodeState, str, datetime], Reply]]] = {
    INSTANCE_ACTION: _instance_action,
    TERMINATION_TIME: _termination_time,
    REBALANCE: _rebalance,
    SCHEDULED: _scheduled,
    INSTANCE_ID: _instance_id,
    LIFE_CYCLE: _life_cycle,
}
"""The GET paths a node answers; anything else is 404."""
