"""Through the whole machine: a move sets the fast strategy in its first write, fits a quota
that refuses the surge, and every write that ends a move gives the user's strategy back."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from sidecar.core import health
from sidecar.core.actions import (
    AskForRefusedPods,
    ClearDoomedPods,
    MarkDoomedPods,
    RecordEvent,
    WriteTransition,
)
from sidecar.core.annotations import Notice
from sidecar.core.machine import DOWNTIME_OR_STRATEGY_REASON, Decision, decide
from sidecar.core.signals import Kind
from sidecar.core.strategy import QUOTA_RETRY_EVERY
from sidecar.core.times import format_time
from spot_common import contract
from spot_common.contract import State
from tests.sidecar.core.builders import (
    NODE,
    NOW,
    deployment,
    done,
    follower,
    interruption,
    leader,
    policy,
    view,
)
from tests.sidecar.core.test_machine import in_state

FAST = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}}
DEFAULTS = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
HEALTHY = health.Healthy("3 pods Ready")
QUOTA = 'pods "web-x" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3'
NOTICE = Notice(NODE, "imds", Kind.INTERRUPTION, "terminate", NOW).to_json()


def write_of(decision: Decision) -> WriteTransition:
    (write,) = [a for a in decision.actions if isinstance(a, WriteTransition)]
    return write


def mid_move(state: State, strategy: dict[str, Any], saved: str | None, **extra: Any) -> Any:
    body = in_state(state, **extra)
    body["spec"]["strategy"] = copy.deepcopy(strategy)
    body["metadata"]["annotations"][contract.NOTICE] = NOTICE
    if saved is not None:
        body["metadata"]["annotations"][contract.SAVED_STRATEGY] = saved
    return body


def quota_refused(replicas: int = 3) -> dict[str, Any]:
    status = done(replicas, 1)
    status["observedGeneration"] = 2
    status["updatedReplicas"] = 1
    status["conditions"].append(
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": QUOTA}
    )
    return status


def test_recreate_is_kept_and_the_move_warns_that_it_means_downtime() -> None:
    body = deployment()
    body["spec"]["strategy"] = {"type": "Recreate"}
    decision = decide(view(body), leader(interruption=interruption()), policy(), NOW)

    write = write_of(decision)
    assert write.body["spec"]["strategy"] == {"type": "Recreate"}
    assert contract.SAVED_STRATEGY not in write.body["metadata"]["annotations"]
    (warning,) = [
        a
        for a in decision.actions
        if isinstance(a, RecordEvent) and a.reason == DOWNTIME_OR_STRATEGY_REASON
    ]
    assert warning.warning
    assert "downtime" in warning.message
    assert "downtime" in write.body["metadata"]["annotations"][contract.MESSAGE], "in the status"


@pytest.mark.parametrize(
    ("status", "now", "target"),
    [
        (done(3, 2), NOW, State.ON_FARGATE),
        (
            {
                **done(3, 2),
                "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}],
            },
            NOW,
            State.ROLLED_BACK,
        ),
    ],
    ids=["on Fargate", "rolled back"],
)
def test_the_end_of_a_move_restores_the_saved_strategy_exactly(
    status: dict[str, Any], now: Any, target: State
) -> None:
    body = mid_move(State.MIGRATING, FAST, "RollingUpdate:25%:25%", generation=2, status=status)
    decision = decide(view(body), leader(health=HEALTHY), policy(), now)

    assert decision.next_state is target
    write = write_of(decision)
    assert write.body["spec"]["strategy"] == DEFAULTS
    assert contract.SAVED_STRATEGY not in write.body["metadata"]["annotations"]


def test_a_rollback_takes_the_doomed_pods_deletion_cost_away_again() -> None:
    status = {
        **done(3, 2),
        "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}],
    }
    body = mid_move(State.MIGRATING, FAST, "RollingUpdate:25%:25%", generation=2, status=status)
    decision = decide(view(body), leader(), policy(), NOW)
    assert decision.next_state is State.ROLLED_BACK
    assert ClearDoomedPods(NODE) in decision.actions
    assert not any(isinstance(a, MarkDoomedPods) for a in decision.actions)


def test_a_strategy_the_user_edits_during_the_move_is_theirs_and_kept() -> None:
    theirs = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 5, "maxUnavailable": 1}}
    body = mid_move(
        State.MIGRATING, theirs, "RollingUpdate:25%:25%", generation=2, status=done(3, 2)
    )
    decision = decide(view(body), leader(health=HEALTHY), policy(), NOW)

    write = write_of(decision)
    assert write.body["spec"]["strategy"] == theirs
    assert contract.SAVED_STRATEGY not in write.body["metadata"]["annotations"]


def test_a_quota_that_refuses_the_surge_makes_the_move_let_the_doomed_pods_go() -> None:
    body = mid_move(
        State.MIGRATING, FAST, "RollingUpdate:25%:25%", generation=2, status=quota_refused()
    )
    decision = decide(view(body), leader(doomed_pods=2), policy(), NOW + timedelta(seconds=20))

    assert decision.next_state is State.MIGRATING
    write = write_of(decision)
    assert write.body["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 2},
    }
    marks = write.body["metadata"]["annotations"]
    assert marks[contract.SAVED_STRATEGY] == "RollingUpdate:25%:25%"
    assert (
        marks[contract.LAST_TRANSITION] == body["metadata"]["annotations"][contract.LAST_TRANSITION]
    )
    (event,) = [a for a in decision.actions if isinstance(a, RecordEvent)]
    assert (event.reason, event.warning) == ("SurgeRefusedByQuota", True)
    assert "exceeded quota" in event.message


FITTED = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 2}}


def asks_of(decision: Decision) -> list[AskForRefusedPods]:
    return [a for a in decision.actions if isinstance(a, AskForRefusedPods)]


def test_a_strategy_already_fitted_to_the_quota_is_not_fitted_again() -> None:
    body = mid_move(
        State.MIGRATING, FITTED, "RollingUpdate:25%:25%", generation=2, status=quota_refused()
    )
    decision = decide(view(body), leader(doomed_pods=2), policy(), NOW)
    assert decision.next_state is None
    assert not [a for a in decision.actions if isinstance(a, WriteTransition)]


@pytest.mark.parametrize("state", [State.MIGRATING, State.FAILING_BACK])
def test_the_leader_asks_again_for_the_pods_a_quota_refused_once_fitted(state: State) -> None:
    body = mid_move(state, FITTED, "RollingUpdate:25%:25%", generation=2, status=quota_refused())
    later = NOW + timedelta(seconds=30)
    (ask,) = asks_of(decide(view(body), leader(), policy(), later))

    annotations = ask.body["metadata"]["annotations"]
    assert annotations[contract.QUOTA_RETRY] == format_time(later)
    asked = copy.deepcopy(dict(ask.body))
    del asked["metadata"]["annotations"][contract.QUOTA_RETRY]
    assert asked == body, "nothing but the retry time changes"


def test_the_refused_pods_are_asked_for_again_only_every_few_seconds() -> None:
    body = mid_move(
        State.MIGRATING, FITTED, "RollingUpdate:25%:25%", generation=2, status=quota_refused()
    )
    body["metadata"]["annotations"][contract.QUOTA_RETRY] = format_time(NOW)
    soon = NOW + QUOTA_RETRY_EVERY - timedelta(milliseconds=1)

    assert not asks_of(decide(view(body), leader(), policy(), soon))
    assert asks_of(decide(view(body), leader(), policy(), NOW + QUOTA_RETRY_EVERY))


def test_an_unreadable_retry_time_counts_as_never_asked() -> None:
    body = mid_move(
        State.MIGRATING, FITTED, "RollingUpdate:25%:25%", generation=2, status=quota_refused()
    )
    body["metadata"]["annotations"][contract.QUOTA_RETRY] = "yesterday"
    assert asks_of(decide(view(body), leader(), policy(), NOW))


def test_nothing_is_asked_for_once_the_quota_refuses_no_more() -> None:
    body = mid_move(
        State.MIGRATING, FITTED, "RollingUpdate:25%:25%", generation=2, status=done(3, 2)
    )
    body["status"]["updatedReplicas"] = 2
    assert not asks_of(decide(view(body), leader(), policy(), NOW))


def test_a_quota_that_refuses_the_users_own_strategy_is_left_to_the_user() -> None:
    theirs = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    body = mid_move(State.MIGRATING, theirs, None, generation=2, status=quota_refused())
    decision = decide(view(body), leader(doomed_pods=1), policy(), NOW)
    assert decision.next_state is None
    assert not asks_of(decision)


def test_only_the_leader_asks_for_the_refused_pods() -> None:
    body = mid_move(
        State.MIGRATING, FITTED, "RollingUpdate:25%:25%", generation=2, status=quota_refused()
    )
    decision = decide(view(body), follower(), policy(), NOW)
    assert not asks_of(decision)


def test_the_write_that_ends_the_move_drops_the_retry_time() -> None:
    body = mid_move(
        State.MIGRATING, FITTED, "RollingUpdate:25%:25%", generation=2, status=done(3, 2)
    )
    body["metadata"]["annotations"][contract.QUOTA_RETRY] = format_time(NOW)
    decision = decide(view(body), leader(health=HEALTHY), policy(), NOW)
    assert decision.next_state is State.ON_FARGATE
    assert contract.QUOTA_RETRY not in write_of(decision).body["metadata"]["annotations"]


def test_failback_starts_every_replacement_at_once_and_restores_at_the_end() -> None:
    body = in_state(State.ON_FARGATE, annotations={contract.NOTICE: NOTICE})
    decision = decide(view(body), leader(spot_available=True), policy(), NOW + timedelta(hours=1))
    assert decision.next_state is State.FAILING_BACK
    write = write_of(decision)
    assert write.body["spec"]["strategy"] == FAST
    assert write.body["metadata"]["annotations"][contract.SAVED_STRATEGY] == "RollingUpdate:25%:25%"

    back = copy.deepcopy(dict(write.body))
    back["metadata"]["generation"] = 2
    back["status"] = done(3, 2)
    ending = decide(view(back), leader(health=HEALTHY), policy(), NOW + timedelta(hours=1))
    assert ending.next_state is State.WATCHING
    assert write_of(ending).body["spec"]["strategy"] == DEFAULTS
    assert contract.SAVED_STRATEGY not in write_of(ending).body["metadata"]["annotations"]


def test_an_unreadable_saved_strategy_leaves_the_strategy_and_says_so() -> None:
    body = mid_move(State.MIGRATING, FAST, "RollingUpdate:lots", generation=2, status=done(3, 2))
    decision = decide(view(body), leader(health=HEALTHY), policy(), NOW)
    assert decision.next_state is State.ON_FARGATE
    assert write_of(decision).body["spec"]["strategy"] == FAST
    assert any(
        isinstance(a, RecordEvent) and a.reason == DOWNTIME_OR_STRATEGY_REASON and a.warning
        for a in decision.actions
    )
