"""What ``spot-failover check`` finds: one result per check, and how the results read.

A check is a small pure function elsewhere (:mod:`spot_failover.install_checks`,
:mod:`spot_failover.workload_checks`) that turns what was read from the cluster into
:class:`Result` values. ``fail`` means spot-failover cannot work as installed (exit 1), ``warn``
that it works with a risk a person should know about, ``unknown`` that the cluster cannot tell
(the result says what to verify elsewhere). Rendering follows ``linkerd check``: one line per
check, a hint under each problem, a summary line.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Sequence
from typing import Final


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"


MARKS: Final = {Status.OK: "√", Status.WARN: "‼", Status.FAIL: "×", Status.UNKNOWN: "?"}  # noqa: RUF001 - linkerd check's marks


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    group: str
    """What was checked: ``install`` or ``Deployment <namespace>/<name>``."""
    check: str
    """A stable identifier, e.g. ``webhook-configuration``, ``pods-injected``."""
    status: Status
    message: str
    hint: str = ""
    """What to do about it (empty when there is nothing to do)."""


def ok(group: str, check: str, message: str) -> Result:
    return Result(group, check, Status.OK, message)


def failed(passed: Iterable[Result]) -> bool:
    return any(result.status is Status.FAIL for result in passed)


def text(results: Sequence[Result]) -> str:
    lines: list[str] = []
    group = None
    for result in results:
        if result.group != group:
            if group is not None:
                lines.append("")
            group = result.group
            lines += [group, "-" * len(group)]
        lines.append(f"{MARKS[result.status]} {result.message}")
        if result.hint:
            lines.append(f"    {result.hint}")
    counts = {status: sum(r.status is status for r in results) for status in Status}
    verdict = "problems found" if failed(results) else "spot-failover can work as installed"
    lines += [
        "",
        f"Status check results: {verdict} ({counts[Status.OK]} ok, {counts[Status.WARN]} warnings, "
        f"{counts[Status.FAIL]} failures, {counts[Status.UNKNOWN]} not knowable from the cluster)",
    ]
    return "\n".join(lines) + "\n"


def as_json(results: Sequence[Result]) -> str:
    document = {
        "success": not failed(results),
        "results": [
            {**dataclasses.asdict(result), "status": str(result.status)} for result in results
        ],
    }
    return json.dumps(document, indent=2) + "\n"
