"""BENCHMARKS.md, regenerated from the results file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from benchmarks import reclaim_report, results, timeline_report

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


def write(figures: Mapping[str, float]) -> None:
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
        *_admission(figures),
        *_abuse(figures),
        *_security(figures),
        *timeline_report.section(figures),
        *reclaim_report.section(figures),
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


def _admission(figures: Mapping[str, float]) -> list[str]:
    return [
        "## Admission",
        "",
        "The webhook process (`python -m webhook`, shipped identity, configuration and settings)",
        "confined to one CPU. Direct load: AdmissionReview POSTs over TLS from a generator process",
        "on the other CPU, open loop at 200/s for 30 s after a 5 s warm-up, latency from each",
        "request's due time to its response; 4 of 5 reviews are pods of an opted-in Deployment",
        "(injected from the warm owner cache), 1 of 5 of one that is not opted in. API calls are",
        "all requests the API server audited for the webhook's ServiceAccount in that window.",
        "CPU: what the webhook's threads ran during the load (warm-up included), per review",
        "answered; `cpu_wait` is how long they were ready to run but another process had the",
        "CPU (the machine is shared): the tail of the latency follows it.",
        "Then through the API server: 100 replicas of an opted-in Deployment with the webhook up;",
        "100 more with it stopped; then started again: its reporter checks every 60 s (shipped).",
        "The webhook keeps what lives as long as the process (kopf, aiohttp, the kubernetes",
        "client's models: about 100,000 objects) out of the garbage collector's full passes",
        "(`webhook/__main__.py`); measured once by hand when that was added, at 200 reviews/s a",
        "full pass came about every 15 s and held up every review in flight for 40-60 ms.",
        "",
        "| metric | measured | target |",
        "|---|---|---|",
        _row(figures, "admission_p50_ms", "", " ms"),
        _row(figures, "admission_p99_ms", "≤ 10 ms", " ms"),
        _row(figures, "admission_max_ms", "", " ms"),
        _row(figures, "admission_achieved_rps", "200"),
        _row(figures, "admission_requests", ""),
        _row(figures, "admission_errors", "0"),
        _row(figures, "admission_webhook_cpu_share", "", " of its CPU"),
        _row(figures, "admission_webhook_cpu_ms_per_request", "", " ms"),
        _row(figures, "admission_webhook_cpu_wait_ms", "", " ms"),
        _row(figures, "admission_api_calls_per_request_warm", "0"),
        _row(figures, "admission_api_calls_warm_window", ""),
        _row(figures, "admission_apiserver_injected_of_100", "100"),
        _row(figures, "admission_apiserver_100_pods_s", "", " s"),
        _row(figures, "admission_webhook_down_created_of_100", "100"),
        _row(figures, "admission_webhook_down_uninjected_of_100", "100"),
        _row(figures, "admission_webhook_down_100_pods_s", "", " s"),
        _row(figures, "admission_webhook_down_reported_of_100", "100"),
        _row(figures, "admission_webhook_down_reported_after_s", "", " s"),
        "",
    ]
