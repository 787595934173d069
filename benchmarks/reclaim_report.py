"""The reclaim section of BENCHMARKS.md: spot-failover beside Kubernetes alone, on EKS timings."""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.timeline_phases import NOTICE_BUDGET_S

SIZES = (3, 10, 50)
PLOT_LINK = "benchmarks/results/reclaim.png"
"""The plot, relative to BENCHMARKS.md at the repository root."""


def _shown(figures: Mapping[str, float], key: str, unit: str = "") -> str:
    value = figures.get(key)
    return "not measured" if value is None else f"{value:g}{unit}"


def _size(figures: Mapping[str, float], n: int) -> str:
    trials = figures.get(f"reclaim_trials_n{n}")
    return f"{n}" if trials is None else f"{n} ({trials:g} trials)"


def section(figures: Mapping[str, float]) -> list[str]:
    """The Markdown lines of the section (ending with a blank line)."""
    ready = figures.get("reclaim_fargate_ready_s")
    ready_target = (
        f"≤ {ready + 10:.1f} s and < {NOTICE_BUDGET_S:g} s"
        if ready is not None
        else f"≤ Fargate start + 10 s, < {NOTICE_BUDGET_S:g} s"
    )
    rows = []
    for n in SIZES:
        rows += [
            f"| {_size(figures, n)} "
            f"| notice → all replicas Ready (p99) "
            f"| {_shown(figures, f'reclaim_notice_to_all_ready_p99_s_n{n}', ' s')} "
            f"| {_shown(figures, f'reclaim_baseline_notice_to_all_ready_p99_s_n{n}', ' s')} "
            f"| {ready_target} |",
            f"| {n} | lowest live Ready / desired "
            f"| {_shown(figures, f'reclaim_min_live_ready_ratio_n{n}')} "
            f"| {_shown(figures, f'reclaim_baseline_min_live_ready_ratio_n{n}')} | 1.0 |",
            f"| {n} | most pods on the instance at its deadline "
            f"| {_shown(figures, f'reclaim_pods_on_instance_at_deadline_n{n}')} "
            f"| {_shown(figures, f'reclaim_baseline_pods_on_instance_at_deadline_n{n}')} | 0 |",
        ]
    return [
        "## Through a real reclaim, on EKS's timings",
        "",
        "Deployments of 3, 10 and 50 replicas with no rollout strategy written (Kubernetes'",
        "defaults, 25 % / 25 %), every replica on one spot instance that gets the notice. The",
        "Fargate simulator gives each new Fargate pod its own node after a provisioning delay and",
        "makes it Ready after a start delay (median "
        f"`reclaim_fargate_ready_s` = {_shown(figures, 'reclaim_fargate_ready_s', ' s')} from",
        "creation to Ready, the slowest "
        f"{_shown(figures, 'reclaim_fargate_ready_max_s', ' s')}: a spread kept narrow, so that",
        "the figures show how the replacements start, all at once or batch after batch, and what",
        "spot-failover adds; on EKS the spread is wider and the slowest new pod sets the time).",
        "At the notice's deadline the instance is gone: its pods serve",
        "nothing from that instant, the controller manager marks the Node NotReady after its",
        "grace period (50 s), then the Node is deleted and its pods go. Trials run side by side,",
        "each in its own namespace on its own nodes, with the sidecar's shipped timings. The",
        "same Deployment not opted in runs beside it in the same run (Kubernetes alone).",
        '"Live" means Ready and on an instance that still exists, whatever the API says; the',
        "window runs from the notice until the Deployment has settled and the reclaim is over.",
        'For Kubernetes alone, "all replicas Ready" is when the lost pods have been replaced',
        "and are Ready again.",
        "",
        "| replicas | figure | with spot-failover | Kubernetes alone | target (ours) |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"![live Ready replicas through a reclaim]({PLOT_LINK})",
        "",
    ]
