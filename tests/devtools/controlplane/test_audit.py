"""Reading the API server's audit log while it is being written."""

from __future__ import annotations

import json
from pathlib import Path

from devtools.controlplane import audit


def event(uri: str) -> str:
    return json.dumps(
        {
            "stage": "ResponseComplete",
            "verb": "get",
            "user": {"username": "alice"},
            "requestURI": uri,
            "responseStatus": {"code": 200},
            "stageTimestamp": "2026-12-04T19:00:00.000000Z",
        }
    )


def test_a_last_line_still_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    whole, half = event("/api/v1/a"), event("/api/v1/b")
    log.write_text(whole + "\n" + half[: len(half) // 2])

    assert [r.uri for r in audit.read(log)] == ["/api/v1/a"]

    log.write_text(whole + "\n" + half + "\n")
    assert [r.uri for r in audit.read(log)] == ["/api/v1/a", "/api/v1/b"]


def test_no_log_yet_reads_as_nothing(tmp_path: Path) -> None:
    assert list(audit.read(tmp_path / "absent.log")) == []
