"""The timeline section of BENCHMARKS.md: the plot, the phase table and what is left of the
notice once EKS Fargate's pod start is added to the measured reaction."""

from __future__ import annotations

from benchmarks import timeline_report


def figures() -> dict[str, float]:
    return {
        "timeline_trials": 5,
        "timeline_replicas": 3,
        "timeline_max_surge": 1,
        "timeline_failback_cooldown_s": 10,
        "timeline_notice_to_patch_p50_s": 1.0,
        "timeline_notice_to_patch_p99_s": 2.5,
        "timeline_notice_to_patch_max_s": 2.6,
        "timeline_patch_to_rollout_complete_p50_s": 0.9,
    }


def test_the_section_embeds_the_plot_by_a_relative_link() -> None:
    text = "\n".join(timeline_report.section(figures()))

    assert "](benchmarks/results/timeline.png)" in text


def test_the_phase_table_shows_measured_figures_and_says_what_was_not_measured() -> None:
    lines = timeline_report.section(figures())

    patch = next(line for line in lines if "`timeline_notice_to_patch_*_s`" in line)
    assert patch.endswith("| 1.00 s | 2.50 s | 2.60 s |")
    seen = next(line for line in lines if "`timeline_notice_to_seen_*_s`" in line)
    assert seen.endswith("| not measured | not measured | not measured |")


def test_the_budget_left_on_eks_adds_a_fargate_pod_start_per_batch() -> None:
    lines = timeline_report.section(figures())

    one_batch = next(line for line in lines if "all in one batch" in line)
    assert one_batch.endswith("| 59.00 s | 57.50 s |")
    three = next(line for line in lines if "3 batches in turn" in line)
    assert three.endswith("| -61.00 s | -62.50 s |")


def test_without_a_timeline_run_the_budget_is_not_measured() -> None:
    assert "Notice budget on EKS: not measured." in timeline_report.section({})


def test_notices_that_started_no_move_are_reported_against_a_target_of_zero() -> None:
    text = "\n".join(timeline_report.section({**figures(), "timeline_notices_ignored": 2}))

    assert "no move within 60 s: 2 (`timeline_notices_ignored`, target 0)." in text
