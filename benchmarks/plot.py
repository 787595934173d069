"""The timeline plot of BENCHMARKS.md: the median failover against the 120 s notice budget.

Three panels, all in seconds: the move at the scale of the budget (measured here, and what
EKS Fargate's pod start adds), the move's phases close up, and the way back after the cooldown.
Markers show where each trial's phase ended, so the spread across trials stays visible.
Rendered with matplotlib's non-interactive Agg backend (no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot  # after use(): the backend is chosen first
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from benchmarks.timeline_phases import (
    EKS_FARGATE_POD_START_S,
    FAILBACK_PHASES,
    MOVE_PHASES,
    NOTICE_BUDGET_S,
    Mark,
    Span,
    Trial,
    median_trial,
)

MOVE_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")
BACK_COLOURS = ("#b8b8b8", "#8172b3", "#937860")
EKS_COLOUR = "#f2c14e"
BUDGET_COLOUR = "#d62728"


def timeline_png(
    trials: Sequence[Trial], path: Path, *, cooldown_s: float, batches: int = 1
) -> Path:
    """Draw the median of ``trials`` (and each trial's phase ends) to a PNG at ``path``.

    ``batches`` is how many batches of new pods the Deployment's rollout starts one after
    another (see :func:`benchmarks.timeline_phases.surge_batches`): each one adds Fargate's
    pod start on EKS.
    """
    median = median_trial(trials)
    figure, (budget, move, back) = pyplot.subplots(
        3, 1, figsize=(11, 9), height_ratios=(1.25, 1.5, 1.15), layout="constrained"
    )
    figure.suptitle(
        f"spot-failover: notice → Fargate → back to spot (median of {len(trials)} trials, "
        "local control plane with kwok)",
        fontsize=12,
    )
    _budget(budget, median, batches)
    _gantt(move, trials, median=median, spans=MOVE_PHASES, colours=MOVE_COLOURS, origin=Mark.NOTICE)
    move.set_title("The move, close up: every phase as the servers recorded it", fontsize=10)
    move.set_xlabel("seconds since the notice was served by IMDS")
    _gantt(
        back,
        trials,
        median=median,
        spans=FAILBACK_PHASES,
        colours=BACK_COLOURS,
        origin=Mark.ON_FARGATE,
    )
    back.axvline(cooldown_s, color="#555555", linestyle=":", linewidth=1)
    back.annotate(
        f"cooldown {cooldown_s:g} s ",
        (cooldown_s, 0.03),
        xycoords=("data", "axes fraction"),
        horizontalalignment="right",
        fontsize=8,
        color="#555555",
    )
    back.set_title("Failback after the cooldown", fontsize=10)
    back.set_xlabel("seconds since OnFargate was written")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path


def _budget(ax: Axes, median: Trial, batches: int) -> None:
    """The move at budget scale: measured, and with EKS Fargate's pod start added."""
    patch_at = median.since_notice(Mark.MIGRATING)
    verify = median.seconds(MOVE_PHASES[3])
    measured = [_segment(median, span) for span in MOVE_PHASES]
    rows: list[tuple[str, list[tuple[float, float]], list[str], list[str]]] = [
        ("measured here (kwok starts pods at once)", measured, list(MOVE_COLOURS), [""] * 4),
    ]
    eks_rows = [(1, "EKS estimate: all new pods start at once")]
    if batches > 1:
        eks_rows.append((batches, f"EKS estimate: this rollout, {batches} batches in turn"))
    for count, label in eks_rows:
        fargate = count * EKS_FARGATE_POD_START_S
        rows.append(
            (
                label,
                [*measured[:2], (patch_at, fargate), (patch_at + fargate, verify)],
                [*MOVE_COLOURS[:2], EKS_COLOUR, MOVE_COLOURS[3]],
                ["", "", "//", ""],
            )
        )
    for row, (_, segments, colours, hatches) in enumerate(rows):
        for (start, width), colour, hatch in zip(segments, colours, hatches, strict=True):
            ax.barh(row, width, left=start, height=0.55, color=colour, hatch=hatch)
        end = segments[-1][0] + segments[-1][1]
        ready = segments[2][0] + segments[2][1]
        spare = NOTICE_BUDGET_S - ready
        words = f"pods Ready {ready:.0f} s: {spare:.0f} s to spare" if spare >= 0 else ""
        words = words or f"pods Ready {ready:.0f} s: {-spare:.0f} s too late"
        ax.text(end + 2, row, words, va="center", fontsize=8)
    budget = ax.axvline(NOTICE_BUDGET_S, color=BUDGET_COLOUR, linestyle="--", linewidth=1.5)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.invert_yaxis()
    widest = max(r[1][-1][0] + r[1][-1][1] for r in rows)
    ax.set_xlim(0, max(NOTICE_BUDGET_S, widest) * 1.3)
    ax.set_xlabel("seconds since the notice was served by IMDS")
    ax.set_title("The move against the notice budget", fontsize=10)
    legend: list[Artist] = [
        Patch(color=c, label=s.label) for s, c in zip(MOVE_PHASES, MOVE_COLOURS, strict=True)
    ]
    legend.append(
        Patch(
            facecolor=EKS_COLOUR,
            hatch="//",
            label=f"Fargate pod start on EKS,\n~{EKS_FARGATE_POD_START_S:.0f} s a batch (estimate)",
        )
    )
    budget.set_label(f"instance reclaimed:\n{NOTICE_BUDGET_S:.0f} s after the notice")
    legend.append(budget)
    _legend_outside(ax, legend)


def _segment(trial: Trial, span: Span) -> tuple[float, float]:
    return trial.since_notice(span.start), trial.seconds(span)


def _gantt(
    ax: Axes,
    trials: Sequence[Trial],
    *,
    median: Trial,
    spans: Sequence[Span],
    colours: Sequence[str],
    origin: Mark,
) -> None:
    """One row per phase: the median trial's bar, and each trial's end of that phase."""
    offset = median.since_notice(origin)
    latest = 0.0
    for row, (span, colour) in enumerate(zip(spans, colours, strict=True)):
        start = median.since_notice(span.start) - offset
        width = median.seconds(span)
        ax.barh(row, width, left=start, height=0.55, color=colour)
        ends = [t.since_notice(span.end) - t.since_notice(origin) for t in trials]
        ax.plot(ends, [row] * len(ends), "|", color="black", markersize=13, markeredgewidth=1.2)
        latest = max(latest, *ends, start + width)
    labels = [f"{s.label}\nmedian trial: {median.seconds(s):.2f} s" for s in spans]
    ax.set_yticks(range(len(spans)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, latest * 1.05)
    ax.grid(axis="x", alpha=0.3)
    _legend_outside(
        ax,
        [
            Patch(color="#777777", label="the median trial's phase"),
            Line2D([], [], marker="|", linestyle="", color="black", label="each trial's phase end"),
        ],
    )


def _legend_outside(ax: Axes, handles: Sequence[Artist]) -> None:
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
