"""What ``status`` and ``explain`` print, compared whole: kubectl's layout, ages, ``?`` for
unreadable values, truncated messages in the table and whole ones in JSON.

Whole outputs are pinned in ``golden/*.txt``; after a deliberate change, regenerate them with
``UPDATE_GOLDEN=1 pytest tests/cli/test_render.py`` and review the diff like code.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from spot_common import contract
from spot_common.contract import State
from spot_failover import render, status
from tests.cli.builders import NOW, deployment, entry, moved, opted_in
from tests.cli.tables import cells

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
START = NOW - timedelta(minutes=5)
SEEN = "spot interruption notice on ip-10-0-1-17.ec2.internal (imds/spot/instance-action)"
HEALTHY = "rollout complete: 3 of 3 pods Ready on Fargate"
HOSTPORT = "Fargate cannot run the pods: container web uses hostPort 8080"


def assert_golden(name: str, output: str) -> None:
    """``output`` is exactly ``golden/<name>.txt`` (written instead with UPDATE_GOLDEN=1)."""
    path = GOLDEN / f"{name}.txt"
    if UPDATE:
        path.write_text(output, encoding="utf-8")
    assert output == path.read_text(encoding="utf-8")


def web() -> dict[str, Any]:
    history = [
        entry(State.WATCHING, State.MIGRATING, START - timedelta(seconds=40), SEEN, "web-7d9f-a"),
        entry(State.MIGRATING, State.ON_FARGATE, START, HEALTHY, "web-7d9f-a"),
    ]
    return moved(
        State.ON_FARGATE, since=START, message=HEALTHY, history=history, failback_after="30m"
    )


def legacy() -> dict[str, Any]:
    since = NOW - timedelta(days=2, hours=3)
    return moved(State.FAILED, name="legacy", since=since, message=HOSTPORT)


def fleet() -> list[dict[str, Any]]:
    return [web(), opted_in("api", "default"), legacy(), deployment("plain", "shop")]


def test_the_status_table_lists_opted_in_deployments_sorted_with_kubectl_padding() -> None:
    assert_golden("status", render.status_table(fleet(), now=NOW))


def test_all_namespaces_adds_the_namespace_column_first() -> None:
    assert_golden(
        "status-all-namespaces", render.status_table(fleet(), now=NOW, all_namespaces=True)
    )


def test_wide_adds_notice_failback_paused_enabled_and_history() -> None:
    assert_golden("status-wide", render.status_table(fleet(), now=NOW, wide=True))


def test_no_listed_deployment_renders_nothing() -> None:
    assert render.status_table([deployment("plain")], now=NOW) == ""


@pytest.mark.parametrize(
    ("annotations", "failback"),
    [
        ({contract.FAILBACK_AFTER: "never"}, "never"),
        ({contract.FAILBACK_AFTER: "10m"}, "in 5m"),
        ({contract.FAILBACK_AFTER: "3m"}, "due"),
        ({contract.FAILBACK_AFTER: "ten minutes"}, "?"),
        ({}, "<default>"),
    ],
)
def test_the_failback_column_on_fargate(annotations: dict[str, str], failback: str) -> None:
    body = moved(State.ON_FARGATE, since=START)
    body["metadata"]["annotations"].update(annotations)

    (row,) = cells(render.status_table([body], now=NOW, wide=True))

    assert row["FAILBACK"] == failback


def test_the_failback_column_away_from_fargate_shows_the_cooldown_to_come() -> None:
    body = moved(State.WATCHING, since=START, failback_after="1h30m")

    (row,) = cells(render.status_table([body], now=NOW, wide=True))

    assert row["FAILBACK"] == "after 1h30m"


def test_an_unreadable_state_shows_a_question_mark_and_the_problem_leads_the_message() -> None:
    body = opted_in("odd", state="Bogus", message="edited by hand")

    assert_golden("status-unreadable-state", render.status_table([body], now=NOW, wide=True))


def test_unreadable_time_notice_and_history_show_question_marks_each() -> None:
    body = moved(State.ON_FARGATE, since=START)
    for key in (contract.LAST_TRANSITION, contract.NOTICE, contract.HISTORY):
        body["metadata"]["annotations"][key] = "x"

    (row,) = cells(render.status_table([body], now=NOW, wide=True))

    assert (row["STATE"], row["COMPUTE"]) == ("OnFargate", "fargate")
    assert (row["SINCE"], row["NOTICE"], row["HISTORY"]) == ("?", "?", "?")
    assert row["MESSAGE"].startswith("annotation spot-failover/last-transition is corrupt")


def test_control_characters_in_a_value_cannot_break_the_table_or_reach_the_terminal() -> None:
    body = opted_in("web", message="line one\nline two\x1b[31m red\ttab")

    table = render.status_table([body], now=NOW)

    assert table.count("\n") == 2
    assert "\x1b" not in table
    assert "line one line two [31m red tab" in table


def test_explain_shows_the_state_block_and_the_history_table() -> None:
    assert_golden("explain", render.explain_text(status.read(web()), now=NOW))


def test_explain_of_a_fresh_deployment_says_what_is_not_there_yet() -> None:
    assert_golden(
        "explain-fresh", render.explain_text(status.read(opted_in("api", "default")), now=NOW)
    )


def test_explain_of_a_deployment_not_opted_in_says_so() -> None:
    text = render.explain_text(status.read(deployment("plain")), now=NOW)

    assert "Enabled:          false (no spot-failover/enabled annotation)\n" in text


def test_explain_lists_every_problem_and_the_readable_history() -> None:
    body = web()
    annotations = body["metadata"]["annotations"]
    history = json.loads(annotations[contract.HISTORY])
    annotations[contract.HISTORY] = json.dumps([history[0], {"broken": True}])
    annotations[contract.SAVED_SCHEDULING] = "{}"
    annotations[contract.ENABLED] = "yes"

    text = render.explain_text(status.read(body), now=NOW)

    assert "Enabled:          ? (spot-failover/enabled='yes')\n" in text
    assert "Saved scheduling: ?\n" in text
    assert (
        "Problems:\n"
        "  spot-failover/enabled='yes' is invalid: only the exact string \"true\" opts in"
        ' (the webhook injects no sidecar), "false" opts out\n'
        "  annotation spot-failover/history is corrupt:"
        " entry 1 is not {time, from, to, reason, by}\n"
        "  annotation spot-failover/saved-scheduling is corrupt: version must be 1, found None\n"
        "History (1 of 2 entries readable):\n"
    ) in text
    assert text.endswith(f"  2026-01-02T14:58:25Z   Watching   Migrating   web-7d9f-a   {SEEN}\n")


def test_status_json_holds_every_field_parsed_and_raw_with_the_whole_message() -> None:
    long_message = "x" * 500
    body = web()
    body["metadata"]["annotations"][contract.MESSAGE] = long_message

    document = json.loads(render.status_json(render.read_listed([body]), now=NOW))

    assert document["kind"] == "DeploymentStatusList"
    (item,) = document["items"]
    assert item == {
        "namespace": "shop",
        "name": "web",
        "state": "OnFargate",
        "computeType": "fargate",
        "lastTransition": "2026-01-02T14:59:05Z",
        "since": "5m",
        "message": long_message,
        "enabled": True,
        "paused": False,
        "notice": {
            "node": "ip-10-0-1-17.ec2.internal",
            "source": "imds/spot/instance-action",
            "kind": "interruption",
            "action": "terminate",
            "time": "2026-01-02T15:06:05Z",
        },
        "failback": {"after": "30m", "dueAt": "2026-01-02T15:29:05Z", "text": "in 25m"},
        "historyCount": 2,
        "history": json.loads(body["metadata"]["annotations"][contract.HISTORY]),
        "savedScheduling": json.loads(body["metadata"]["annotations"][contract.SAVED_SCHEDULING]),
        "problems": [],
        "annotations": dict(sorted(body["metadata"]["annotations"].items())),
    }


def test_status_json_gives_null_for_unreadable_values_and_lists_the_problems() -> None:
    body = opted_in("odd", state="Bogus")

    (item,) = json.loads(render.status_json(render.read_listed([body]), now=NOW))["items"]

    assert item["state"] is None
    assert item["computeType"] is None
    assert item["problems"] == [
        {
            "annotation": "spot-failover/state",
            "message": "annotation spot-failover/state is corrupt: 'Bogus' is not one of"
            " Watching, Migrating, OnFargate, FailingBack, RolledBack, Failed",
        }
    ]


def test_status_json_of_nothing_is_an_empty_list() -> None:
    assert json.loads(render.status_json([], now=NOW)) == {
        "kind": "DeploymentStatusList",
        "items": [],
    }


def test_explain_json_is_the_same_document_for_one_deployment() -> None:
    read = status.read(web())

    assert json.loads(render.explain_json(read, now=NOW)) == render.status_document(read, NOW)
