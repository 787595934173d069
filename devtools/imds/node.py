"""The state of one simulated EC2 node's metadata service, as plain data.

Each simulated node has its own tokens, notices, faults and request log, exactly as each real
instance has its own IMDS. The simulator holds one :class:`NodeState` per node behind a lock;
:mod:`devtools.imds.protocol` reads and updates it to answer a request.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Final

ACTIONS: Final = ("terminate", "stop", "hibernate")
NOTICE_LEAD: Final = timedelta(minutes=2)
"""How far the action lies after the notice by default: EC2's two-minute warning."""
LOG_LIMIT: Final = 10_000
"""Request records kept per node; the counters keep counting beyond it."""
GARBAGE: Final = '{"action": "terminate", "ti\x00me": <html>'
"""Default body of the ``malformed`` fault: neither JSON nor the documented shape."""

_NODE_NAME: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?", re.ASCII)


class FaultKind(enum.StrEnum):
    """What a fault does to the requests it matches."""

    ERROR = "error"
    """Answer with a 5xx status instead (any path, the token PUT included)."""
    SLOW = "slow"
    """Wait ``seconds`` before answering (any path); combines with the other kinds."""
    MALFORMED = "malformed"
    """Answer 200 with ``body`` instead of the JSON of instance-action, rebalance or scheduled
    events, whether or not a notice is set (an authorised GET only)."""
    HANG_TOKEN = "hang-token"  # noqa: S105 -- a fault name
    """Never answer the token PUT, as IMDSv2 with a hop limit of 1 looks from a pod network: the
    connection stays open until the client gives up."""


MALFORMABLE_PATHS: Final = frozenset(
    {
        "/latest/meta-data/spot/instance-action",
        "/latest/meta-data/events/recommendations/rebalance",
        "/latest/meta-data/events/maintenance/scheduled",
    }
)
TOKEN_PATH: Final = "/latest/api/token"  # noqa: S105 -- a path


@dataclasses.dataclass
class Fault:
    """One injected fault; ``remaining`` counts the requests it still applies to (None: all)."""

    kind: FaultKind
    status: int = 500
    seconds: float = 0.0
    path: str | None = None
    remaining: int | None = None
    body: str = GARBAGE

    def __post_init__(self) -> None:
        self.kind = FaultKind(self.kind)
        if not 500 <= self.status <= 599:
            raise ValueError(f"fault status must be a 5xx, not {self.status}")
        if self.seconds < 0:
            raise ValueError("fault seconds must not be negative")
        if self.remaining is not None and self.remaining < 1:
            raise ValueError("fault count must be at least 1 (or null for every request)")
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError(f"fault path must be an IMDS path such as {TOKEN_PATH}")
        try:
            self.body.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise ValueError("fault body: only the surrogates U+DC80..U+DCFF (raw bytes)") from None

    def matches(self, method: str, path: str) -> bool:
        if self.remaining == 0 or (self.path is not None and self.path != path):
            return False
        if self.kind is FaultKind.HANG_TOKEN:
            return method == "PUT" and path == TOKEN_PATH
        if self.kind is FaultKind.MALFORMED:
            return method == "GET" and path in MALFORMABLE_PATHS
        return True

    def consume(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1

    def as_json(self) -> dict[str, object]:
        return {
            "kind": str(self.kind),
            "status": self.status,
            "seconds": self.seconds,
            "path": self.path,
            "remaining": self.remaining,
        }


@dataclasses.dataclass(frozen=True)
class Notice:
    """An instance-action notice, served from ``visible_at`` on."""

    action: str
    visible_at: datetime
    time: datetime


@dataclasses.dataclass(frozen=True)
class Rebalance:
    """A rebalance recommendation, served from ``visible_at`` on."""

    visible_at: datetime
    notice_time: datetime


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    """One IMDS request as the node saw it; ``status`` is None when it was never answered."""

    method: str
    path: str
    status: int | None
    time: datetime
    client: str
    fault: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "time": format_time(self.time),
            "client": self.client,
            "fault": self.fault,
        }


@dataclasses.dataclass
class NodeState:
    """Everything one simulated node's IMDS knows."""

    name: str
    instance_id: str
    life_cycle: str = "spot"
    v2_only: bool = True
    notice_ip_limit: int | None = None
    notice: Notice | None = None
    rebalance: Rebalance | None = None
    scheduled_events: list[object] = dataclasses.field(default_factory=list)
    faults: list[Fault] = dataclasses.field(default_factory=list)
    tokens: dict[str, datetime] = dataclasses.field(default_factory=dict)
    """Token -> expiry."""
    notice_clients: list[str] = dataclasses.field(default_factory=list)
    """Client IPs admitted to notices, in order of first ask, up to ``notice_ip_limit``."""
    log: collections.deque[RequestRecord] = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=LOG_LIMIT)
    )
    counts: collections.Counter[tuple[str, str, int | None]] = dataclasses.field(
        default_factory=collections.Counter
    )

    def record(self, record: RequestRecord) -> None:
        self.log.append(record)
        self.counts[record.method, record.path, record.status] += 1

    def summary(self) -> dict[str, object]:
        """The node as the control API shows it."""
        return {
            "name": self.name,
            "instance_id": self.instance_id,
            "life_cycle": self.life_cycle,
            "v2_only": self.v2_only,
            "notice_ip_limit": self.notice_ip_limit,
            "notice": None
            if self.notice is None
            else {
                "action": self.notice.action,
                "visible_at": format_time(self.notice.visible_at),
                "time": format_time(self.notice.time),
            },
            "rebalance": None
            if self.rebalance is None
            else {
                "visible_at": format_time(self.rebalance.visible_at),
                "notice_time": format_time(self.rebalance.notice_time),
            },
            "scheduled_events": self.scheduled_events,
            "faults": [fault.as_json() for fault in self.faults if fault.remaining != 0],
            "requests": sum(self.counts.values()),
        }


def check_node_name(name: str) -> str:
    """Node names become URL path segments: Kubernetes node-name characters only."""
    if not _NODE_NAME.fullmatch(name):
        raise ValueError(f"invalid node name {name!r}: use letters, digits, '.', '-', '_'")
    return name


def check_life_cycle(life_cycle: str) -> str:
    if life_cycle not in ("spot", "on-demand"):
        raise ValueError(f"life_cycle must be 'spot' or 'on-demand', not {life_cycle!r}")
    return life_cycle


def check_ip_limit(limit: int | None) -> int | None:
    if limit is not None and limit < 1:
        raise ValueError("notice_ip_limit must be at least 1 (or null for no limit)")
    return limit


def default_instance_id(name: str) -> str:
    """A stable, well-formed instance id per node name (17 hex digits, like current ids)."""
    return "i-" + hashlib.sha256(name.encode()).hexdigest()[:17]


def format_time(moment: datetime) -> str:
    """IMDS's time format: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
