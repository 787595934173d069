"""The rollout verdict agrees with kubectl's ``rollout status`` on every branch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sidecar.core import rollout
from sidecar.core.errors import MalformedObjectError
from tests.sidecar.core.builders import NOW


def dep(
    *,
    generation: int | None = 2,
    observed: int | None = 2,
    replicas: int | None = 3,
    updated: int | None = 3,
    current: int | None = 3,
    available: int | None = 3,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web"}
    if generation is not None:
        metadata["generation"] = generation
    spec: dict[str, Any] = {} if replicas is None else {"replicas": replicas}
    status: dict[str, Any] = {"conditions": conditions or []}
    for key, value in (
        ("observedGeneration", observed),
        ("updatedReplicas", updated),
        ("replicas", current),
        ("availableReplicas", available),
    ):
        if value is not None:
            status[key] = value
    return {"metadata": metadata, "spec": spec, "status": status}


DEADLINE = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
AVAILABLE = [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]


# (case, deployment, expected verdict type, words the reason must contain)
CASES = [
    ("a spec update not yet observed is progressing", dep(generation=3, observed=2),
     rollout.Progressing, "observed"),
    ("an unobserved spec wins over a deadline condition", dep(generation=3, observed=2,
     conditions=DEADLINE), rollout.Progressing, "observed"),
    ("a missing status is an unobserved generation", {"metadata": {"generation": 1}},
     rollout.Progressing, "observed"),
    ("an exceeded progress deadline has failed", dep(conditions=DEADLINE),
     rollout.Failed, "progress deadline"),
    ("the deadline reason fails even with all replicas updated", dep(conditions=DEADLINE),
     rollout.Failed, "progress deadline"),
    ("fewer updated replicas than wanted is progressing", dep(updated=1, current=3, available=1),
     rollout.Progressing, "1 out of 3 new replicas"),
    ("old replicas pending termination is progressing", dep(updated=3, current=5, available=3),
     rollout.Progressing, "2 old replicas"),
    ("fewer available than updated is progressing", dep(available=2),
     rollout.Progressing, "2 of 3 updated replicas"),
    ("everything updated and available is complete", dep(conditions=AVAILABLE),
     rollout.Complete, "successfully rolled out"),
    ("an observed generation ahead of metadata is still observed", dep(generation=2, observed=3),
     rollout.Complete, "successfully"),
    ("absent spec.replicas skips the updated check, as kubectl does",
     dep(replicas=None, updated=0, current=0, available=0), rollout.Complete, "successfully"),
    ("zero replicas scaled down is complete", dep(replicas=0, updated=0, current=0, available=0),
     rollout.Complete, "successfully"),
    ("missing counters read as zero", dep(replicas=2, updated=None, current=None, available=None),
     rollout.Progressing, "0 out of 2"),
    ("a deadline on another condition type does not fail",
     dep(conditions=[{"type": "Available", "reason": "ProgressDeadlineExceeded"}]),
     rollout.Complete, "successfully"),
    ("only the first Progressing condition counts, as GetDeploymentCondition returns it",
     dep(conditions=AVAILABLE + DEADLINE), rollout.Complete, "successfully"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("deployment", "kind", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rollout_verdict_follows_kubectl(
    deployment: dict[str, Any], kind: type[rollout.Verdict], words: str
) -> None:
    verdict = rollout.status(deployment)
    assert isinstance(verdict, kind)
    text = verdict.message if isinstance(verdict, rollout.Complete) else verdict.reason
    assert words in text


def test_a_counter_of_the_wrong_type_is_a_malformed_object() -> None:
    with pytest.raises(MalformedObjectError, match=r"status\.updatedReplicas"):
        rollout.status(dep(updated="3"))  # type: ignore[arg-type]


def test_a_boolean_is_not_a_counter() -> None:
    with pytest.raises(MalformedObjectError):
        rollout.status(dep(available=True))


def test_the_deadline_has_passed_exactly_at_start_plus_timeout() -> None:
    timeout = timedelta(minutes=5)
    assert not rollout.past_deadline(NOW, timeout, NOW + timeout - timedelta(microseconds=1))
    assert rollout.past_deadline(NOW, timeout, NOW + timeout)


def test_a_progressing_rollout_past_the_deadline_has_failed() -> None:
    verdict = rollout.with_deadline(
        rollout.Progressing("2 of 3 updated replicas are available"),
        started_at=NOW,
        timeout=timedelta(minutes=5),
        now=NOW + timedelta(minutes=6),
    )
    assert isinstance(verdict, rollout.Failed)
    assert "2 of 3" in verdict.reason


def test_a_complete_rollout_is_not_failed_by_the_deadline() -> None:
    complete = rollout.Complete()
    late = NOW + timedelta(hours=1)
    assert (
        rollout.with_deadline(complete, started_at=NOW, timeout=timedelta(minutes=5), now=late)
        is complete
    )


def test_a_naive_now_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        rollout.past_deadline(NOW, timedelta(minutes=5), NOW.replace(tzinfo=None))
