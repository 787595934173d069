"""When the loop reads its Deployment again: the first tick, a new signal, a move under way, a
wake-up that is due or a setting its user changed, never during a refusal's back-off; an
unusable Deployment when it changes or its back-off ends; and what a tick leaves to remember."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.core import wakeup
from sidecar.core.annotations import DeploymentView
from sidecar.core.durations import NEVER
from sidecar.core.signals import Interruption
from sidecar.core.wakeup import (
    FAILBACK_SPREAD_S,
    HANDS_OFF_RECHECK,
    SPOT_RECHECK,
    interval_s,
    needs_attention,
    settle,
    signal_key,
)
from spot_common import contract
from spot_common.contract import ComputeType, State
from tests.sidecar.core.builders import NOW, deployment, interruption, policy, state_annotations

COOLDOWN = timedelta(minutes=10)
POLICY = policy(failback_after=COOLDOWN)


def in_state(
    state: State, *, since: datetime = NOW, user: Mapping[str, str] | None = None
) -> DeploymentView:
    """The Deployment in ``state`` since ``since``, with the ``user``'s annotations."""
    compute = ComputeType.FARGATE if state is State.ON_FARGATE else None
    marks = state_annotations(state, since=since, compute_type=compute)
    return DeploymentView.parse(deployment(annotations={**marks, **(user or {})}))


def attention(
    view: DeploymentView | None,
    signal: Interruption | None = None,
    now: datetime = NOW,
    *,
    handled: frozenset[wakeup.SignalKey] = frozenset(),
    wake_at: datetime | None = None,
    refused_until: datetime | None = None,
    changed: bool = False,
    unusable_until: datetime | None = None,
) -> bool:
    return needs_attention(
        view,
        signal,
        now,
        handled=handled,
        wake_at=wake_at,
        refused_until=refused_until,
        changed=changed,
        unusable_until=unusable_until,
    )


# --- needs_attention --------------------------------------------------------------------------


def test_the_first_tick_reads_the_deployment() -> None:
    assert attention(None)


def test_an_idle_tick_only_polls() -> None:
    assert not attention(in_state(State.WATCHING))


def test_a_new_signal_is_decided_on() -> None:
    assert attention(in_state(State.WATCHING), interruption())


def test_a_signal_already_handled_is_not_read_again_every_poll() -> None:
    signal = interruption()

    assert not attention(in_state(State.WATCHING), signal, handled=frozenset({signal_key(signal)}))


def test_a_new_deadline_on_the_same_node_is_a_new_signal() -> None:
    first = interruption()
    later = Interruption(
        first.node, first.source, first.kind, NOW, deadline=NOW + timedelta(minutes=5)
    )

    assert signal_key(first) != signal_key(later)
    assert attention(in_state(State.WATCHING), later, handled=frozenset({signal_key(first)}))


@pytest.mark.parametrize("state", [State.MIGRATING, State.FAILING_BACK])
def test_a_move_under_way_is_looked_at_every_tick(state: State) -> None:
    assert attention(in_state(state))


@pytest.mark.parametrize("hands_off", [{contract.PAUSED: "true"}, {contract.ENABLED: "false"}])
def test_a_move_left_paused_or_opted_out_waits_for_its_wake_up(hands_off: dict[str, str]) -> None:
    view = in_state(State.MIGRATING, user=hands_off)

    assert not attention(view, wake_at=NOW + timedelta(seconds=1))
    assert attention(view, wake_at=NOW)


def test_a_due_wake_up_reads_the_deployment_and_an_early_one_does_not() -> None:
    view = in_state(State.ON_FARGATE)

    assert not attention(view, now=NOW, wake_at=NOW + timedelta(seconds=1))
    assert attention(view, now=NOW + timedelta(seconds=1), wake_at=NOW + timedelta(seconds=1))


def test_nothing_is_read_during_a_refusals_back_off_not_even_for_a_signal() -> None:
    until = NOW + timedelta(seconds=5)

    assert not attention(None, interruption(), refused_until=until)
    assert attention(None, interruption(), now=until, refused_until=until)


def test_a_changed_setting_is_read_at_once_by_an_idle_sidecar() -> None:
    assert attention(in_state(State.WATCHING), changed=True)
    assert attention(in_state(State.ON_FARGATE), wake_at=NOW + COOLDOWN, changed=True)


def test_an_unusable_deployment_is_looked_at_when_it_changes_or_its_back_off_ends() -> None:
    until = NOW + timedelta(seconds=10)

    assert not attention(None, interruption(), unusable_until=until)
    assert attention(None, unusable_until=until, changed=True)
    assert attention(None, now=until, unusable_until=until)


def test_a_problem_left_on_a_deployment_that_reads_whole_is_taken_back_at_the_next_tick() -> None:
    said = in_state(State.WATCHING, user={contract.PROBLEM: "spot-failover/failback-after: ..."})
    refused = in_state(State.WATCHING, user={contract.PROBLEM: "metadata.annotations: ..."})

    assert attention(said)
    assert not attention(refused)


# --- changed ------------------------------------------------------------------------------------

USER = {contract.ENABLED: "true"}
KEPT = {contract.STATE: "Watching"}


@pytest.mark.parametrize(
    ("after", "unusable", "expected"),
    [
        ({**USER, **KEPT}, False, False),
        ({**USER, **KEPT, contract.REBALANCE_TRIGGER: "true"}, False, True),
        ({contract.ENABLED: "false", **KEPT}, False, True),
        ({**KEPT}, False, True),
        ({**USER, contract.STATE: "Migrating"}, False, False),
        ({**USER, contract.STATE: "Migrating"}, True, True),
        ({**USER, **KEPT, contract.PROBLEM: "spot-failover/x: ..."}, True, True),
        ({**USER, **KEPT, "deployment.kubernetes.io/revision": "2"}, True, False),
    ],
    ids=[
        "nothing",
        "a setting added",
        "a setting changed",
        "a setting removed",
        "the state moved on",
        "the state moved on while unusable",
        "another sidecar's report",
        "another tool's annotation",
    ],
)
def test_what_counts_as_a_change(after: dict[str, str], unusable: bool, expected: bool) -> None:
    assert wakeup.changed({**USER, **KEPT}, after, unusable=unusable) is expected


def test_without_both_copies_nothing_changed() -> None:
    assert not wakeup.changed(None, USER, unusable=True)
    assert not wakeup.changed(USER, None, unusable=True)


def test_an_unusable_deployment_is_reported_after_a_spread_moment_then_left_longer_each_time() -> (
    None
):
    assert wakeup.unusable_wait_s(1, 0.0) == 0.0
    assert wakeup.unusable_wait_s(1, 1.0) == wakeup.REPORT_SPREAD_S
    waits = [wakeup.unusable_wait_s(times, 0.5) for times in range(2, 14)]
    assert waits[0] == wakeup.REFUSED_FIRST_S
    assert waits == sorted(waits)
    assert waits[-1] == wakeup.REFUSED_BACKOFF_S


# --- interval_s ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (None, 2.0),
        (in_state(State.WATCHING), 2.0),
        (in_state(State.MIGRATING), 0.5),
        (in_state(State.FAILING_BACK), 0.5),
        (in_state(State.MIGRATING, user={contract.PAUSED: "true"}), 2.0),
    ],
    ids=["never read", "watching", "migrating", "failing back", "paused mid-move"],
)
def test_the_loop_ticks_at_the_renewal_interval_only_while_a_move_is_under_way(
    view: DeploymentView | None, expected: float
) -> None:
    assert interval_s(view, poll_s=2.0, renew_s=0.5) == expected


# --- settle --------------------------------------------------------------------------------------


def settled(
    view: DeploymentView,
    *,
    signal: Interruption | None = None,
    released_in: State | None = None,
    spread: float = 0.0,
    now: datetime = NOW,
) -> wakeup.Settled:
    return settle(view, POLICY, now, signal=signal, released_in=released_in, spread=spread)


def test_a_signal_is_handled_once_the_deployment_is_settled() -> None:
    signal = interruption()

    assert settled(in_state(State.FAILED), signal=signal).handled == signal_key(signal)


def test_a_signal_is_not_handled_while_its_move_is_under_way() -> None:
    assert settled(in_state(State.MIGRATING), signal=interruption()).handled is None


def test_a_settled_release_tells_where_a_move_ended_that_the_last_read_shows_under_way() -> None:
    signal = interruption()

    result = settled(in_state(State.MIGRATING), signal=signal, released_in=State.ON_FARGATE)

    assert result.view.state is State.ON_FARGATE
    assert result.handled == signal_key(signal)


def test_a_release_does_not_change_a_view_that_is_already_settled() -> None:
    view = in_state(State.WATCHING)

    assert settled(view, released_in=State.ON_FARGATE).view == view


def test_watching_wakes_only_for_a_signal() -> None:
    assert settled(in_state(State.WATCHING)).wake_at is None


def test_on_fargate_wakes_when_the_cooldown_ends() -> None:
    since = NOW - timedelta(minutes=3)

    assert settled(in_state(State.ON_FARGATE, since=since)).wake_at == since + COOLDOWN


def test_after_the_cooldown_spot_capacity_is_looked_for_again_every_half_minute() -> None:
    since = NOW - 2 * COOLDOWN

    assert settled(in_state(State.ON_FARGATE, since=since)).wake_at == NOW + SPOT_RECHECK


def test_the_sidecars_of_a_deployment_spread_their_failback_wake_ups() -> None:
    view = in_state(State.ON_FARGATE)

    latest = settled(view, spread=1.0).wake_at

    assert latest == NOW + COOLDOWN + timedelta(seconds=FAILBACK_SPREAD_S)


def test_a_short_cooldown_spreads_the_wake_ups_over_a_tenth_of_it() -> None:
    view = in_state(State.ON_FARGATE, user={contract.FAILBACK_AFTER: "30s"})

    assert settled(view, spread=1.0).wake_at == NOW + timedelta(seconds=33)


def test_with_failback_never_there_is_no_wake_up() -> None:
    view = in_state(State.ON_FARGATE)

    never = policy(failback_after=NEVER)

    assert settle(view, never, NOW, signal=None, released_in=None, spread=1.0).wake_at is None


@pytest.mark.parametrize("hands_off", [{contract.PAUSED: "true"}, {contract.ENABLED: "false"}])
def test_a_move_left_paused_or_opted_out_is_read_again_every_half_minute(
    hands_off: dict[str, str],
) -> None:
    assert settled(in_state(State.FAILING_BACK, user=hands_off)).wake_at == NOW + HANDS_OFF_RECHECK


@given(spread=st.floats(min_value=0, max_value=1), minutes=st.integers(min_value=0, max_value=60))
def test_a_failback_wake_up_is_never_before_the_cooldown_ends_nor_long_after(
    spread: float, minutes: int
) -> None:
    since = NOW - timedelta(minutes=minutes)
    wake_at = settled(in_state(State.ON_FARGATE, since=since), spread=spread).wake_at

    end = since + COOLDOWN
    earliest = end if end > NOW else NOW + SPOT_RECHECK
    assert wake_at is not None
    assert earliest <= wake_at <= earliest + timedelta(seconds=FAILBACK_SPREAD_S)
