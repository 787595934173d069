"""The simulator's JSON control API, for tools that run in another process (demo, benchmark).

Every call maps onto one :class:`~devtools.imds.simulator.ImdsSimulator` method. Paths are under
``/_control`` on the simulator's root URL; bodies and answers are JSON; errors answer
``{"error": "<what was wrong>"}`` with 400 (bad input), 404 (unknown node or route), 405 or 409
(node exists)::

    GET    /_control/nodes                        {"nodes": [<summary>, ...]}
    POST   /_control/nodes                        {"name", "instance_id"?, "life_cycle"?,
                                                   "v2_only"?, "notice_ip_limit"?} -> 201 <summary>
    GET    /_control/nodes/<node>                 <summary>
    PATCH  /_control/nodes/<node>                 same fields as POST but "name" -> <summary>
    DELETE /_control/nodes/<node>                 {"deleted": <node>}
    PUT    /_control/nodes/<node>/notice          {"action"?, "delay"?, "time"?} -> <summary>
    DELETE /_control/nodes/<node>/notice
    PUT    /_control/nodes/<node>/rebalance       {"delay"?, "time"?} -> <summary>
    DELETE /_control/nodes/<node>/rebalance
    PUT    /_control/nodes/<node>/scheduled-events  [<event>, ...] -> <summary>
    POST   /_control/nodes/<node>/faults          {"kind", "status"?, "seconds"?, "path"?,
                                                   "count"?, "body"?} -> <summary>
    DELETE /_control/nodes/<node>/faults
    DELETE /_control/nodes/<node>/tokens          revoke every token the node issued
    GET    /_control/nodes/<node>/requests[?path=/latest/...]
                                                  {"total": N, "counts": [{"method", "path",
                                                   "status", "count"}], "requests": [<record>]}
    DELETE /_control/nodes/<node>/requests        reset the log and counters

``delay`` and ``seconds`` are seconds; ``time`` is RFC 3339 with an offset; ``count`` limits a
fault to the next N matching requests; a fault ``kind`` is ``error`` | ``slow`` | ``malformed``
| ``hang-token``. A ``<summary>`` is the node's settings, notices, active faults and request
total. DELETE calls other than on a node answer the node's summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.imds.node import GARBAGE

if TYPE_CHECKING:
    from devtools.imds.simulator import ImdsSimulator

Answer = tuple[int, object]
_NODE_FIELDS: Final = ("instance_id", "life_cycle", "v2_only", "notice_ip_limit")


def handle(sim: ImdsSimulator, method: str, target: str, body: bytes) -> Answer:
    """Answer one control call; ``target`` is the path and query after ``/_control``."""
    url = urlsplit(target)
    parts = [unquote(part) for part in url.path.strip("/").split("/")]
    query = {key: values[-1] for key, values in parse_qs(url.query).items()}
    try:
        document = json.loads(body) if body.strip() else None
    except ValueError:
        return 400, {"error": "the request body is not JSON"}
    try:
        return _route(sim, method, parts, document, query)
    except KeyError as error:
        return 404, {"error": str(error.args[0]) if error.args else "not found"}
    except (ValueError, TypeError) as error:
        return 400, {"error": str(error)}


def _route(
    sim: ImdsSimulator, method: str, parts: list[str], document: object, query: dict[str, str]
) -> Answer:
    match parts:
        case ["nodes"]:
            return _nodes(sim, method, document)
        case ["nodes", name]:
            return _node(sim, method, name, document)
        case ["nodes", name, what]:
            return _sub(sim, method, name, what, document=document, query=query)
        case _:
            return 404, {"error": f"no control route /{'/'.join(parts)}; see devtools.imds.control"}


def _nodes(sim: ImdsSimulator, method: str, document: object) -> Answer:
    if method == "GET":
        return 200, {"nodes": [sim.summary(name) for name in sim.nodes()]}
    if method != "POST":
        return _not_allowed(method)
    fields = _object(document)
    name = _str(fields, "name")
    if name is None:
        raise ValueError("'name' is required")
    if name in sim.nodes():
        return 409, {"error": f"node {name!r} already exists; PATCH it instead"}
    v2_only = _bool(fields, "v2_only")
    sim.add_node(
        name,
        instance_id=_str(fields, "instance_id"),
        life_cycle=_str(fields, "life_cycle") or "spot",
        v2_only=True if v2_only is None else v2_only,
        notice_ip_limit=_int(fields, "notice_ip_limit"),
    )
    return 201, sim.summary(name)


def _node(sim: ImdsSimulator, method: str, name: str, document: object) -> Answer:
    if method == "GET":
        return 200, sim.summary(name)
    if method == "DELETE":
        sim.remove_node(name)
        return 200, {"deleted": name}
    if method != "PATCH":
        return _not_allowed(method)
    fields = _object(document)
    unknown = set(fields) - set(_NODE_FIELDS)
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}; allowed: {list(_NODE_FIELDS)}")
    sim.configure_node(
        name,
        instance_id=_str(fields, "instance_id"),
        life_cycle=_str(fields, "life_cycle"),
        v2_only=_bool(fields, "v2_only"),
        notice_ip_limit=_int(fields, "notice_ip_limit") if "notice_ip_limit" in fields else ...,
    )
    return 200, sim.summary(name)


def _sub(
    sim: ImdsSimulator,
    method: str,
    name: str,
    what: str,
    *,
    document: object,
    query: dict[str, str],
) -> Answer:
    routes: dict[tuple[str, str], Callable[[], object]] = {
        ("PUT", "notice"): lambda: _set_notice(sim, name, _object(document)),
        ("DELETE", "notice"): lambda: sim.clear_notice(name),
        ("PUT", "rebalance"): lambda: _set_rebalance(sim, name, _object(document)),
        ("DELETE", "rebalance"): lambda: sim.clear_rebalance(name),
        ("PUT", "scheduled-events"): lambda: sim.set_scheduled_events(name, _array(document)),
        ("POST", "faults"): lambda: _set_fault(sim, name, _object(document)),
        ("DELETE", "faults"): lambda: sim.clear_faults(name),
        ("DELETE", "tokens"): lambda: sim.revoke_tokens(name),
        ("DELETE", "requests"): lambda: sim.clear_requests(name),
    }
    if (method, what) == ("GET", "requests"):
        return 200, _requests(sim, name, query.get("path"))
    action = routes.get((method, what))
    if action is None:
        if what in {route for _, route in routes}:
            return _not_allowed(method)
        return 404, {"error": f"no control route {what!r} under a node"}
    action()
    return 200, sim.summary(name)


def _set_notice(sim: ImdsSimulator, name: str, fields: dict[str, object]) -> None:
    sim.set_notice(
        name,
        action=_str(fields, "action") or "terminate",
        delay=_number(fields, "delay") or 0.0,
        time=_time(fields, "time"),
    )


def _set_rebalance(sim: ImdsSimulator, name: str, fields: dict[str, object]) -> None:
    sim.set_rebalance(name, delay=_number(fields, "delay") or 0.0, time=_time(fields, "time"))


def _set_fault(sim: ImdsSimulator, name: str, fields: dict[str, object]) -> None:
    kind = _str(fields, "kind")
    if kind is None:
        raise ValueError("'kind' is required: error, slow, malformed or hang-token")
    status = _int(fields, "status")
    body = _str(fields, "body")
    sim.set_fault(
        name,
        kind,
        status=500 if status is None else status,
        seconds=_number(fields, "seconds") or 0.0,
        path=_str(fields, "path"),
        count=_int(fields, "count"),
        body=GARBAGE if body is None else body,
    )


def _requests(sim: ImdsSimulator, name: str, path: str | None) -> dict[str, object]:
    rows = [
        {"method": m, "path": p, "status": s, "count": n}
        for (m, p, s), n in sorted(sim.counts(name).items(), key=str)
        if path is None or p == path
    ]
    return {
        "total": sim.count(name, path),
        "counts": rows,
        "requests": [record.as_json() for record in sim.requests(name, path)],
    }


def _not_allowed(method: str) -> Answer:
    return 405, {"error": f"{method} not allowed here"}


def _object(document: object) -> dict[str, object]:
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise TypeError("the request body must be a JSON object")
    return document


def _array(document: object) -> list[object]:
    if not isinstance(document, list):
        raise TypeError("the request body must be a JSON array")
    return document


def _str(fields: dict[str, object], key: str) -> str | None:
    value = fields.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key!r} must be a string")
    return value


def _bool(fields: dict[str, object], key: str) -> bool | None:
    value = fields.get(key)
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{key!r} must be true or false")
    return value


def _int(fields: dict[str, object], key: str) -> int | None:
    value = fields.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{key!r} must be an integer")
    return value


def _number(fields: dict[str, object], key: str) -> float | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key!r} must be a number of seconds")
    return float(value)


def _time(fields: dict[str, object], key: str) -> datetime | None:
    text = _str(fields, key)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{key!r} must be an RFC 3339 time such as 2026-01-02T15:04:05Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"{key!r} needs an offset, e.g. a trailing Z")
    return moment
