"""BENCHMARKS.md, regenerated from the results file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks import admission_report, faults_report, reclaim_report, results, timeline_report

DOCUMENT = Path(__file__).parent.parent / "BENCHMARKS.md"


def _row(figures: Mapping[str, float], key: str, target: str, unit: str = "") -> str:
    value = figures.get(key)
    shown = "not measured" if value is None else f"{value:g}{unit}"
    return f"| `{key}` | {shown} | {target} |"


def _duration(figures: Mapping[str, float]) -> str:
    minutes = figures.get("bench_whole_run_min")
    if minutes is None:
        return "No whole `make bench` with every suite has been timed yet."
    return f"A whole `make bench` took {minutes:.1f} min the last time it ran."


def write(
    figures: Mapping[str, float], admission_runs: Sequence[Mapping[str, float]] | None = None
) -> None:
    """BENCHMARKS.md from ``figures`` and the admission suite's last runs (default: as recorded)."""
    if admission_runs is None:
        admission_runs = results.runs("admission")
    notice_rows = []
    for replicas in (1, 10, 50):
        for poll in (1, 2):
            for q in ("p50", "p99"):
                key = f"notice_to_patch_{q}_s_n{replicas}_poll{poll}s"
                target = f"≤ {poll + 0.5:g} s" if q == "p99" else ""
                notice_rows.append(_row(figures, key, target, " s"))
    lines = [
        "# Benchmarks",
        "",
        "Measured by `make bench` (`python -m benchmarks`) on the local control plane: real",
        "kube-apiserver, controller manager, scheduler and kwok nodes; sidecars as real processes",
        "with pod-bound tokens; IMDS played by the simulator. API requests are counted by the",
        "API server (its audit log), not by the sidecars. Raw figures:",
        "`benchmarks/results/latest.json`.",
        "",
        f"Machine: {results.machine()}. {_duration(figures)}",
        "",
        "## Notice → patch",
        "",
        "From the moment IMDS serves the notice to the leader's write of the Deployment (API",
        "server timestamp); the notice is set at a random phase of the poll cycle.",
        "",
        "| metric | measured | target |",
        "|---|---|---|",
        *notice_rows,
        "",
        "## Idle sidecar",
        "",
        "One sidecar polling IMDS every 2 s and watching its Node, measured over 5 minutes after",
        "a settling period.",
        "",
        "| metric | measured | target |",
        "|---|---|---|",
        _row(figures, "sidecar_idle_rss_mib", "≤ 40", " MiB"),
        _row(figures, "sidecar_cpu_ms_per_poll", "≤ 2", " ms"),
        _row(figures, "sidecar_idle_api_requests_5min", "0"),
        _row(figures, "sidecar_idle_polls_5min", ""),
        "",
        "## A whole migration with 50 replicas",
        "",
        "Every request made with a pod-bound token of the namespace from the notice until the",
        "Deployment settled on Fargate plus 10 quiet seconds: the 50 sidecars on spot and the 50",
        "that start in the new Fargate pods.",
        "",
        "| metric | measured | target |",
        "|---|---|---|",
        _row(figures, "api_requests_per_migration_n50", "≤ 170 (3 per sidecar + 20)"),
        _row(figures, "api_requests_per_migration_n50_sidecars_seen", ""),
        _row(figures, "notice_to_on_fargate_s_n50", "", " s"),
        _row(figures, "sidecar_peak_rss_mib_migration_n50", "", " MiB"),
        "",
        "The sidecar's resource requests follow from these figures (every Fargate pod's size",
        "includes them): memory request 48Mi (the idle RSS and the peak of a leader of 50",
        "replicas, rounded up), limit 128Mi (over twice that peak), CPU request 10m (an idle poll",
        "costs under 2 ms of CPU every 2 s).",
        "",
        *admission_report.section(figures, admission_runs),
        *_abuse(figures),
        *_security(figures),
        *timeline_report.section(figures),
        *reclaim_report.section(figures),
        *faults_report.section(figures),
    ]
    DOCUMENT.write_text("\n".join(lines))


def _abuse(figures: Mapping[str, float]) -> list[str]:
    return [
        "## The webhook under abuse",
        "",
        "32 clients each announce the largest body the webhook accepts, send half and stall,",
        "again and again for 20 s, while a valid review is posted every 100 ms (the real webhook",
        "process; `benchmarks/admission_abuse.py`). Its memory limit is 256Mi.",
        "",
        "| metric | measured | target |",
        "|---|---|---|",
        _row(figures, "webhook_rss_mib_before_abuse", "", " MiB"),
        _row(
            figures, "webhook_rss_mib_under_stalled_uploads", "< 256 (its limit), with room", " MiB"
        ),
        _row(figures, "webhook_valid_reviews_answered_during_abuse", "1.0 (within 1 s)"),
        "",
    ]


def _security(figures: Mapping[str, float]) -> list[str]:
    return [
        "## Security audit",
        "",
        "A fixed list of attempts made with each of spot-failover's identities (the webhook, the",
        "certificate Job, a sidecar's pod-bound token, the same after an opt-out or a change of",
        "ServiceAccount while the webhook is down) on the real API server, and kube-score on the",
        "rendered manifests (`make audit`). Every attempt with its HTTP status, and every finding",
        "with the reason it is accepted: [SECURITY-AUDIT.md](SECURITY-AUDIT.md).",
        "",
        "| metric | measured | target |",
        "|---|---|---|",
        _row(figures, "security_escalations_allowed", "0"),
        _row(figures, "security_escalation_attempts", ""),
        _row(figures, "security_attacks_not_refused_as_expected", "0"),
        _row(figures, "security_legitimate_actions_refused", "0"),
        _row(figures, "manifest_scan_findings_unaccepted", "0"),
        _row(figures, "manifest_scan_findings_accepted", ""),
        "",
    ]
