"""What ``spot-failover status`` and ``explain`` print: kubectl-like tables and JSON documents.

Pure text from Deployments in JSON form and ``now``, so the demo can print the same table as
the command (:func:`status_table`) and tests can compare the output exactly.

* Tables look like ``kubectl get``: upper-case headers, each column padded to its widest cell
  plus three spaces (kubectl's tabwriter), the last column unpadded, ``<none>`` for an empty
  cell, ages as kubectl prints them. A value that could not be read is ``?``; the MESSAGE
  column then starts with what is wrong, naming the annotation.
* ``-o json`` is one document with every field, parsed and raw, for scripts: see
  :func:`status_document`.

Every annotation value is shown with its control characters replaced, so a hand-edited value
cannot break the table's lines or send escape sequences to the terminal.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sidecar.core.durations import NEVER, Never, format_duration
from sidecar.core.saved_scheduling import SavedScheduling
from sidecar.core.signals import Kind
from sidecar.core.times import format_time
from spot_common import contract
from spot_failover import ages, status
from spot_failover.status import DeploymentStatus

NONE: Final = "<none>"
UNREADABLE: Final = "?"
DEFAULT: Final = "<default>"
"""FAILBACK when no annotation sets the cooldown: the sidecar's setting applies."""

MESSAGE_WIDTH: Final = 60
"""Characters of MESSAGE in the table (``explain`` and ``-o json`` show all of it)."""
WIDE_MESSAGE_WIDTH: Final = 120

_PADDING: Final = 3
_MIN_WIDTH: Final = 6


# --- entry points ---------------------------------------------------------------------------


def status_table(
    deployments: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    wide: bool = False,
    all_namespaces: bool = False,
) -> str:
    """The ``spot-failover status`` table for ``deployments`` (JSON form, as the API returns).

    Only the Deployments ``status`` lists (:func:`spot_failover.status.is_listed`) appear,
    sorted by namespace and name; ``all_namespaces`` adds the NAMESPACE column. Returns ``""``
    when none is listed (the command then says "No resources found" on stderr).
    """
    return table_of(read_listed(deployments), now=now, wide=wide, all_namespaces=all_namespaces)


def read_listed(deployments: Iterable[Mapping[str, Any]]) -> list[DeploymentStatus]:
    """The statuses of the listed Deployments, sorted by namespace and name."""
    statuses = [status.read(d) for d in deployments if status.is_listed(d)]
    return sorted(statuses, key=lambda s: (s.namespace, s.name))


def table_of(
    statuses: Sequence[DeploymentStatus], *, now: datetime, wide: bool, all_namespaces: bool
) -> str:
    """The table for statuses already read."""
    if not statuses:
        return ""
    headers = ["NAME", "STATE", "COMPUTE", "SINCE"]
    if wide:
        headers += ["NOTICE", "FAILBACK", "PAUSED", "ENABLED", "HISTORY"]
    headers.append("MESSAGE")
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    rows = [_row(s, now, wide=wide, all_namespaces=all_namespaces) for s in statuses]
    return table(headers, rows)


def status_json(statuses: Sequence[DeploymentStatus], *, now: datetime) -> str:
    """``status -o json``: every field of every listed Deployment."""
    items = [status_document(s, now) for s in statuses]
    document = {"kind": "DeploymentStatusList", "items": items}
    return json.dumps(document, indent=4, ensure_ascii=False) + "\n"


def explain_json(deployment: DeploymentStatus, *, now: datetime) -> str:
    """``explain NAME -o json``."""
    return json.dumps(status_document(deployment, now), indent=4, ensure_ascii=False) + "\n"


def explain_text(deployment: DeploymentStatus, *, now: datetime) -> str:
    """``explain NAME``: the current state block, problems, and the history as a table."""
    s = deployment
    since = _since(s, now)
    if s.last_transition is not None:
        since = f"{format_time(s.last_transition)} ({since} ago)"
    fields = [
        ("Name", s.name),
        ("Namespace", s.namespace or NONE),
        ("State", _state(s)),
        ("Compute type", _compute(s)),
        ("Since", since),
        ("Message", s.message or NONE),
        ("Enabled", _enabled_detail(s)),
        ("Paused", _flag(s.paused)),
        ("Notice", _notice_detail(s)),
        ("Failback", _failback_detail(s, now)),
        ("Saved scheduling", _saved_detail(s)),
    ]
    width = max(len(label) for label, _ in fields) + 2
    lines = [f"{label + ':':<{width}}{clean(value)}" for label, value in fields]
    if s.problems:
        lines.append("Problems:")
        lines += [f"  {clean(problem.message)}" for problem in s.problems]
    lines.append(_history_heading(s))
    if s.history:
        history = table(
            ["TIME", "FROM", "TO", "BY", "REASON"],
            [
                [format_time(e.time), str(e.from_state), str(e.to_state), e.by, e.reason]
                for e in s.history
            ],
        )
        lines += [f"  {line}" for line in history.splitlines()]
    return "\n".join(lines) + "\n"


# --- tables ---------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Rows aligned as kubectl's tabwriter does: width of the widest cell plus 3, at least 6."""
    cells = [[clean(c) or NONE for c in row] for row in [list(headers), *rows]]
    widths = [
        max(max(len(row[i]) for row in cells) + _PADDING, _MIN_WIDTH)
        for i in range(len(headers) - 1)
    ]
    lines = [
        "".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + row[-1] for row in cells
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def clean(text: str) -> str:
    """``text`` on one line: control characters (newlines, tabs, escapes) become spaces."""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def truncate(text: str, width: int) -> str:
    """At most ``width`` characters, ending in ``...`` when cut."""
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


def _row(s: DeploymentStatus, now: datetime, *, wide: bool, all_namespaces: bool) -> list[str]:
    row = [s.name, _state(s), _compute(s), _since(s, now)]
    if wide:
        row += [
            _notice(s),
            _failback(s, now),
            _flag(s.paused),
            _flag(s.enabled),
            UNREADABLE if s.history_count is None else str(s.history_count),
        ]
    row.append(truncate(clean(summary(s)), WIDE_MESSAGE_WIDTH if wide else MESSAGE_WIDTH))
    if all_namespaces:
        row.insert(0, s.namespace)
    return row


def summary(s: DeploymentStatus) -> str:
    """What is wrong with the annotations, if anything, then the recorded message."""
    return "; ".join([*(problem.message for problem in s.problems), *filter(None, [s.message])])


# --- cells ----------------------------------------------------------------------------------


def _state(s: DeploymentStatus) -> str:
    return UNREADABLE if s.state is None else str(s.state)


def _compute(s: DeploymentStatus) -> str:
    return UNREADABLE if s.compute_type is None else str(s.compute_type)


def _since(s: DeploymentStatus, now: datetime) -> str:
    if s.unreadable(contract.LAST_TRANSITION):
        return UNREADABLE
    return ages.age(s.last_transition, now)


def _flag(value: bool | None) -> str:
    return UNREADABLE if value is None else str(value).lower()


def _notice(s: DeploymentStatus) -> str:
    if s.unreadable(contract.NOTICE):
        return UNREADABLE
    if s.notice is None:
        return NONE
    kind = "" if s.notice.kind is Kind.INTERRUPTION else f", {s.notice.kind}"
    return f"{s.notice.node} ({s.notice.source}{kind})"


def _failback(s: DeploymentStatus, now: datetime) -> str:
    after = s.failback.after
    if s.unreadable(contract.FAILBACK_AFTER):
        return UNREADABLE
    if isinstance(after, Never):
        return NEVER.value
    if s.failback.due_at is not None:
        return ages.until(s.failback.due_at, now)
    if isinstance(after, timedelta):
        return f"after {format_duration(after)}"
    return DEFAULT


# --- explain details ------------------------------------------------------------------------


def _enabled_detail(s: DeploymentStatus) -> str:
    if s.enabled is None:
        return f"{UNREADABLE} ({contract.ENABLED}={s.annotations.get(contract.ENABLED, '')!r})"
    if not s.enabled and contract.ENABLED not in s.annotations:
        return f"false (no {contract.ENABLED} annotation)"
    return _flag(s.enabled)


def _notice_detail(s: DeploymentStatus) -> str:
    if s.unreadable(contract.NOTICE):
        return UNREADABLE
    if s.notice is None:
        return NONE
    notice = s.notice
    action = f", action {notice.action}" if notice.action else ""
    return (
        f"{notice.kind} on node {notice.node} from {notice.source}{action}, "
        f"time {format_time(notice.time)}"
    )


def _failback_detail(s: DeploymentStatus, now: datetime) -> str:
    after = s.failback.after
    if s.unreadable(contract.FAILBACK_AFTER):
        return UNREADABLE
    if isinstance(after, Never):
        return f"never ({contract.FAILBACK_AFTER}: never)"
    if isinstance(after, timedelta):
        cooldown = f"cooldown {format_duration(after)} from {contract.FAILBACK_AFTER}"
        due = s.failback.due_at
        if due is None:
            return f"{format_duration(after)} after a move to Fargate ({cooldown})"
        return f"{ages.until(due, now)} (at {format_time(due)}; {cooldown})"
    return (
        "the sidecar's cooldown SPOT_FAILOVER_FAILBACK_AFTER_S after the move to Fargate "
        f"(no {contract.FAILBACK_AFTER} annotation)"
    )


def _saved_detail(s: DeploymentStatus) -> str:
    if s.unreadable(contract.SAVED_SCHEDULING):
        return UNREADABLE
    if s.saved_scheduling is None:
        return NONE
    return saved_summary(s.saved_scheduling)


def saved_summary(saved: SavedScheduling) -> str:
    """One line saying what the move to Fargate changed in the pod template."""
    parts = []
    if saved.labels:
        parts.append(
            "labels set: " + ", ".join(f"{k}={c.after}" for k, c in sorted(saved.labels.items()))
        )
    if saved.annotations:
        parts.append("annotations removed: " + ", ".join(sorted(saved.annotations)))
    if saved.node_selector:
        parts.append(
            "nodeSelector removed: "
            + ", ".join(f"{k}={v}" for k, v in sorted(saved.node_selector.items()))
        )
    if saved.node_affinity is not None:
        parts.append("nodeAffinity removed")
    if saved.tolerations:
        keys = [str(t.toleration.get("key") or "<any>") for t in saved.tolerations]
        parts.append("tolerations removed: " + ", ".join(keys))
    return "; ".join(parts) or "nothing changed"


def _history_heading(s: DeploymentStatus) -> str:
    if s.history_count is None:
        return f"History: {UNREADABLE}"
    if not s.history_count:
        return f"History: {NONE}"
    if len(s.history) == s.history_count:
        return f"History ({s.history_count}):"
    return f"History ({len(s.history)} of {s.history_count} entries readable):"


# --- JSON -----------------------------------------------------------------------------------


def status_document(s: DeploymentStatus, now: datetime) -> dict[str, Any]:
    """Every field of ``s`` as JSON: parsed values (``null`` where unreadable), the displayed
    texts, and the raw ``spot-failover/*`` annotations."""
    after = s.failback.after
    return {
        "namespace": s.namespace,
        "name": s.name,
        "state": None if s.state is None else str(s.state),
        "computeType": None if s.compute_type is None else str(s.compute_type),
        "lastTransition": None if s.last_transition is None else format_time(s.last_transition),
        "since": _since(s, now),
        "message": s.message,
        "enabled": s.enabled,
        "paused": s.paused,
        "notice": None if s.notice is None else json.loads(s.notice.to_json()),
        "failback": {
            "after": None if after is None else format_duration(after),
            "dueAt": None if s.failback.due_at is None else format_time(s.failback.due_at),
            "text": _failback(s, now),
        },
        "historyCount": s.history_count,
        "history": [entry.to_json() for entry in s.history],
        "savedScheduling": None
        if s.saved_scheduling is None
        else json.loads(s.saved_scheduling.to_json()),
        "problems": [{"annotation": p.annotation, "message": p.message} for p in s.problems],
        "annotations": dict(sorted(s.annotations.items())),
    }
