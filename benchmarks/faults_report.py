"""BENCHMARKS.md's section on the faults of real clusters (:mod:`benchmarks.faults`)."""

from __future__ import annotations

from collections.abc import Mapping


def _row(figures: Mapping[str, float], key: str, target: str, unit: str = "") -> str:
    value = figures.get(key)
    shown = "not measured" if value is None else f"{value:g}{unit}"
    return f"| `{key}` | {shown} | {target} |"


def section(figures: Mapping[str, float]) -> list[str]:
    trials = figures.get("faults_trials_per_kind")
    counted = "not run yet" if trials is None else f"{trials:g} trials of each kind"
    return [
        "## Faults of real clusters",
        "",
        "Trials side by side, each a Deployment of two replicas on spot nodes of its own, the",
        "sidecar's shipped timings, Fargate's ~60 s start (`benchmarks/faults.py` says what",
        f"each trial does; {counted}): a Karpenter consolidation of a Deployment not opted in",
        "to voluntary disruptions (moves started: a count), Karpenter's record of a spot",
        "interruption with IMDS out of reach (moved within 60 s: a fraction), a pod Fargate",
        "refuses (its refusal seen to `RolledBack` seen), failback to a new Karpenter node",
        "after a 20 s cooldown (a fraction), and `spot-failover/rebalance-trigger` added to a",
        "running Deployment whose node has a rebalance recommendation (to the move's start,",
        "the slowest trial), and a move whose every sidecar was killed and whose new pods",
        "Fargate then refused (the time until the warden ended it, over the rollout timeout",
        "plus two Lease terms: the largest).",
        "",
        "| metric | measured | target |",
        "|---|---|---|",
        _row(figures, "faults_voluntary_disruptions_moved", "0"),
        _row(figures, "faults_karpenter_interruptions_moved", "1.0"),
        _row(figures, "faults_fargate_refusal_to_rolled_back_p99_s", "≤ 15 s", " s"),
        _row(figures, "faults_karpenter_failback_done", "1.0"),
        _row(figures, "faults_runtime_annotation_applied_s", "≤ 60 s", " s"),
        _row(figures, "faults_stuck_move_resolved_ratio", "≤ 1.0"),
        "",
    ]
