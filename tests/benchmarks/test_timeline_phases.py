"""The failover timeline is read from the servers' records: each mark is the audited write
that produced the version showing it, and evidence that does not tell a whole failover is
refused with a message saying what is missing."""

from __future__ import annotations

import pytest

from benchmarks import timeline_phases
from benchmarks.timeline_phases import Mark, TimelineEvidenceError
from tests.benchmarks.builders import Recording, at, trial_at, whole_failover


def test_every_mark_is_the_audited_time_of_the_write_that_produced_it() -> None:
    r = whole_failover()

    trial = timeline_phases.trial(at(0.0), at(0.6), r.start, r.versions, r.writes)

    assert trial.marks == {
        Mark.NOTICE: at(0.0),
        Mark.SEEN: at(0.6),
        Mark.MIGRATING: at(1.0),
        Mark.ROLLED_OUT_FARGATE: at(2.5),
        Mark.ON_FARGATE: at(3.0),
        Mark.FAILING_BACK: at(13.5),
        Mark.ROLLED_OUT_SPOT: at(14.5),
        Mark.WATCHING: at(15.0),
    }


def test_the_move_phases_tile_notice_to_on_fargate() -> None:
    r = whole_failover()
    trial = timeline_phases.trial(at(0.0), at(0.6), r.start, r.versions, r.writes)

    phases = [trial.seconds(span) for span in timeline_phases.MOVE_PHASES]

    assert phases == pytest.approx([0.6, 0.4, 1.5, 0.5])
    assert sum(phases) == pytest.approx(trial.seconds(timeline_phases.TOTALS[2]))


def test_a_version_no_audited_write_produced_is_refused() -> None:
    r = Recording()
    r.unaudited("Migrating")

    with pytest.raises(TimelineEvidenceError, match="no audited object update replaced"):
        timeline_phases.trial(at(0.0), at(0.5), r.start, r.versions, r.writes)


def test_a_state_outside_the_happy_path_is_refused_by_name() -> None:
    r = Recording()
    r.sidecar_writes("Migrating", 1.0)
    r.sidecar_writes("RolledBack", 9.0)

    with pytest.raises(TimelineEvidenceError, match="'RolledBack'"):
        timeline_phases.trial(at(0.0), at(0.5), r.start, r.versions, r.writes)


def test_a_failover_that_never_came_back_names_the_missing_marks() -> None:
    r = Recording()
    r.sidecar_writes("Migrating", 1.0)
    r.controller_writes(2.0, rolled_out=True)
    r.sidecar_writes("OnFargate", 3.0)

    with pytest.raises(TimelineEvidenceError) as caught:
        timeline_phases.trial(at(0.0), at(0.5), r.start, r.versions, r.writes)

    assert str(Mark.FAILING_BACK) in str(caught.value)
    assert str(Mark.WATCHING) in str(caught.value)


def test_a_move_started_twice_in_one_trial_is_refused() -> None:
    r = Recording()
    r.sidecar_writes("Migrating", 1.0)
    r.sidecar_writes("Watching", 2.0)
    r.sidecar_writes("Migrating", 3.0)

    with pytest.raises(TimelineEvidenceError, match="twice"):
        timeline_phases.trial(at(0.0), at(0.5), r.start, r.versions, r.writes)


def test_marks_out_of_order_are_refused() -> None:
    r = whole_failover()

    with pytest.raises(TimelineEvidenceError, match="out of order"):
        timeline_phases.trial(at(0.0), at(1.2), r.start, r.versions, r.writes)


def test_figures_give_p50_p99_and_max_of_every_phase_in_seconds() -> None:
    trials = [
        trial_at(0.5, 0.6, 1.6, 2.0, 12.1, 13.0, 13.5),
        trial_at(1.5, 1.6, 2.1, 2.9, 13.2, 13.9, 14.0),
        trial_at(1.0, 1.1, 1.9, 2.4, 12.6, 13.4, 13.9),
    ]

    figures = timeline_phases.figures(trials, cooldown_s=10)

    assert figures["timeline_notice_to_patch_p50_s"] == pytest.approx(1.1)
    assert figures["timeline_notice_to_patch_max_s"] == pytest.approx(1.6)
    assert figures["timeline_patch_to_rollout_complete_p50_s"] == pytest.approx(0.8)
    assert figures["timeline_notice_to_on_fargate_p50_s"] == pytest.approx(2.4)
    assert figures["timeline_failback_lag_after_cooldown_p50_s"] == pytest.approx(0.2)
    assert figures["timeline_notice_budget_s"] == 120
    assert figures["timeline_trials"] == 3
    for key, value in figures.items():
        if key.endswith("_p99_s"):
            assert value <= figures[key.replace("_p99_", "_max_")]


def test_the_median_trial_is_the_middle_one_by_notice_to_on_fargate() -> None:
    fast, middle, slow = (trial_at(0.1, 0.2, 0.3, t, 11, 12, 13) for t in (1.0, 2.0, 9.0))

    assert timeline_phases.median_trial([slow, fast, middle]) is middle
    assert timeline_phases.median_trial([slow, fast]) is fast


@pytest.mark.parametrize(
    ("replicas", "max_surge", "batches"), [(3, 1, 3), (3, 3, 1), (5, 2, 3), (1, 1, 1)]
)
def test_a_rolling_update_starts_its_new_pods_in_batches_of_max_surge(
    replicas: int, max_surge: int, batches: int
) -> None:
    assert timeline_phases.surge_batches(replicas, max_surge) == batches
