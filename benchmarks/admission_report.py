"""The admission section of BENCHMARKS.md: the latest figures, and the headline ones of the last
few runs, since on a shared machine they vary from run to run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

RUN_COLUMNS = (
    ("admission_p50_ms", "p50 ms"),
    ("admission_p99_ms", "p99 ms"),
    ("admission_max_ms", "max ms"),
    ("admission_webhook_cpu_ms_per_request", "CPU ms / review"),
    ("admission_webhook_cpu_share", "CPU share"),
    ("admission_webhook_cpu_wait_ms", "CPU wait ms"),
    ("admission_achieved_rps", "reviews/s"),
    ("admission_errors", "errors"),
)
"""Per run: the figures of the direct load, the ones the targets are about first."""


def _row(figures: Mapping[str, float], key: str, target: str, unit: str = "") -> str:
    value = figures.get(key)
    shown = "not measured" if value is None else f"{value:g}{unit}"
    return f"| `{key}` | {shown} | {target} |"


def _runs(runs: Sequence[Mapping[str, float]]) -> list[str]:
    if not runs:
        return ["No run of the admission suite has been recorded yet.", ""]
    header = " | ".join(title for _, title in RUN_COLUMNS)
    lines = [
        f"The last {len(runs)} runs of the suite, oldest first (`benchmarks/results/runs.json`;",
        "the table above is the newest):",
        "",
        f"| run (UTC) | {header} |",
        "|---|" + "---|" * len(RUN_COLUMNS),
    ]
    for run in runs:
        at = dt.datetime.fromtimestamp(run.get("at", 0), dt.UTC).strftime("%Y-%m-%d %H:%M")
        cells = " | ".join(
            "" if run.get(key) is None else f"{run[key]:g}" for key, _ in RUN_COLUMNS
        )
        lines.append(f"| {at} | {cells} |")
    return [*lines, ""]


def section(figures: Mapping[str, float], runs: Sequence[Mapping[str, float]]) -> list[str]:
    """The Markdown lines of the section (ending with a blank line)."""
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
        _row(figures, "admission_webhook_cpu_ms_per_request", "≤ 1.0 ms", " ms"),
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
        *_runs(runs),
        *WHERE_THE_CPU_GOES,
    ]


WHERE_THE_CPU_GOES = [
    "### Where a review's CPU goes",
    "",
    "Measured by hand, not by the suite (`python -m benchmarks.admission_instructions`): the",
    "webhook's review path as the process wires it (the AdmissionServer over TLS, admission with",
    "the shipped settings, a warm owner cache; until the last three rows, kopf's review function",
    "and the handler) in one process, fed the suite's two reviews 4 : 1 one at a time by a client",
    "process that is not counted; instructions per review counted by callgrind (the difference",
    "between 600 and 100 reviews, so start-up drops out; repeatable to a few thousand). Each row",
    "adds one change to the row above, measured in that state (the state of the 3.70 M row",
    "counts 3.72 M with the committed harness, on reviews recorded once for the last four rows):",
    "",
    "| step | instructions per review |",
    "|---|---|",
    "| before | 5.50 M |",
    "| the body read with `asyncio.timeout` instead of `wait_for`'s task | 5.40 M |",
    "| kopf handed the view of the pod instead of the pod (`webhook/core/pod_view.py`) | 4.08 M |",
    "| uvloop's event loop | 3.96 M |",
    "| no timer for a body that came whole; the answered-reviews counter looked up once | 3.94 M |",
    "| the handler reads the raw pod, not kopf's Body | 3.89 M |",
    "| the review decoded and the answer encoded with orjson | 3.70 M |",
    "| the server answers reviews itself, not through kopf's review function; the patch:"
    " python-json-patch's difference of the view and the injected view | 1.89 M |",
    "| the patch derived over what injection changed, list items compared whole | 1.38 M |",
    "| injection's copy told JSON's types by their exact type; the early skips made lazily"
    " | 1.31 M |",
    "",
    "What the last state's 1.31 M are: each part alone, counted by callgrind over 1,000 calls,",
    "per review of the 4 : 1 mix; the server's part is what is left of the whole:",
    "",
    "| part of a review | instructions | share |",
    "|---|---|---|",
    "| the server: aiohttp, TLS, the event loop, the body's bounds, counters and latency"
    " | 0.31 M | 23 % |",
    "| decoding and checking the review (orjson) | 0.12 M | 9 % |",
    "| admission: the view, selection, the owner cache, its counters | 0.22 M | 17 % |",
    "| injection (of 4 reviews in 5; 0.16 M each) | 0.13 M | 10 % |",
    "| the patch, python-json-patch's difference (0.60 M for each injected pod) | 0.48 M | 37 % |",
    "| encoding the answer (orjson, base64) | 0.05 M | 4 % |",
    "",
    "The patch is derived, not written: `webhook/core/patch.py` hands python-json-patch, of the",
    "parts of a pod injection can change, only the members that differ, with each list item as",
    "its JSON text; before that cut it was 0.93 M instructions for an injected pod, more than all",
    "the rest of its review. kopf's review function, before these last three rows, copied the",
    "admitted object, ran its handler machinery and diffed the whole object: about three fifths",
    "of the 3.70 M.",
    "",
]
