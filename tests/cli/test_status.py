"""Reading one Deployment's failover status from its annotations: every state, missing and
corrupt values, and which Deployments are listed at all."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from sidecar.core.annotations import DeploymentView
from sidecar.core.durations import NEVER
from sidecar.core.failback import failback_due_at
from sidecar.core.inputs import Policy
from sidecar.core.times import format_time
from spot_common import contract
from spot_common.contract import ComputeType, State
from spot_failover import status
from tests.cli.builders import (
    FARGATE_LABELS,
    NOW,
    deployment,
    entry,
    moved,
    notice,
    opted_in,
)

IMPLIED_COMPUTE = {
    State.WATCHING: ComputeType.SPOT,
    State.MIGRATING: ComputeType.FARGATE,
    State.ON_FARGATE: ComputeType.FARGATE,
    State.FAILING_BACK: ComputeType.SPOT,
    State.ROLLED_BACK: ComputeType.SPOT,
    State.FAILED: ComputeType.SPOT,
}


def problems_of(body: dict[str, Any]) -> dict[str, str]:
    return {p.annotation: p.message for p in status.read(body).problems}


# --- listing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "listed"),
    [
        ({contract.ENABLED: "true"}, True),
        ({contract.ENABLED: "false"}, False),
        ({contract.ENABLED: "false", contract.STATE: "OnFargate"}, True),
        ({contract.STATE: "Watching"}, True),
        ({contract.ENABLED: "yes"}, True),
        ({contract.ENABLED: "True"}, True),
        ({"app.kubernetes.io/name": "web"}, False),
        ({}, False),
        (None, False),
    ],
)
def test_a_deployment_is_listed_when_opted_in_or_carrying_a_state(
    annotations: dict[str, str] | None, listed: bool
) -> None:
    assert status.is_listed(deployment(annotations=annotations)) is listed


@pytest.mark.parametrize(
    "body", [None, 3, "web", [], {"metadata": []}, {"metadata": {"annotations": "x"}}]
)
def test_something_that_is_not_a_deployment_is_not_listed_and_does_not_raise(body: Any) -> None:
    assert status.is_listed(body) is False


# --- every state ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(State))
def test_every_state_is_read_with_its_compute_type_time_and_message(state: State) -> None:
    since = NOW - timedelta(minutes=5)
    read = status.read(moved(state, since=since, message=f"why {state}"))

    assert read.state is state
    assert read.compute_type is IMPLIED_COMPUTE[state]
    assert read.last_transition == since
    assert read.message == f"why {state}"
    assert (read.name, read.namespace) == ("web", "shop")
    assert read.enabled is True
    assert read.paused is False
    assert read.problems == ()


@pytest.mark.parametrize("state", list(State))
def test_without_a_compute_type_annotation_the_state_implies_it_as_in_the_sidecar(
    state: State,
) -> None:
    body = moved(state, since=NOW)
    del body["metadata"]["annotations"][contract.COMPUTE_TYPE]

    assert status.read(body).compute_type is IMPLIED_COMPUTE[state]
    assert status.read(body).compute_type is DeploymentView.parse(body).compute_type


def test_a_freshly_opted_in_deployment_is_watching_on_spot_with_no_time_or_history() -> None:
    read = status.read(opted_in())

    assert read.state is State.WATCHING
    assert read.compute_type is ComputeType.SPOT
    assert read.last_transition is None
    assert read.message == ""
    assert read.history == ()
    assert read.history_count == 0
    assert read.notice is None
    assert read.saved_scheduling is None
    assert read.problems == ()


def test_a_move_shows_its_notice_saved_scheduling_and_history() -> None:
    start = NOW - timedelta(minutes=3)
    history = [
        entry(State.WATCHING, State.MIGRATING, start, "spot interruption notice", "web-1"),
        entry(State.MIGRATING, State.ON_FARGATE, start + timedelta(seconds=40), "healthy"),
    ]

    read = status.read(moved(State.ON_FARGATE, since=start, history=history))

    assert read.notice == notice()
    assert read.saved_scheduling is not None
    assert set(read.saved_scheduling.labels) == set(FARGATE_LABELS)
    assert read.history == tuple(history)
    assert read.history_count == 2


def test_an_opted_out_deployment_with_a_state_left_is_listed_as_not_enabled() -> None:
    body = moved(State.ON_FARGATE, since=NOW, enabled="false")

    read = status.read(body)

    assert status.is_listed(body)
    assert read.enabled is False
    assert read.state is State.ON_FARGATE
    assert read.problems == ()


@pytest.mark.parametrize(("raw", "paused"), [("true", True), ("false", False), (" TRUE ", True)])
def test_paused_is_read_as_the_sidecar_reads_it(raw: str, paused: bool) -> None:
    assert status.read(opted_in(paused=raw)).paused is paused


# --- failback ---------------------------------------------------------------------------------


def sidecar_policy(failback_after: timedelta) -> Policy:
    return Policy(
        fargate_labels=FARGATE_LABELS,
        fargate_profile=None,
        failback_after=failback_after,
        rollout_timeout=timedelta(minutes=5),
        dry_run=False,
        add_ec2_annotation_on_failback=False,
        rebalance_trigger=False,
    )


@pytest.mark.parametrize("after", ["90s", "10m", "1h30m", "600"])
def test_failback_is_due_exactly_when_the_sidecar_would_move_back(after: str) -> None:
    body = moved(State.ON_FARGATE, since=NOW, failback_after=after)
    # The annotation wins over the sidecar's setting, so any setting gives the same answer.
    expected = failback_due_at(DeploymentView.parse(body), sidecar_policy(timedelta(0)), NOW)

    read = status.read(body)

    assert read.failback.due_at == expected
    assert read.failback.due_at is not None


def test_failback_never_is_read_from_the_annotation() -> None:
    read = status.read(moved(State.ON_FARGATE, since=NOW, failback_after="never"))

    assert read.failback.after is NEVER
    assert read.failback.due_at is None


def test_without_an_annotation_failback_follows_the_sidecar_setting_which_is_not_shown() -> None:
    read = status.read(moved(State.ON_FARGATE, since=NOW))

    assert read.failback == status.Failback(after=None, due_at=None)


@pytest.mark.parametrize("state", [s for s in State if s is not State.ON_FARGATE])
def test_failback_is_due_only_on_fargate(state: State) -> None:
    read = status.read(moved(state, since=NOW, failback_after="10m"))

    assert read.failback == status.Failback(after=timedelta(minutes=10), due_at=None)


# --- corrupt and foreign values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "field", "says"),
    [
        (contract.STATE, "Bogus", "state", "'Bogus' is not one of Watching, Migrating"),
        (contract.COMPUTE_TYPE, "ec2", "compute_type", "'ec2' is not one of spot, fargate"),
        (contract.LAST_TRANSITION, "yesterday", "last_transition", "not an RFC 3339 time"),
        (contract.NOTICE, "{not json", "notice", "not JSON"),
        (contract.NOTICE, '{"node": "a"}', "notice", "not {node, source, kind, action, time}"),
        (
            contract.NOTICE,
            json.dumps(
                {"node": "a", "source": "b", "kind": [1], "action": None, "time": format_time(NOW)}
            ),
            "notice",
            "a field has the wrong type or value",
        ),
        (contract.SAVED_SCHEDULING, "[]", "saved_scheduling", "must be a JSON object"),
        (contract.HISTORY, "{}", "history_count", "not a JSON list"),
        (contract.HISTORY, "[[[", "history_count", "not JSON"),
        (contract.PAUSED, "maybe", "paused", 'set "true" or "false"'),
        (contract.ENABLED, "yes", "enabled", 'only the exact string "true" opts in'),
        (contract.ENABLED, "True", "enabled", 'only the exact string "true" opts in'),
        (contract.FAILBACK_AFTER, "1.5d", "failback.after", "set whole seconds"),
        (contract.FAILBACK_AFTER, "9" * 40 + "h", "failback.after", "too long a duration"),
    ],
)
def test_a_corrupt_annotation_reads_as_unknown_with_a_problem_naming_it(
    key: str, value: str, field: str, says: str
) -> None:
    body = moved(State.ON_FARGATE, since=NOW)
    body["metadata"]["annotations"][key] = value

    read = status.read(body)

    found: Any = read
    for part in field.split("."):
        found = getattr(found, part)
    assert found is None
    problems = problems_of(body)
    assert key in problems
    assert key in problems[key]
    assert says in problems[key]
    assert read.unreadable(key)


def test_a_corrupt_annotation_does_not_hide_the_others() -> None:
    body = moved(State.ON_FARGATE, since=NOW, message="moved to Fargate")
    body["metadata"]["annotations"][contract.NOTICE] = "garbage"

    read = status.read(body)

    assert read.state is State.ON_FARGATE
    assert read.compute_type is ComputeType.FARGATE
    assert read.message == "moved to Fargate"
    assert read.saved_scheduling is not None
    assert [p.annotation for p in read.problems] == [contract.NOTICE]


def test_a_state_other_than_watching_without_its_time_is_a_problem_as_for_the_sidecar() -> None:
    body = moved(State.MIGRATING, since=NOW)
    del body["metadata"]["annotations"][contract.LAST_TRANSITION]

    assert "missing in state Migrating" in problems_of(body)[contract.LAST_TRANSITION]
    assert status.read(body).state is State.MIGRATING


def test_an_unknown_state_leaves_the_compute_type_unknown_unless_annotated() -> None:
    body = opted_in(state="Bogus")

    assert status.read(body).compute_type is None
    assert status.read(opted_in(state="Bogus", compute_type="fargate")).compute_type is (
        ComputeType.FARGATE
    )


def test_one_bad_history_entry_is_reported_and_the_readable_ones_are_kept() -> None:
    good = [
        entry(State.WATCHING, State.MIGRATING, NOW),
        entry(State.MIGRATING, State.ON_FARGATE, NOW),
    ]
    raw = [good[0].to_json(), {"time": "later", "from": "x"}, good[1].to_json()]
    body = moved(State.ON_FARGATE, since=NOW)
    body["metadata"]["annotations"][contract.HISTORY] = json.dumps(raw)

    read = status.read(body)

    assert read.history == tuple(good)
    assert read.history_count == 3
    assert problems_of(body)[contract.HISTORY] == (
        "annotation spot-failover/history is corrupt: entry 1 is not {time, from, to, reason, by}"
    )


def test_a_history_entry_with_an_unknown_state_names_its_index() -> None:
    bad = entry(State.WATCHING, State.MIGRATING, NOW).to_json() | {"to": "Elsewhere"}
    body = opted_in(
        history=json.dumps([entry(State.WATCHING, State.MIGRATING, NOW).to_json(), bad])
    )

    assert problems_of(body)[contract.HISTORY].endswith("entry 1: unknown state")


def test_an_unknown_spot_failover_annotation_is_reported_as_a_possible_typo() -> None:
    body = opted_in(failback_afer="10m")

    assert problems_of(body) == {
        "spot-failover/failback-afer": (
            "annotation spot-failover/failback-afer is not one spot-failover knows (a typo?)"
        )
    }


def test_what_the_sidecars_say_stops_them_is_a_problem_unless_this_reading_finds_its_own() -> None:
    refused = "metadata.annotations: the move from Watching to Migrating was refused: ..."
    body = opted_in()
    body["metadata"]["annotations"][contract.PROBLEM] = refused

    assert problems_of(body) == {contract.PROBLEM: f"{contract.PROBLEM}: {refused}"}

    typo = opted_in(failback_after="ten minutes")
    typo["metadata"]["annotations"][contract.PROBLEM] = "spot-failover/failback-after: ..."
    assert set(problems_of(typo)) == {contract.FAILBACK_AFTER}


def test_annotations_of_other_tools_are_ignored() -> None:
    body = opted_in()
    body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "4"

    read = status.read(body)

    assert read.problems == ()
    assert "deployment.kubernetes.io/revision" not in read.annotations


def test_a_body_without_a_name_or_with_odd_json_types_is_read_with_problems() -> None:
    body = {"metadata": {"annotations": {contract.ENABLED: "true", contract.MESSAGE: 7}}}

    read = status.read(body)

    assert read.name == "?"
    assert read.message == ""
    assert set(problems_of(body)) == {"metadata.name", contract.MESSAGE}
