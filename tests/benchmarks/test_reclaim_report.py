"""The reclaim section shows ours beside Kubernetes alone, and says what was not measured."""

from __future__ import annotations

from benchmarks import reclaim_report


def test_the_section_shows_each_figure_beside_the_baseline() -> None:
    figures = {
        "reclaim_fargate_ready_s": 60.2,
        "reclaim_trials_n3": 5.0,
        "reclaim_notice_to_all_ready_p99_s_n3": 66.1,
        "reclaim_baseline_notice_to_all_ready_p99_s_n3": 183.4,
        "reclaim_min_live_ready_ratio_n3": 1.0,
        "reclaim_baseline_min_live_ready_ratio_n3": 0.0,
        "reclaim_pods_on_instance_at_deadline_n3": 0.0,
        "reclaim_baseline_pods_on_instance_at_deadline_n3": 3.0,
    }

    text = "\n".join(reclaim_report.section(figures))

    assert "| 3 (5 trials) | notice → all replicas Ready (p99) | 66.1 s | 183.4 s |" in text
    assert "| 3 | lowest live Ready / desired | 1 | 0 | 1.0 |" in text
    assert "| 3 | most pods on the instance at its deadline | 0 | 3 | 0 |" in text
    assert "≤ 70.2 s and < 120 s" in text


def test_sizes_not_measured_say_so() -> None:
    text = "\n".join(reclaim_report.section({}))

    assert "| 50 | notice → all replicas Ready (p99) | not measured | not measured |" in text
    assert "not measured" in text
