"""The timeline section of BENCHMARKS.md: the phase figures, the plot and the notice budget.

The budget lines add EKS Fargate's pod start to what was measured here; they are estimates
derived from the figures, so they are written in the report only, never to the results file.
"""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.timeline_phases import (
    EKS_FARGATE_POD_START_S,
    FAILBACK_PHASES,
    MOVE_PHASES,
    NOTICE_BUDGET_S,
    TOTALS,
    surge_batches,
)

PLOT_LINK = "benchmarks/results/timeline.png"
"""The plot, relative to BENCHMARKS.md at the repository root."""

_LAG = ("failback_lag_after_cooldown", "OnFargate → FailingBack, less the cooldown (lag)")


def section(figures: Mapping[str, float]) -> list[str]:
    """The Markdown lines of the section (ending with a blank line)."""
    trials = _whole(figures, "timeline_trials")
    replicas = _whole(figures, "timeline_replicas")
    surge = _whole(figures, "timeline_max_surge")
    cooldown = _whole(figures, "timeline_failback_cooldown_s")
    rows = [
        *((s.key, s.label) for s in MOVE_PHASES),
        *((s.key, f"**{s.label}**") for s in TOTALS[:3]),
        *((s.key, s.label) for s in FAILBACK_PHASES),
        (TOTALS[3].key, f"**{TOTALS[3].label}**"),
        _LAG,
    ]
    return [
        "## The whole failover against the 120 s notice",
        "",
        f"{trials} whole failovers (`--timeline-trials`) of an opted-in Deployment of {replicas}",
        f"replicas (rolling update: maxSurge {surge}, maxUnavailable 0), sidecars with the shipped",
        f"timings (IMDS poll 2 s, Lease 15 s) and a failback cooldown of {cooldown} s",
        "(`spot-failover/failback-after`). Each trial posts a notice at a random phase of the poll",
        "on the spot node with most replicas, follows the Deployment to `OnFargate` and back to",
        "`Watching`, and clears the notice once on Fargate (the instance is replaced). Every",
        "instant is taken on the server side: when the IMDS simulator began serving the notice",
        "and first answered a poll with it; the API server's audit timestamp of each state write,",
        "and of the deployment controller's status write that completed each rollout (matched to",
        "the versions a watch of the Deployment delivered, by resourceVersion).",
        "",
        "kwok starts pods at once, so `patch → rollout complete` here is only the control plane's",
        "own work (webhook admission, controller manager, scheduler); the phases before and after",
        "it are spot-failover's own overhead. **On EKS a new Fargate pod needs about "
        f"{EKS_FARGATE_POD_START_S:.0f} s** to be",
        "Ready (30-45 s until its node is registered, then the image pull), once per batch of",
        "pods that start together: the rolling update starts the next batch only when the last",
        "one is available.",
        "",
        f"![Timeline of the median trial against the 120 s notice budget]({PLOT_LINK})",
        "",
        "| phase | figure | p50 | p99 | max |",
        "|---|---|---|---|---|",
        *(_phase_row(figures, key, label) for key, label in rows),
        "",
        "Notices that started no move within 60 s: "
        f"{_whole(figures, 'timeline_notices_ignored')} (`timeline_notices_ignored`, target 0).",
        "Such a trial is left out of the figures and run again with a new notice.",
        "",
        *_budget(figures, replicas, surge),
    ]


def _phase_row(figures: Mapping[str, float], key: str, label: str) -> str:
    cells = [_seconds(figures.get(f"timeline_{key}_{q}_s")) for q in ("p50", "p99", "max")]
    return f"| {label} | `timeline_{key}_*_s` | " + " | ".join(cells) + " |"


def _budget(figures: Mapping[str, float], replicas: str, surge: str) -> list[str]:
    """What is left of the notice on EKS, from the measured p50 and p99 of notice → patch."""
    reaction = [figures.get(f"timeline_notice_to_patch_{q}_s") for q in ("p50", "p99")]
    if None in reaction or not replicas.isdigit() or not surge.isdigit():
        return ["Notice budget on EKS: not measured.", ""]
    batches = surge_batches(int(replicas), int(surge))
    one = [NOTICE_BUDGET_S - (r or 0.0) - EKS_FARGATE_POD_START_S for r in reaction]
    these = [NOTICE_BUDGET_S - (r or 0.0) - batches * EKS_FARGATE_POD_START_S for r in reaction]
    start = f"{EKS_FARGATE_POD_START_S:.0f} s"
    starts = f"{batches * EKS_FARGATE_POD_START_S:.0f} s"
    return [
        "What is left of the notice on EKS (estimate: measured notice → patch, plus Fargate's",
        f"~{start} pod start; the instance is reclaimed {NOTICE_BUDGET_S:.0f} s after the notice):",
        "",
        "| | p50 | p99 |",
        "|---|---|---|",
        "| notice → patch, measured | " + " | ".join(_seconds(r) for r in reaction) + " |",
        f"| left once the new pods are Ready, all in one batch (+{start}) | "
        + " | ".join(_seconds(x) for x in one)
        + " |",
        f"| left for this Deployment: {batches} batches in turn (+{starts}) | "
        + " | ".join(_seconds(x) for x in these)
        + " |",
        "",
        "A negative figure means the instance is reclaimed before the rollout has replaced every",
        "pod, and the pods still on it go down with it. With `maxUnavailable: 0` the notice holds",
        "only if the surge starts the replacements together (`maxSurge: 100%`). The `OnFargate`",
        "write comes after the pods are Ready and does not need to fit the notice.",
        "",
    ]


def _seconds(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.2f} s"


def _whole(figures: Mapping[str, float], key: str) -> str:
    value = figures.get(key)
    return "?" if value is None else f"{value:g}"
