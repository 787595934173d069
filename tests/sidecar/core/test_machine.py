"""The migration state machine, scenario by scenario, with ``now`` injected."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest

from sidecar.core import health
from sidecar.core.actions import (
    AcquireLease,
    CheckHealth,
    MarkDoomedPods,
    Nothing,
    RecordEvent,
    ReleaseLease,
    Wait,
    WriteTransition,
)
from sidecar.core.durations import NEVER
from sidecar.core.fargate import COMPUTE_TYPE_KEY, DEFAULT_EC2_KEYS, to_fargate
from sidecar.core.history import HistoryEntry, dump_history, parse_history
from sidecar.core.inputs import Facts
from sidecar.core.machine import Decision, decide
from sidecar.core.signals import Kind
from sidecar.core.times import format_time
from spot_common import contract
from spot_common.contract import ComputeType, State
from tests.sidecar.core.builders import (
    FARGATE_LABELS,
    NODE,
    NOW,
    deployment,
    done,
    follower,
    interruption,
    leader,
    policy,
    spot_template,
    state_annotations,
    view,
)

HEALTHY = health.Healthy("3 pods Ready")


def write_of(decision: Decision) -> WriteTransition:
    writes = [a for a in decision.actions if isinstance(a, WriteTransition)]
    assert len(writes) == 1, decision.actions
    first = next(a for a in decision.actions if not isinstance(a, MarkDoomedPods))
    assert first is writes[0], "the write comes first (after marking the doomed pods)"
    return writes[0]


def apply(decision: Decision) -> dict[str, Any]:
    """What the API server stores after the conditional replace in ``decision``."""
    write = write_of(decision)
    body = copy.deepcopy(dict(write.body))
    body["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 1)
    if write.template_changed:
        body["metadata"]["generation"] += 1
    return body


def finish_rollout(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["status"] = done(body["spec"]["replicas"], body["metadata"]["generation"])
    return body


def marks_of(body: dict[str, Any]) -> dict[str, str]:
    return body["metadata"]["annotations"]  # type: ignore[no-any-return]


def in_state(state: State, *, since: Any = NOW, **extra: Any) -> dict[str, Any]:
    """A Deployment in ``state``; Fargate states get a moved template and its saved scheduling."""
    template = spot_template()
    saved = None
    compute = ComputeType.SPOT
    if state in {State.MIGRATING, State.ON_FARGATE}:
        template, record = to_fargate(template, FARGATE_LABELS, None, DEFAULT_EC2_KEYS)
        saved = record.to_json()
        compute = ComputeType.FARGATE
    marks = state_annotations(state, since=since, compute_type=compute, saved=saved)
    return deployment(annotations=marks | extra.pop("annotations", {}), template=template, **extra)


# --- Watching ---------------------------------------------------------------------------------


def test_an_interrupted_leader_moves_the_template_and_the_state_in_one_write() -> None:
    before = deployment()
    decision = decide(view(before), leader(interruption=interruption()), policy(), NOW)

    assert decision.next_state is State.MIGRATING
    write = write_of(decision)
    assert write.template_changed
    body = write.body
    marks = marks_of(dict(body))
    assert marks[contract.STATE] == "Migrating"
    assert marks[contract.COMPUTE_TYPE] == "fargate"
    assert marks[contract.LAST_TRANSITION] == format_time(NOW)
    assert json.loads(marks[contract.NOTICE])["node"] == NODE
    assert json.loads(marks[contract.SAVED_SCHEDULING])["nodeSelector"] == {
        "karpenter.sh/capacity-type": "spot"
    }
    (entry,) = parse_history(marks[contract.HISTORY])
    assert (entry.from_state, entry.to_state, entry.by) == (
        State.WATCHING,
        State.MIGRATING,
        "web-1",
    )
    assert body["spec"]["template"]["metadata"]["labels"]["spot-failover/fargate"] == "true"
    assert body["metadata"]["resourceVersion"] == "100", "the write is conditional"
    for field in ("replicas", "selector"):
        assert body["spec"][field] == before["spec"][field]
    assert body["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0},
    }, "every replacement starts at once, in the same write"
    assert marks[contract.SAVED_STRATEGY] == "RollingUpdate:25%:25%"
    assert decision.actions[0] == MarkDoomedPods(NODE), "before the rollout can scale down"
    assert decision.actions[2] == RecordEvent("MigratingToFargate", write.message)
    assert not any(isinstance(a, ReleaseLease) for a in decision.actions), "keeps leading"


def test_an_interrupted_sidecar_without_the_lease_asks_for_it_and_writes_nothing() -> None:
    decision = decide(view(deployment()), follower(interruption=interruption()), policy(), NOW)
    assert decision == Decision(None, (AcquireLease(),))


def test_without_a_signal_watching_does_nothing_and_gives_up_a_lease_it_holds() -> None:
    assert decide(view(deployment()), follower(), policy(), NOW).actions == (
        Nothing("no interruption signal for this node"),
    )
    assert decide(view(deployment()), leader(), policy(), NOW).actions[-1] == ReleaseLease()


@pytest.mark.parametrize(
    ("annotation", "policy_default", "moves"),
    [
        (None, False, False),
        (None, True, True),
        ("true", False, True),
        ("false", True, False),
    ],
)
def test_a_rebalance_starts_a_move_only_when_opted_in(
    annotation: str | None, policy_default: bool, moves: bool
) -> None:
    marks = {} if annotation is None else {contract.REBALANCE_TRIGGER: annotation}
    signal = interruption(kind=Kind.REBALANCE)
    decision = decide(
        view(deployment(annotations=marks)),
        leader(interruption=signal),
        policy(rebalance_trigger=policy_default),
        NOW,
    )
    assert (decision.next_state is State.MIGRATING) == moves


@pytest.mark.parametrize(
    ("annotation", "policy_default", "moves"),
    [
        (None, False, False),
        (None, True, True),
        ("true", False, True),
        ("false", True, False),
    ],
)
def test_a_voluntary_disruption_starts_a_move_only_when_opted_in(
    annotation: str | None, policy_default: bool, moves: bool
) -> None:
    marks = {} if annotation is None else {contract.DISRUPTION_TRIGGER: annotation}
    decision = decide(
        view(deployment(annotations=marks)),
        leader(interruption=interruption(kind=Kind.DISRUPTION)),
        policy(disruption_trigger=policy_default),
        NOW,
    )
    assert (decision.next_state is State.MIGRATING) == moves


def test_opting_in_to_one_opt_in_kind_does_not_opt_in_to_the_other() -> None:
    for kind, other in (
        (Kind.DISRUPTION, contract.REBALANCE_TRIGGER),
        (Kind.REBALANCE, contract.DISRUPTION_TRIGGER),
    ):
        decision = decide(
            view(deployment(annotations={other: "true"})),
            leader(interruption=interruption(kind=kind)),
            policy(),
            NOW,
        )
        assert decision.next_state is None, kind


def test_a_template_fargate_cannot_run_fails_with_reasons_and_is_not_patched() -> None:
    template = spot_template()
    template["spec"]["hostNetwork"] = True
    before = deployment(template=template)
    decision = decide(view(before), leader(interruption=interruption()), policy(), NOW)

    assert decision.next_state is State.FAILED
    write = write_of(decision)
    assert not write.template_changed
    assert write.body["spec"]["template"] == before["spec"]["template"]
    assert "hostNetwork" in write.message
    assert RecordEvent("FargateIncompatible", write.message, warning=True) in decision.actions
    assert marks_of(dict(write.body))[contract.COMPUTE_TYPE] == "spot"
    assert decision.actions[-1] == ReleaseLease()


def test_a_move_that_would_change_nothing_is_refused() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w"}]}}
    marks = {contract.FARGATE_LABELS: "app=web"}
    decision = decide(
        view(deployment(template=template, annotations=marks)),
        leader(interruption=interruption()),
        policy(),
        NOW,
    )
    assert decision.next_state is State.FAILED
    assert "would not change the pod template" in write_of(decision).message


def test_fargate_labels_that_break_the_selector_are_refused() -> None:
    marks = {contract.FARGATE_LABELS: "app=fargate-web"}
    decision = decide(
        view(deployment(annotations=marks)), leader(interruption=interruption()), policy(), NOW
    )
    assert decision.next_state is State.FAILED
    assert "spec.selector" in write_of(decision).message


def test_per_deployment_labels_and_profile_override_the_policy() -> None:
    marks = {contract.FARGATE_LABELS: "pool=serverless", contract.FARGATE_PROFILE: "web"}
    decision = decide(
        view(deployment(annotations=marks)), leader(interruption=interruption()), policy(), NOW
    )
    labels = write_of(decision).body["spec"]["template"]["metadata"]["labels"]
    assert labels == {
        "app": "web",
        "pool": "serverless",
        "eks.amazonaws.com/fargate-profile": "web",
    }


# --- A whole round trip -----------------------------------------------------------------------


def test_a_full_cycle_moves_to_fargate_and_back_to_the_original_template() -> None:
    original = deployment()
    marks = {contract.HEALTH_URL: "http://web.shop:8080/healthz"}
    original["metadata"]["annotations"].update(marks)
    rules = policy(failback_after=timedelta(minutes=10))
    t = NOW

    body = apply(decide(view(original), leader(interruption=interruption()), rules, t))

    t += timedelta(seconds=5)
    progressing = decide(view(body), leader(), rules, t)
    assert progressing.next_state is None
    assert progressing.actions == (CheckHealth(ComputeType.FARGATE, 3, None, early=True),)
    progressing = decide(view(body), leader(health=health.NotYet("rollout under way")), rules, t)
    assert progressing.actions == (
        Nothing("waiting for the deployment spec update to be observed"),
    )

    body = finish_rollout(body)
    t += timedelta(seconds=60)
    asked = decide(view(body), leader(), rules, t)
    assert asked.actions == (CheckHealth(ComputeType.FARGATE, 3, "http://web.shop:8080/healthz"),)

    arrived = decide(view(body), leader(health=HEALTHY), rules, t)
    assert arrived.next_state is State.ON_FARGATE
    assert arrived.actions[-1] == ReleaseLease()
    body = apply(arrived)
    on_fargate_since = t

    t += timedelta(minutes=3)
    cooling = decide(view(body), follower(), rules, t)
    assert cooling.actions == (
        Wait(on_fargate_since + timedelta(minutes=10), "failback cooldown of 10m"),
    )

    t = on_fargate_since + timedelta(minutes=10)
    assert decide(view(body), follower(), rules, t).actions == (
        Nothing("cooldown over; waiting for spot capacity"),
    )
    assert decide(view(body), follower(spot_available=True), rules, t).actions == (AcquireLease(),)
    leaving = decide(view(body), leader(spot_available=True), rules, t)
    assert leaving.next_state is State.FAILING_BACK
    assert write_of(leaving).body["spec"]["template"] == original["spec"]["template"]
    assert contract.SAVED_SCHEDULING not in marks_of(dict(write_of(leaving).body))
    body = finish_rollout(apply(leaving))

    t += timedelta(seconds=90)
    asked = decide(view(body), leader(), rules, t)
    assert asked.actions == (CheckHealth(ComputeType.SPOT, 3, "http://web.shop:8080/healthz"),)
    home = decide(view(body), leader(health=HEALTHY), rules, t)
    assert home.next_state is State.WATCHING
    body = apply(home)

    assert body["spec"]["template"] == original["spec"]["template"]
    marks_after = marks_of(body)
    assert marks_after[contract.COMPUTE_TYPE] == "spot"
    assert contract.NOTICE not in marks_after
    assert [e.to_state for e in parse_history(marks_after[contract.HISTORY])] == [
        State.MIGRATING,
        State.ON_FARGATE,
        State.FAILING_BACK,
        State.WATCHING,
    ]


# --- Migrating --------------------------------------------------------------------------------


def test_a_new_leader_resumes_a_move_without_patching_again() -> None:
    body = in_state(State.MIGRATING, generation=2, status=done(3, 1))
    newcomer = Facts(me="web-3", holds_lease=True, interruption=interruption("another-node"))
    decision = decide(view(body), newcomer, policy(), NOW + timedelta(seconds=30))
    assert decision.next_state is None
    assert not any(isinstance(a, WriteTransition) for a in decision.actions)


def test_a_move_in_progress_needs_a_leader_so_anyone_may_take_it_up() -> None:
    body = in_state(State.MIGRATING, generation=2, status=done(3, 1))
    assert decide(view(body), follower(), policy(), NOW).actions == (AcquireLease(),)


def test_a_rollout_past_its_progress_deadline_is_rolled_back_exactly() -> None:
    status = done(3, 1)
    status["conditions"][1]["reason"] = "ProgressDeadlineExceeded"
    body = in_state(State.MIGRATING, status=status)
    decision = decide(view(body), leader(), policy(), NOW + timedelta(minutes=1))

    assert decision.next_state is State.ROLLED_BACK
    write = write_of(decision)
    assert write.body["spec"]["template"] == spot_template()
    marks = marks_of(dict(write.body))
    assert marks[contract.COMPUTE_TYPE] == "spot"
    assert contract.SAVED_SCHEDULING not in marks
    assert RecordEvent("RolledBack", write.message, warning=True) in decision.actions


def test_a_move_that_outlives_the_rollout_timeout_is_rolled_back() -> None:
    body = in_state(State.MIGRATING, generation=2, status=done(3, 1))
    rules = policy(rollout_timeout=timedelta(minutes=5))
    assert decide(view(body), leader(), rules, NOW + timedelta(minutes=4)).next_state is None
    decision = decide(view(body), leader(), rules, NOW + timedelta(minutes=5))
    assert decision.next_state is State.ROLLED_BACK
    assert "not done after 5m" in write_of(decision).message


def test_pods_on_the_wrong_compute_roll_back_at_once() -> None:
    body = in_state(State.MIGRATING, generation=2, status=done(3, 1))
    misplaced = health.Unhealthy("pod web-x runs on spot node ip-1, expected fargate")
    decision = decide(view(body), leader(health=misplaced), policy(), NOW)
    assert decision.next_state is State.ROLLED_BACK
    assert "runs on spot node" in write_of(decision).message


def test_pods_not_yet_healthy_wait_until_the_deadline() -> None:
    body = in_state(State.MIGRATING)
    slow = health.NotYet("2 of 3 pods Ready on fargate")
    assert decide(view(body), leader(health=slow), policy(), NOW).actions == (
        Nothing("2 of 3 pods Ready on fargate"),
    )
    late = decide(view(body), leader(health=slow), policy(), NOW + timedelta(minutes=5))
    assert late.next_state is State.ROLLED_BACK


@pytest.mark.parametrize("saved", [None, "{not json", '{"version": 9}'])
def test_a_move_that_cannot_be_undone_is_failed_and_left_on_fargate(saved: str | None) -> None:
    body = in_state(State.MIGRATING, generation=2, status=done(3, 1))
    if saved is None:
        del body["metadata"]["annotations"][contract.SAVED_SCHEDULING]
    else:
        body["metadata"]["annotations"][contract.SAVED_SCHEDULING] = saved
    decision = decide(view(body), leader(), policy(), NOW + timedelta(minutes=5))
    assert decision.next_state is State.FAILED
    write = write_of(decision)
    assert not write.template_changed
    assert contract.SAVED_SCHEDULING in write.message
    assert marks_of(dict(write.body))[contract.COMPUTE_TYPE] == "fargate"


# --- OnFargate and FailingBack ----------------------------------------------------------------


def test_failback_waits_exactly_for_the_cooldown() -> None:
    body = in_state(State.ON_FARGATE)
    rules = policy(failback_after=timedelta(minutes=10))
    due = NOW + timedelta(minutes=10)
    early = decide(view(body), leader(spot_available=True), rules, due - timedelta(microseconds=1))
    assert early.actions[0] == Wait(due, "failback cooldown of 10m")
    assert early.actions[-1] == ReleaseLease()
    assert decide(view(body), leader(spot_available=True), rules, due).next_state is (
        State.FAILING_BACK
    )


def test_failback_never_happens_with_never() -> None:
    body = in_state(State.ON_FARGATE)
    later = NOW + timedelta(days=365)
    decision = decide(view(body), leader(spot_available=True), policy(failback_after=NEVER), later)
    assert decision.next_state is None


def test_a_per_deployment_cooldown_overrides_the_policy() -> None:
    body = in_state(State.ON_FARGATE, annotations={contract.FAILBACK_AFTER: "30s"})
    rules = policy(failback_after=NEVER)
    decision = decide(view(body), leader(spot_available=True), rules, NOW + timedelta(seconds=30))
    assert decision.next_state is State.FAILING_BACK


def test_failback_can_add_the_ec2_annotation_for_namespace_wide_profiles() -> None:
    body = in_state(State.ON_FARGATE)
    rules = policy(add_ec2_annotation_on_failback=True)
    decision = decide(view(body), leader(spot_available=True), rules, NOW + timedelta(hours=1))
    template = write_of(decision).body["spec"]["template"]
    assert template["metadata"]["annotations"][COMPUTE_TYPE_KEY] == "ec2"


def test_a_failback_without_saved_scheduling_is_failed_and_stays_on_fargate() -> None:
    body = in_state(State.ON_FARGATE)
    del body["metadata"]["annotations"][contract.SAVED_SCHEDULING]
    decision = decide(view(body), leader(spot_available=True), policy(), NOW + timedelta(hours=1))
    assert decision.next_state is State.FAILED
    assert not write_of(decision).template_changed
    assert RecordEvent("FailbackImpossible", write_of(decision).message, True) in decision.actions


def test_a_failed_failback_returns_to_fargate_and_restarts_the_cooldown() -> None:
    body = in_state(State.FAILING_BACK, generation=2, status=done(3, 1))
    misplaced = health.Unhealthy("pod web-x runs on fargate node f-1, expected spot")
    later = NOW + timedelta(minutes=2)
    decision = decide(view(body), leader(health=misplaced), policy(), later)
    assert decision.next_state is State.ON_FARGATE
    write = write_of(decision)
    moved, _ = to_fargate(spot_template(), FARGATE_LABELS, None, DEFAULT_EC2_KEYS)
    assert write.body["spec"]["template"] == moved
    marks = marks_of(dict(write.body))
    assert marks[contract.LAST_TRANSITION] == format_time(later)
    assert marks[contract.COMPUTE_TYPE] == "fargate"
    assert contract.SAVED_SCHEDULING in marks


# --- RolledBack and Failed --------------------------------------------------------------------


@pytest.mark.parametrize("state", [State.ROLLED_BACK, State.FAILED])
def test_after_a_failure_only_a_new_signal_starts_another_move(state: State) -> None:
    body = in_state(state)
    body["metadata"]["annotations"][contract.NOTICE] = json.dumps(
        {
            "node": NODE,
            "source": "imds",
            "kind": "interruption",
            "action": None,
            "time": "2026-01-02T15:04:05Z",
        }
    )
    same = decide(view(body), leader(interruption=interruption()), policy(), NOW)
    assert same.next_state is None
    other = decide(view(body), leader(interruption=interruption("another-node")), policy(), NOW)
    assert other.next_state is State.MIGRATING


def test_failed_with_the_template_on_fargate_waits_for_a_human() -> None:
    body = in_state(State.FAILED, annotations={contract.COMPUTE_TYPE: "fargate"})
    decision = decide(view(body), leader(interruption=interruption()), policy(), NOW)
    assert decision.next_state is None
    assert "waiting for a human" in str(decision.actions[0])


# --- What no state may do ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "marks", [{contract.PAUSED: "true"}, {contract.ENABLED: "false"}], ids=["paused", "disabled"]
)
def test_paused_or_disabled_deployments_get_no_writes_at_all(marks: dict[str, str]) -> None:
    decision = decide(
        view(deployment(annotations=marks)), leader(interruption=interruption()), policy(), NOW
    )
    assert decision.next_state is None
    assert all(isinstance(a, Nothing) for a in decision.actions)


def test_a_dry_run_records_what_it_would_do_and_writes_nothing() -> None:
    decision = decide(
        view(deployment()), leader(interruption=interruption()), policy(dry_run=True), NOW
    )
    assert decision.next_state is None
    (event,) = decision.actions
    assert isinstance(event, RecordEvent)
    assert event.reason == "DryRun"
    assert "would go from Watching to Migrating" in event.message


def test_history_keeps_only_the_newest_entries() -> None:
    old = [
        HistoryEntry(NOW - timedelta(hours=i), State.WATCHING, State.MIGRATING, f"old {i}", "p")
        for i in range(contract.HISTORY_LIMIT, 0, -1)
    ]
    body = deployment(annotations={contract.HISTORY: dump_history(old)})
    decision = decide(view(body), leader(interruption=interruption()), policy(), NOW)
    history = parse_history(marks_of(dict(write_of(decision).body))[contract.HISTORY])
    assert len(history) == contract.HISTORY_LIMIT
    assert history[-1].time == NOW
    assert history[0].reason == f"old {contract.HISTORY_LIMIT - 1}"


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(view(deployment()), leader(), policy(), NOW.replace(tzinfo=None))


def test_while_a_move_to_fargate_rolls_out_its_pods_are_looked_at_every_tick() -> None:
    body = in_state(State.MIGRATING, generation=2, status=done(3, 1))

    assert decide(view(body), leader(), policy(), NOW).actions == (
        CheckHealth(ComputeType.FARGATE, 3, None, early=True),
    )


def test_a_pod_fargate_refuses_rolls_the_move_back_at_once_with_fargates_reason() -> None:
    body = in_state(State.MIGRATING, generation=2, status=done(3, 1))
    refusal = health.Unhealthy(
        "Fargate refused pod web-x: Pod not supported on Fargate: invalid SecurityContext "
        "fields: Capabilities added: NET_ADMIN"
    )

    decision = decide(view(body), leader(health=refusal), policy(), NOW + timedelta(seconds=3))

    assert decision.next_state is State.ROLLED_BACK
    write = write_of(decision)
    assert "Pod not supported on Fargate: invalid SecurityContext" in write.message
    assert write.body["spec"]["template"] == spot_template()
    assert RecordEvent("RolledBack", write.message, warning=True) in decision.actions


def test_a_failback_rolling_out_asks_for_no_early_look() -> None:
    body = in_state(State.FAILING_BACK, generation=2, status=done(3, 1))

    actions = decide(view(body), leader(), policy(), NOW).actions
    assert not any(isinstance(action, CheckHealth) for action in actions)
