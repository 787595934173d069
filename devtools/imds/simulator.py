"""An EC2 instance metadata service (IMDSv2) simulator for many nodes at once. Never shipped.

On EC2 every instance has its own IMDS at the link-local ``http://169.254.169.254``. One machine
cannot have several of those, so here each simulated node gets its own base URL on one local
server, ``http://127.0.0.1:<port>/nodes/<node>``, and under it the real paths::

    PUT /latest/api/token                                  (X-aws-ec2-metadata-token-ttl-seconds)
    GET /latest/meta-data/spot/instance-action             404, or {"action": ..., "time": ...}
    GET /latest/meta-data/spot/termination-time            404, or the time as plain text
    GET /latest/meta-data/events/recommendations/rebalance 404, or {"noticeTime": ...}
    GET /latest/meta-data/events/maintenance/scheduled     JSON array, [] by default
    GET /latest/meta-data/instance-id
    GET /latest/meta-data/instance-life-cycle              spot | on-demand

A sidecar under test is simply given its node's base URL instead of the link-local one. Each
node keeps its own tokens (a token from one node is refused by another), notices, faults and
request log. Behaviour follows real IMDS and the public AWS mock: v2-only by default (GET
without a valid token: 401), a TTL outside 1..21600: 400, notices as tab-indented JSON with
``time`` two minutes after the notice appears, optional delay before it appears, optional
"first K client IPs only". Paths of a node the simulator does not know answer 404, like any
unknown path; control calls about an unknown node answer 404 too (nodes are created
explicitly, with :meth:`ImdsSimulator.add_node` or ``POST /_control/nodes``).

Two ways to drive it: this class in-process, or the JSON control API of
:mod:`devtools.imds.control` for out-of-process tools. Time comes from ``clock`` (aware UTC),
so tests can expire tokens and release delayed notices without sleeping; only the ``slow``
fault waits in real time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from types import EllipsisType, TracebackType

from devtools.imds import control
from devtools.imds.node import (
    ACTIONS,
    GARBAGE,
    NOTICE_LEAD,
    Fault,
    FaultKind,
    NodeState,
    Notice,
    Rebalance,
    RequestRecord,
    check_ip_limit,
    check_life_cycle,
    check_node_name,
    default_instance_id,
)
from devtools.imds.protocol import NOT_FOUND, Plan, Request, plan
from devtools.imds.server import ImdsServer

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ImdsSimulator:
    """Simulated IMDS of several nodes on one local HTTP server (port 0: any free port).

    Use as a context manager, or ``start()`` then ``stop()``. Every method is thread-safe.
    Methods naming a node raise ``KeyError`` when the node does not exist.
    """

    def __init__(
        self, nodes: Iterable[str] = (), *, port: int = 0, clock: Clock = _utc_now
    ) -> None:
        self._clock = clock
        self._port = port
        self._nodes: dict[str, NodeState] = {}
        self._changed = threading.Condition()
        self._server: ImdsServer | None = None
        for name in nodes:
            self.add_node(name)

    # --- Lifecycle -----------------------------------------------------------------------------

    def start(self) -> ImdsSimulator:
        if self._server is not None:
            raise RuntimeError("the simulator is already started")
        self._server = ImdsServer(self._port, self)
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving; cuts hanging requests and joins every thread. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.close()

    def __enter__(self) -> ImdsSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Root URL of the server, e.g. ``http://127.0.0.1:41234``."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def base_url(self, node: str) -> str:
        """What a client uses instead of ``http://169.254.169.254`` for ``node``."""
        return f"{self.url}/nodes/{check_node_name(node)}"

    # --- Nodes ---------------------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        *,
        instance_id: str | None = None,
        life_cycle: str = "spot",
        v2_only: bool = True,
        notice_ip_limit: int | None = None,
    ) -> None:
        """A new node; ``ValueError`` if it exists. ``notice_ip_limit=K`` serves notices and
        events to the first K client IPs only (the AWS mock's default is 2; ours, no limit)."""
        node = NodeState(
            name=check_node_name(name),
            instance_id=instance_id or default_instance_id(name),
            life_cycle=check_life_cycle(life_cycle),
            v2_only=v2_only,
            notice_ip_limit=check_ip_limit(notice_ip_limit),
        )
        with self._changed:
            if name in self._nodes:
                raise ValueError(f"node {name!r} already exists")
            self._nodes[name] = node

    def configure_node(
        self,
        name: str,
        *,
        instance_id: str | None = None,
        life_cycle: str | None = None,
        v2_only: bool | None = None,
        notice_ip_limit: int | EllipsisType | None = ...,
    ) -> None:
        """Change a node's settings; arguments left out keep their value."""
        with self._changed:
            node = self._node(name)
            if instance_id is not None:
                node.instance_id = instance_id
            if life_cycle is not None:
                node.life_cycle = check_life_cycle(life_cycle)
            if v2_only is not None:
                node.v2_only = v2_only
            if not isinstance(notice_ip_limit, EllipsisType):
                node.notice_ip_limit = check_ip_limit(notice_ip_limit)

    def remove_node(self, name: str) -> None:
        with self._changed:
            self._node(name)
            del self._nodes[name]

    def nodes(self) -> list[str]:
        with self._changed:
            return list(self._nodes)

    def summary(self, name: str) -> dict[str, object]:
        """The node's settings, notices, active faults and request total, as JSON data."""
        with self._changed:
            return self._node(name).summary()

    # --- Notices -------------------------------------------------------------------------------

    def set_notice(
        self,
        node: str,
        action: str = "terminate",
        delay: float = 0.0,
        time: datetime | None = None,
    ) -> None:
        """Serve an instance-action notice ``delay`` seconds from now; its ``time`` defaults to
        two minutes after the notice appears."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        with self._changed:
            state = self._node(node)
            visible_at = self._clock() + timedelta(seconds=_non_negative(delay))
            state.notice = Notice(action, visible_at, _utc(time) or visible_at + NOTICE_LEAD)

    def notice(self, node: str) -> Notice | None:
        """The node's instance-action notice (served already or still delayed), or ``None``."""
        with self._changed:
            return self._node(node).notice

    def clear_notice(self, node: str) -> None:
        with self._changed:
            self._node(node).notice = None

    def set_rebalance(self, node: str, delay: float = 0.0, time: datetime | None = None) -> None:
        """Serve a rebalance recommendation ``delay`` seconds from now; ``noticeTime`` defaults
        to when it appears."""
        with self._changed:
            state = self._node(node)
            visible_at = self._clock() + timedelta(seconds=_non_negative(delay))
            state.rebalance = Rebalance(visible_at, _utc(time) or visible_at)

    def clear_rebalance(self, node: str) -> None:
        with self._changed:
            self._node(node).rebalance = None

    def set_scheduled_events(self, node: str, events: list[object]) -> None:
        with self._changed:
            self._node(node).scheduled_events = list(events)

    # --- Faults and tokens ---------------------------------------------------------------------

    def set_fault(
        self,
        node: str,
        kind: FaultKind | str,
        *,
        status: int = 500,
        seconds: float = 0.0,
        path: str | None = None,
        count: int | None = None,
        body: str = GARBAGE,
    ) -> None:
        """Add a fault (see :class:`FaultKind`), limited to requests for ``path`` if given and
        to the next ``count`` matching requests if given. Faults add up; a hang or an error
        wins over a normal answer, a slow fault delays whatever is answered."""
        if kind not in set(FaultKind):
            raise ValueError(f"unknown fault kind {kind!r}: one of {', '.join(FaultKind)}")
        fault = Fault(FaultKind(kind), status, _non_negative(seconds), path, count, body)
        with self._changed:
            self._node(node).faults.append(fault)

    def clear_faults(self, node: str) -> None:
        with self._changed:
            self._node(node).faults.clear()

    def revoke_tokens(self, node: str) -> None:
        """Forget every token the node issued: the next GET with one gets 401."""
        with self._changed:
            self._node(node).tokens.clear()

    # --- Request log ---------------------------------------------------------------------------

    def requests(self, node: str, path: str | None = None) -> list[RequestRecord]:
        """The node's most recent requests (oldest first), optionally for one IMDS path."""
        with self._changed:
            return [r for r in self._node(node).log if path is None or r.path == path]

    def count(
        self,
        node: str,
        path: str | None = None,
        *,
        method: str | None = None,
        status: int | EllipsisType | None = ...,
    ) -> int:
        """How many requests the node has seen, optionally by path, method and status."""
        with self._changed:
            return sum(
                n
                for (m, p, s), n in self._node(node).counts.items()
                if (path is None or p == path)
                and (method is None or m == method)
                and (isinstance(status, EllipsisType) or s == status)
            )

    def counts(self, node: str) -> dict[tuple[str, str, int | None], int]:
        """Request counters by (method, path, status); unlike the log, never truncated."""
        with self._changed:
            return dict(self._node(node).counts)

    def clear_requests(self, node: str) -> None:
        with self._changed:
            state = self._node(node)
            state.log.clear()
            state.counts.clear()

    def wait_for_requests(
        self, node: str, n: int, path: str | None = None, *, timeout: float = 5.0
    ) -> list[RequestRecord]:
        """Block until the node's log holds at least ``n`` requests (for ``path``); returns
        them. ``TimeoutError`` after ``timeout`` seconds: a condition, not a sleep."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: len(self.requests(node, path)) >= n, timeout=timeout
            ):
                raise TimeoutError(
                    f"node {node!r} saw fewer than {n} requests for {path or 'any path'}"
                )
            return self.requests(node, path)

    # --- Called by the server --------------------------------------------------------------------

    def imds(self, node: str, method: str, path: str, headers: dict[str, str], client: str) -> Plan:
        with self._changed:
            state = self._nodes.get(node)
            if state is None:
                return Plan(0.0, NOT_FOUND)
            result = plan(state, Request(method, path, headers, client), self._clock())
            self._changed.notify_all()
            return result

    def control(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        return control.handle(self, method, path, body)

    def _node(self, name: str) -> NodeState:
        try:
            return self._nodes[name]
        except KeyError:
            raise KeyError(f"no simulated node {name!r}; add it first") from None


def _non_negative(seconds: float) -> float:
    if seconds < 0:
        raise ValueError("a delay cannot be negative")
    return float(seconds)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return None if moment is None else moment.astimezone(UTC)
