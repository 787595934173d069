"""The API server's own count of requests: its audit log, read back.

Benchmarks and tests that claim "this identity made N requests" count them here, on the server
side, rather than trusting the client's own counters. The policy logs every request once, at
the Metadata level, when the response is complete (a watch: when it starts).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


@dataclasses.dataclass(frozen=True)
class AuditedRequest:
    user: str
    pod: str | None
    """The pod a bound ServiceAccount token belongs to, if any."""
    verb: str
    uri: str
    code: int
    stage: str
    time: datetime


def write_policy(path: Path) -> Path:
    path.write_text(json.dumps(POLICY))
    return path


def read(log_path: Path) -> Iterator[AuditedRequest]:
    """Every audited request, oldest first; a watch is counted once, when it starts.

    The API server appends to the log while it is read: a last line without its newline is
    still being written, and is left for the next read.
    """
    if not log_path.exists():
        return
    with log_path.open() as lines:
        for line in lines:
            if not line.endswith("\n"):
                return
            event = json.loads(line)
            stage = event.get("stage", "")
            verb = event.get("verb", "")
            if stage != ("ResponseStarted" if verb == "watch" else "ResponseComplete"):
                continue
            user = event.get("user") or {}
            extra = user.get("extra") or {}
            pods = extra.get("authentication.kubernetes.io/pod-name") or [None]
            yield AuditedRequest(
                user=user.get("username", ""),
                pod=pods[0],
                verb=verb,
                uri=event.get("requestURI", ""),
                code=int((event.get("responseStatus") or {}).get("code") or 0),
                stage=stage,
                time=datetime.fromisoformat(event["stageTimestamp"].replace("Z", "+00:00")),
            )
