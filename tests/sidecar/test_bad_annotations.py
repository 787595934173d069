"""What stops every sidecar of a Deployment is said on the Deployment, and no sidecar exits over
it: a user's typo, a value spot-failover keeps changed by hand, a move refused because the
annotations would be too large. One Warning Event and ``spot-failover/problem`` say what is wrong;
the sidecars back off; nothing the user set changes; once it is mended, the sidecars act again."""

from __future__ import annotations

import time
from typing import Any

import pytest

from devtools.controlplane.waiting import wait_for
from devtools.scenario import Scenario
from sidecar.core import problems
from spot_common import contract
from spot_common.contract import State

pytestmark = pytest.mark.cluster

SETTLE_S = 12.0
"""Long enough for every sidecar's spread moment and a back-off or two: had another sidecar
reported the problem again, it would show by then."""
PADDING = "example.com/padding"


def warnings(failover: Scenario, name: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in failover.events(name) if e["reason"] == reason and e["type"] == "Warning"]


def problem_of(failover: Scenario, name: str) -> str | None:
    return failover.annotations(name).get(contract.PROBLEM)


def reported(failover: Scenario, name: str, reason: str) -> tuple[str, dict[str, Any]]:
    """The problem on the Deployment and the one Warning Event that says it, once the sidecars
    had time to say it more than once."""
    problem = wait_for(lambda: problem_of(failover, name), 30, f"{name}'s problem")
    time.sleep(SETTLE_S)
    (event,) = warnings(failover, name, reason)
    return problem, event


def no_sidecar_exited(failover: Scenario) -> None:
    codes = failover.runner.exit_codes()
    assert codes == {}, codes


def none_failed(failover: Scenario) -> None:
    """Sidecars of pods a move replaced stopped, as asked (SIGTERM); none exited failing."""
    codes = failover.runner.exit_codes()
    assert set(codes.values()) <= {0}, codes


def test_a_typo_is_reported_once_left_as_it_is_and_once_mended_the_sidecars_act(
    failover: Scenario,
) -> None:
    failover.create("web", replicas=3, annotations={contract.FAILBACK_AFTER: "ten minutes"})
    before = failover.read("web")

    problem, event = reported(failover, "web", problems.INVALID_REASON)

    assert problem.startswith(f"{contract.FAILBACK_AFTER}: 'ten minutes' is invalid: ")
    assert event["message"] == problem
    after = failover.read("web")
    assert after["spec"] == before["spec"]
    kept = dict(after["metadata"]["annotations"])
    assert kept.pop(contract.PROBLEM) == problem
    assert kept == before["metadata"]["annotations"]  # not even a state written
    no_sidecar_exited(failover)

    failover.kube.apps.patch_namespaced_deployment(
        "web", failover.namespace, {"metadata": {"annotations": {contract.FAILBACK_AFTER: "10m"}}}
    )
    wait_for(lambda: problem_of(failover, "web") is None, 15, "the problem to be taken back")
    failover.imds.set_notice(failover.busiest_spot_node("web"))
    failover.wait_state("web", State.ON_FARGATE)
    assert len(warnings(failover, "web", problems.INVALID_REASON)) == 1
    none_failed(failover)


def test_a_kept_annotation_changed_by_hand_is_reported_and_taken_back_once_removed(
    failover: Scenario,
) -> None:
    failover.create("web", replicas=2)
    failover.kube.apps.patch_namespaced_deployment(
        "web", failover.namespace, {"metadata": {"annotations": {contract.STATE: "Bogus"}}}
    )

    problem, _ = reported(failover, "web", problems.INVALID_REASON)

    assert problem.startswith(f"{contract.STATE}: 'Bogus' is not one of ")
    assert failover.annotations("web")[contract.STATE] == "Bogus"
    no_sidecar_exited(failover)
    failover.kube.apps.patch_namespaced_deployment(
        "web", failover.namespace, {"metadata": {"annotations": {contract.STATE: None}}}
    )
    wait_for(lambda: problem_of(failover, "web") is None, 15, "the problem to be taken back")


def annotations_size(annotations: dict[str, str]) -> int:
    """What Kubernetes counts against its limit: every key and value, in bytes."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())


def test_a_move_refused_for_the_size_of_the_annotations_is_reported_and_made_once_there_is_room(
    failover: Scenario,
) -> None:
    failover.create("web", replicas=2)
    # Room left for the problem's few hundred bytes, not for what the move records.
    free = problems.ANNOTATIONS_LIMIT_BYTES - annotations_size(failover.annotations("web"))
    padding = "p" * (free - len(PADDING) - 500)
    failover.kube.apps.patch_namespaced_deployment(
        "web", failover.namespace, {"metadata": {"annotations": {PADDING: padding}}}
    )
    node = failover.busiest_spot_node("web")

    failover.imds.set_notice(node)

    problem, event = reported(failover, "web", problems.TOO_LARGE_REASON)
    assert problem.startswith("metadata.annotations: the move from Watching to Migrating ")
    assert f"for node {node}" in problem
    assert "Too long" in event["message"]  # the API server's own words, in the Event
    assert contract.STATE not in failover.annotations("web")
    assert failover.annotations("web")[PADDING] == padding
    no_sidecar_exited(failover)

    failover.kube.apps.patch_namespaced_deployment(
        "web", failover.namespace, {"metadata": {"annotations": {PADDING: None}}}
    )

    annotations = failover.wait_state("web", State.ON_FARGATE, timeout_s=60)
    assert contract.PROBLEM not in annotations
    none_failed(failover)
