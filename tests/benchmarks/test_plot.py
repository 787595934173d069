"""The timeline plot renders without a display and writes a PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import plot, reclaim_plot
from tests.benchmarks.builders import trial_at

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("batches", [1, 3])
def test_the_timeline_is_drawn_to_a_png_file(tmp_path: Path, batches: int) -> None:
    trials = [
        trial_at(0.5, 0.6, 1.6, 2.0, 12.1, 13.0, 13.5),
        trial_at(1.5, 1.6, 2.1, 2.9, 13.2, 13.9, 14.0),
    ]
    target = tmp_path / "results" / "timeline.png"

    written = plot.timeline_png(trials, target, cooldown_s=10, batches=batches)

    assert written == target
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    assert target.stat().st_size > 20_000


def test_the_reclaim_plot_is_drawn_to_a_png_file(tmp_path: Path) -> None:
    ours = {3: [[(0.0, 3), (62.0, 6), (63.0, 3)]], 10: [[(0.0, 10), (64.0, 20), (65.0, 10)]]}
    baseline = {3: [[(0.0, 3), (120.0, 0), (182.0, 3)]], 10: []}
    target = tmp_path / "results" / "reclaim.png"

    written = reclaim_plot.reclaim_png(ours, baseline, target, fargate_ready_s=60.0)

    assert written == target
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    assert target.stat().st_size > 20_000
