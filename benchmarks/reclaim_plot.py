"""The reclaim plot of BENCHMARKS.md: live Ready replicas over time against the deadline.

One panel per Deployment size. Each trial is one step line from the notice (0 s) until the
Deployment has settled and the reclaimed instance is gone: with spot-failover (blue) and the
same Deployment not opted in (grey), as a fraction of the desired replicas. The red line is the
notice's deadline, when the instance goes. Rendered with matplotlib's Agg backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot  # after use(): the backend is chosen first
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from benchmarks.timeline_phases import NOTICE_BUDGET_S

Curve = Sequence[tuple[float, int]]
"""A trial's live Ready pods: (seconds since the notice, count from then on)."""

OURS = "#4c72b0"
BASELINE = "#8c8c8c"
DEADLINE = "#d62728"


def reclaim_png(
    ours: Mapping[int, Sequence[Curve]],
    baseline: Mapping[int, Sequence[Curve]],
    path: Path,
    *,
    fargate_ready_s: float,
) -> Path:
    """Draw every trial of every size (``replicas → curves``) to a PNG at ``path``."""
    sizes = sorted(set(ours) | set(baseline))
    figure, panels = pyplot.subplots(
        len(sizes), 1, figsize=(11, 3 * len(sizes)), squeeze=False, layout="constrained"
    )
    figure.suptitle(
        "Live, Ready replicas through a spot reclaim (local control plane, simulated EKS "
        f"Fargate start: median {fargate_ready_s:.0f} s)",
        fontsize=12,
    )
    for axes, replicas in zip((row[0] for row in panels), sizes, strict=True):
        _panel(axes, replicas, ours.get(replicas, ()), baseline.get(replicas, ()))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path


def _panel(axes: Axes, replicas: int, ours: Sequence[Curve], baseline: Sequence[Curve]) -> None:
    for curves, colour in ((baseline, BASELINE), (ours, OURS)):
        for points in curves:
            if not points:
                continue
            times = [t for t, _ in points]
            ratios = [count / replicas for _, count in points]
            axes.step(times, ratios, where="post", color=colour, alpha=0.7, linewidth=1.4)
    axes.axvline(NOTICE_BUDGET_S, color=DEADLINE, linestyle="--", linewidth=1.2)
    axes.axhline(1.0, color="#333333", linewidth=0.6, linestyle=":")
    axes.set_ylim(-0.05, 2.1)
    axes.set_xlim(left=0)
    axes.set_ylabel(f"{replicas} replicas\nlive Ready / desired")
    axes.set_xlabel("seconds since the spot interruption notice")
    axes.legend(
        handles=[
            Line2D([], [], color=OURS, label=f"with spot-failover ({len(ours)} trials)"),
            Line2D([], [], color=BASELINE, label=f"Kubernetes alone ({len(baseline)} trials)"),
            Line2D([], [], color=DEADLINE, linestyle="--", label="instance reclaimed"),
        ],
        loc="upper right",
        fontsize=8,
    )
