"""Through the whole machine: a move back keeps what was written since the move, writes the
saved values everywhere else, and says what it kept (status message, history, a Normal Event)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sidecar.core import health
from sidecar.core.actions import RecordEvent
from sidecar.core.history import parse_history
from sidecar.core.machine import KEPT_USER_EDIT_REASON, Decision, decide
from spot_common import contract
from spot_common.contract import State
from tests.sidecar.core.builders import NOW, done, leader, policy, spot_template, view
from tests.sidecar.core.test_machine import in_state, marks_of, write_of
from tests.sidecar.core.test_machine_strategy import DEFAULTS, FAST, HEALTHY, mid_move

THEIRS = {"key": "karpenter.sh/capacity-type", "operator": "Equal", "value": "spot"}
TOLERATIONS = "spec.template.spec.tolerations[key=karpenter.sh/capacity-type]"
NODE_SELECTOR = "spec.template.spec.nodeSelector[karpenter.sh/capacity-type]"
LATER = NOW + timedelta(hours=1)
"""Well past the cooldown."""


def kept_events(decision: Decision) -> list[RecordEvent]:
    return [
        a
        for a in decision.actions
        if isinstance(a, RecordEvent) and a.reason == KEPT_USER_EDIT_REASON
    ]


def history_reason(decision: Decision) -> str:
    return parse_history(marks_of(dict(write_of(decision).body))[contract.HISTORY])[-1].reason


def with_their_toleration(body: dict[str, Any]) -> dict[str, Any]:
    body["spec"]["template"]["spec"]["tolerations"].append(dict(THEIRS))
    return body


def test_failback_keeps_a_toleration_written_on_fargate_and_restores_everything_else() -> None:
    body = with_their_toleration(in_state(State.ON_FARGATE))

    decision = decide(view(body), leader(spot_available=True), policy(), LATER)

    assert decision.next_state is State.FAILING_BACK
    template = write_of(decision).body["spec"]["template"]
    expected = spot_template()
    expected["spec"]["tolerations"] = [expected["spec"]["tolerations"][0], THEIRS]
    assert template == expected


def test_failback_says_which_fields_kept_what_was_written_in_one_normal_event() -> None:
    body = with_their_toleration(in_state(State.ON_FARGATE))

    decision = decide(view(body), leader(spot_available=True), policy(), LATER)

    (event,) = kept_events(decision)
    assert not event.warning
    assert TOLERATIONS in event.message
    assert event.message in marks_of(dict(write_of(decision).body))[contract.MESSAGE]
    assert event.message in history_reason(decision)


def test_a_failback_with_nothing_written_since_the_move_says_nothing_more() -> None:
    body = in_state(State.ON_FARGATE)
    decision = decide(view(body), leader(spot_available=True), policy(), LATER)
    assert write_of(decision).body["spec"]["template"] == spot_template()
    assert kept_events(decision) == []
    assert "kept" not in marks_of(dict(write_of(decision).body))[contract.MESSAGE]


def test_a_rollback_keeps_a_node_selector_written_during_the_move() -> None:
    body = in_state(State.MIGRATING, generation=2, status=done(3, 1))
    body["spec"]["template"]["spec"]["nodeSelector"]["karpenter.sh/capacity-type"] = "on-demand"
    misplaced = health.Unhealthy("pod web-x runs on spot node ip-1, expected fargate")

    decision = decide(view(body), leader(health=misplaced), policy(), LATER)

    assert decision.next_state is State.ROLLED_BACK
    selector = write_of(decision).body["spec"]["template"]["spec"]["nodeSelector"]
    assert selector == {"karpenter.sh/capacity-type": "on-demand", "kubernetes.io/os": "linux"}
    (event,) = kept_events(decision)
    assert NODE_SELECTOR in event.message


def test_the_end_of_a_move_says_that_a_strategy_written_meanwhile_was_kept() -> None:
    theirs = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 5, "maxUnavailable": 1}}
    body = mid_move(
        State.MIGRATING, theirs, "RollingUpdate:25%:25%", generation=2, status=done(3, 2)
    )

    decision = decide(view(body), leader(health=HEALTHY), policy(), LATER)

    assert write_of(decision).body["spec"]["strategy"] == theirs
    (event,) = kept_events(decision)
    assert "spec.strategy" in event.message


def test_a_strategy_put_back_as_the_saved_one_or_the_moves_own_is_restored_silently() -> None:
    for during in (DEFAULTS, FAST):
        body = mid_move(
            State.MIGRATING, during, "RollingUpdate:25%:25%", generation=2, status=done(3, 2)
        )
        decision = decide(view(body), leader(health=HEALTHY), policy(), LATER)
        assert write_of(decision).body["spec"]["strategy"] == DEFAULTS
        assert kept_events(decision) == []


def test_a_dry_run_says_what_it_would_keep_and_writes_nothing() -> None:
    body = with_their_toleration(in_state(State.ON_FARGATE))
    decision = decide(view(body), leader(spot_available=True), policy(dry_run=True), LATER)
    (event,) = decision.actions
    assert isinstance(event, RecordEvent)
    assert event.reason == "DryRun"
    assert f"would keep {TOLERATIONS}" in event.message
