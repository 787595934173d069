"""What stops spot-failover, in words on the Deployment: an annotation that does not parse is
named with what is wrong and what to set; a move refused for the size of the annotations says
so; a report changes nothing but its own annotation, and says nothing twice."""

from __future__ import annotations

import pytest

from sidecar.core import problems
from sidecar.core.annotations import DeploymentView
from sidecar.core.errors import InvalidInputError, MalformedObjectError
from sidecar.core.machine import decide
from spot_common import contract
from spot_common.contract import State
from tests.sidecar.core.builders import NOW, deployment, interruption, leader, policy
from tests.sidecar.core.test_machine import write_of


def unusable(annotations: dict[str, str]) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as raised:
        DeploymentView.parse(deployment(annotations=annotations))
    return raised.value


def test_a_users_typo_is_named_with_its_value_and_what_to_set() -> None:
    reason, problem = problems.unusable(unusable({contract.FAILBACK_AFTER: "ten minutes"}))

    assert reason == problems.INVALID_REASON == "InvalidAnnotation"
    assert problem.startswith("spot-failover/failback-after: 'ten minutes' is invalid: ")
    assert '"10m"' in problem
    assert problem.endswith("spot-failover does nothing for this Deployment until it is fixed")


def test_a_kept_annotation_changed_by_hand_is_named_and_said_to_be_spot_failovers() -> None:
    reason, problem = problems.unusable(unusable({contract.STATE: "Bogus"}))

    assert reason == problems.INVALID_REASON
    assert problem.startswith("spot-failover/state: 'Bogus' is not one of Watching, ")
    assert "spot-failover keeps this annotation" in problem


def test_an_impossible_field_is_named_by_its_path() -> None:
    reason, problem = problems.unusable(MalformedObjectError("spec.replicas", "not a number"))

    assert reason == problems.MALFORMED_REASON
    assert problem.startswith("spec.replicas: not a number; ")


def test_a_huge_value_is_cut_short_in_the_problem() -> None:
    _, problem = problems.unusable(unusable({contract.HEALTH_URL: "x" * 100_000}))

    assert len(problem) <= problems.PROBLEM_LIMIT
    assert "x" * 81 not in problem


def test_the_api_servers_refusal_for_the_size_of_the_annotations_is_told_apart() -> None:
    message = (
        'replace deployment web: HTTP 422: Deployment.apps "web" is invalid: '
        "metadata.annotations: Too long: may not be more than 262144 bytes"
    )

    assert problems.is_too_large(422, message)
    assert not problems.is_too_large(409, message)
    assert not problems.is_too_large(422, "spec.replicas: Invalid value: -1")


def test_a_refused_move_says_which_move_what_is_wrong_and_what_to_do() -> None:
    problem = problems.too_large(State.WATCHING, State.MIGRATING, "spot-1")

    assert problem.startswith("metadata.annotations: the move from Watching to Migrating ")
    assert "for node spot-1" in problem
    assert "256 KiB" in problem
    assert "make room" in problem


def test_a_report_sets_only_its_annotation_and_keeps_the_write_conditional() -> None:
    body = deployment(annotations={contract.FAILBACK_AFTER: "ten minutes"})

    written = problems.report_body(body, "spot-failover/failback-after: ...")

    assert problems.reported(written, "spot-failover/failback-after: ...")
    assert not problems.reported(body, "spot-failover/failback-after: ...")
    annotations = dict(written["metadata"]["annotations"])
    assert annotations.pop(contract.PROBLEM) == "spot-failover/failback-after: ..."
    assert annotations == body["metadata"]["annotations"]
    assert {k: v for k, v in written.items() if k != "metadata"} == {
        k: v for k, v in body.items() if k != "metadata"
    }
    assert written["metadata"]["resourceVersion"] == body["metadata"]["resourceVersion"]


def test_a_problem_with_an_annotation_is_over_once_the_deployment_reads_whole() -> None:
    said = problems.report_body(deployment(), "spot-failover/failback-after: ...")
    refused = problems.report_body(
        deployment(), problems.too_large(State.WATCHING, State.MIGRATING, None)
    )

    assert problems.outdated(said)
    assert contract.PROBLEM not in problems.cleared_body(said)["metadata"]["annotations"]
    assert not problems.outdated(refused)  # that one ends with the next transition written
    assert not problems.outdated(deployment())


def test_the_next_transition_written_removes_a_refused_moves_problem() -> None:
    refused = problems.too_large(State.WATCHING, State.MIGRATING, "spot-1")
    view = DeploymentView.parse(deployment(annotations={contract.PROBLEM: refused}))

    decision = decide(view, leader(interruption=interruption()), policy(), NOW)

    assert decision.next_state is State.MIGRATING
    assert contract.PROBLEM not in write_of(decision).body["metadata"]["annotations"]
