"""The faults suite's figures: counts, fractions and the slowest times of its trials, and a
section that says what was not measured."""

from __future__ import annotations

from benchmarks import faults, faults_report
from benchmarks.faults import Outcome


def test_each_kind_of_trial_gives_its_own_figure() -> None:
    outcomes = [
        Outcome("voluntary", 0.0),
        Outcome("voluntary", 1.0),
        Outcome("karpenter", 1.0),
        Outcome("karpenter", 0.0),
        Outcome("refusal", 2.5),
        Outcome("refusal", 9.0),
        Outcome("failback", 1.0),
        Outcome("failback", 1.0),
        Outcome("annotation", 3.0),
        Outcome("annotation", 41.0),
        Outcome("stuck", 0.12),
        Outcome("stuck", 0.31),
    ]

    found = faults.figures(outcomes)

    assert found == {
        "faults_trials_per_kind": 2.0,
        "faults_voluntary_disruptions_moved": 1.0,
        "faults_karpenter_interruptions_moved": 0.5,
        "faults_fargate_refusal_to_rolled_back_p99_s": found[
            "faults_fargate_refusal_to_rolled_back_p99_s"
        ],
        "faults_karpenter_failback_done": 1.0,
        "faults_runtime_annotation_applied_s": 41.0,
        "faults_stuck_move_resolved_ratio": 0.31,
    }
    assert 8.9 < found["faults_fargate_refusal_to_rolled_back_p99_s"] <= 9.0


def test_a_kind_that_did_not_run_has_no_figure_and_the_section_says_so() -> None:
    found = faults.figures([Outcome("refusal", 4.0)])

    assert "faults_voluntary_disruptions_moved" not in found
    text = "\n".join(faults_report.section(found))
    assert "| `faults_voluntary_disruptions_moved` | not measured | 0 |" in text
    assert "| `faults_fargate_refusal_to_rolled_back_p99_s` | 4 s | ≤ 15 s |" in text


def test_every_kind_has_a_trial() -> None:
    # The stuck move's trial also needs the Fargate simulator (to refuse) and starts a warden.
    assert set(faults.TRIALS) | {"stuck"} == set(faults.KINDS)
