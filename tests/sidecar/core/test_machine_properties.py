"""Properties of the state machine over every (state, event) pair and generated situations."""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.core import health, strategy, transitions
from sidecar.core.actions import WRITES, Nothing, RecordEvent, WriteTransition
from sidecar.core.errors import IllegalTransitionError
from sidecar.core.fargate import DEFAULT_EC2_KEYS, to_fargate
from sidecar.core.history import parse_history
from sidecar.core.inputs import Facts
from sidecar.core.machine import decide
from sidecar.core.signals import Kind
from sidecar.core.transitions import TRANSITIONS, Event, transition
from spot_common import contract
from spot_common.contract import ComputeType, State
from tests.sidecar.core import strategies
from tests.sidecar.core.builders import (
    FARGATE_LABELS,
    NOW,
    deployment,
    done,
    interruption,
    policy,
    state_annotations,
    view,
)

PAIRS = [(state, event) for state in State for event in Event]


@pytest.mark.parametrize(("state", "event"), PAIRS, ids=[f"{s}-{e}" for s, e in PAIRS])
def test_every_pair_either_is_in_the_table_or_raises_the_typed_error(
    state: State, event: Event
) -> None:
    if event in TRANSITIONS[state]:
        assert transition(state, event).target in State
    else:
        with pytest.raises(IllegalTransitionError) as caught:
            transition(state, event)
        assert (caught.value.state, caught.value.event) == (state, event)


@given(st.sampled_from(State), st.sampled_from(Event))
def test_any_pair_lands_in_a_legal_state_or_raises_the_typed_error(
    state: State, event: Event
) -> None:
    try:
        edge = transition(state, event)
    except IllegalTransitionError:
        assert event not in TRANSITIONS[state]
    else:
        assert edge.target in State
        assert edge.reason


def test_every_state_is_reachable_from_watching_and_can_get_back_to_a_move() -> None:
    reached = {State.WATCHING}
    frontier = [State.WATCHING]
    while frontier:
        for edge in TRANSITIONS[frontier.pop()].values():
            if edge.target not in reached:
                reached.add(edge.target)
                frontier.append(edge.target)
    assert reached == set(State)
    for state in State:
        assert TRANSITIONS[state], f"{state} is a dead end"


def test_the_table_in_the_module_docstring_is_the_table_in_the_code() -> None:
    rows = re.findall(r"^(\w+)\s+(\w+)\s+(\w+)\s+(\w+)( \(W\))?$", transitions.__doc__ or "", re.M)
    documented = {(State(s), Event(e), State(t), reason, bool(w)) for s, e, t, reason, w in rows}
    actual = {
        (state, event, edge.target, edge.reason, edge.warning)
        for state, edges in TRANSITIONS.items()
        for event, edge in edges.items()
    }
    assert documented == actual


# --- decide() over generated situations -------------------------------------------------------

healths: st.SearchStrategy[health.Verdict | None] = st.none() | st.sampled_from(
    [health.Healthy("ok"), health.NotYet("slow"), health.Unhealthy("misplaced")]
)
signals = st.none() | st.builds(
    interruption, st.sampled_from(["node-a", "node-b"]), st.sampled_from(Kind)
)
user_marks = st.fixed_dictionaries(
    {},
    optional={
        contract.ENABLED: st.sampled_from(["true", "false"]),
        contract.PAUSED: st.sampled_from(["true", "false"]),
        contract.REBALANCE_TRIGGER: st.sampled_from(["true", "false"]),
        contract.FAILBACK_AFTER: st.sampled_from(["0", "10m", "never"]),
    },
)
statuses = st.sampled_from(["complete", "progressing", "deadline"])


@st.composite
def situations(draw: st.DrawFn) -> tuple[dict[str, Any], Facts, Any, Any]:
    state = draw(st.sampled_from(State))
    template = draw(strategies.templates)
    template.setdefault("metadata", {}).setdefault("labels", {})["app"] = "web"
    compute = draw(st.sampled_from(ComputeType))
    saved: str | None = None
    if compute is ComputeType.FARGATE:
        template, record = to_fargate(template, FARGATE_LABELS, None, DEFAULT_EC2_KEYS)
        saved = draw(st.sampled_from([record.to_json(), "garbage"]))
    since = NOW - timedelta(seconds=draw(st.integers(0, 3600)))
    marks = state_annotations(state, since=since, compute_type=compute, saved=saved)
    marks |= draw(user_marks)
    if draw(st.booleans()):
        marks[contract.NOTICE] = json.dumps(
            {"node": "node-a", "source": "imds", "kind": "interruption", "action": None,
             "time": "2026-01-02T15:04:05Z"}
        )  # fmt: skip
    status = done(3, 2)
    kind = draw(statuses)
    if kind == "progressing":
        status["updatedReplicas"] = 1
    elif kind == "deadline":
        status["conditions"][1]["reason"] = "ProgressDeadlineExceeded"
    body = deployment(annotations=marks, template=template, generation=2, status=status)
    facts = Facts(
        me="web-1",
        holds_lease=draw(st.booleans()),
        interruption=draw(signals),
        health=draw(healths),
        spot_available=draw(st.booleans()),
    )
    rules = policy(
        dry_run=draw(st.booleans()),
        rebalance_trigger=draw(st.booleans()),
        add_ec2_annotation_on_failback=draw(st.booleans()),
    )
    now = NOW + timedelta(seconds=draw(st.integers(0, 7200)))
    return body, facts, rules, now


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(situations())
def test_decide_only_ever_takes_edges_from_the_table(situation: Any) -> None:
    body, facts, rules, now = situation
    current = view(body)
    decision = decide(current, facts, rules, now)
    if decision.next_state is not None:
        targets = {edge.target for edge in TRANSITIONS[current.state].values()}
        assert decision.next_state in targets
        write = next(a for a in decision.actions if isinstance(a, WriteTransition))
        assert (write.from_state, write.to_state) == (current.state, decision.next_state)


@PROPERTY_SETTINGS
@given(situations())
def test_nothing_is_written_without_the_lease(situation: Any) -> None:
    body, facts, rules, now = situation
    facts = Facts(facts.me, False, facts.interruption, facts.health, facts.spot_available)
    decision = decide(view(body), facts, rules, now)
    assert decision.next_state is None
    assert not any(isinstance(a, WriteTransition | RecordEvent) for a in decision.actions)


@PROPERTY_SETTINGS
@given(situations())
def test_paused_or_disabled_means_no_writes_of_any_kind(situation: Any) -> None:
    body, facts, rules, now = situation
    current = view(body)
    decision = decide(current, facts, rules, now)
    if current.overrides.paused or not current.overrides.enabled:
        assert decision.next_state is None
        assert all(isinstance(a, Nothing) for a in decision.actions)
        assert not any(isinstance(a, WRITES) for a in decision.actions)


@PROPERTY_SETTINGS
@given(situations())
def test_a_dry_run_never_writes_the_deployment(situation: Any) -> None:
    body, facts, rules, now = situation
    rules = type(rules)(**{**rules.__dict__, "dry_run": True})
    decision = decide(view(body), facts, rules, now)
    assert decision.next_state is None
    assert not any(isinstance(a, WriteTransition) for a in decision.actions)


@PROPERTY_SETTINGS
@given(situations())
def test_a_write_changes_only_annotations_and_the_pod_template(situation: Any) -> None:
    body, facts, rules, now = situation
    original = copy.deepcopy(body)
    current = view(body)
    decision = decide(current, facts, rules, now)
    assert body == original, "decide must not modify its input"
    for write in (a for a in decision.actions if isinstance(a, WriteTransition)):
        new = copy.deepcopy(dict(write.body))
        old = copy.deepcopy(body)
        for side in (new, old):
            side["metadata"].pop("annotations")
            side["spec"].pop("template")
        written, before = new["spec"].pop("strategy"), old["spec"].pop("strategy")
        assert new == old, "replicas, selector and status are never changed"
        saved = body["metadata"].get("annotations", {}).get(contract.SAVED_STRATEGY)
        allowed = {strategy.encode(before), contract.MOVE_STRATEGY, saved}
        assert strategy.encode(written) in allowed or strategy.is_moves(written), (
            "the strategy changes only to a move's or back to the saved one"
        )
        assert write.template_changed == (
            write.body["spec"]["template"] != body["spec"]["template"]
        )
        containers = write.body["spec"]["template"]["spec"]["containers"]
        assert containers == body["spec"]["template"]["spec"]["containers"]
        marks = write.body["metadata"]["annotations"]
        assert marks[contract.STATE] == str(write.to_state)
        assert len(parse_history(marks[contract.HISTORY])) <= contract.HISTORY_LIMIT
        assert view(write.body).state is write.to_state, "what is written reads back"
