"""``make bench``: run the benchmarks on a fresh local control plane, merge the figures into
``benchmarks/results/latest.json`` and regenerate ``BENCHMARKS.md``."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from benchmarks import (
    admission,
    admission_abuse,
    faults,
    migration_load,
    notice_to_patch,
    reclaim,
    report,
    results,
    security_audit,
    sidecar_idle,
    timeline,
)
from benchmarks.session import control_plane, failover

SUITES = (
    "idle",
    "notice",
    "load",
    "admission",
    "abuse",
    "audit",
    "timeline",
    "reclaim",
    "faults",
)
EKS_TIMED = frozenset({"reclaim", "faults"})
"""Suites that run on one cluster with EKS's Fargate start."""


def _fast_fargate_suites(chosen: set[str], args: argparse.Namespace) -> dict[str, float]:
    """The suites that measure spot-failover itself, on one cluster with a fast Fargate."""
    figures: dict[str, float] = {}
    with control_plane() as (cluster, kube, work, _):
        if "idle" in chosen:
            with failover(cluster, kube, work, sidecar_idle.SIDECAR_ENV) as running:
                figures |= sidecar_idle.run(running)
            print("idle:", figures, flush=True)
        if "notice" in chosen:
            for replicas in (1, 10, 50):
                for poll_s in (1.0, 2.0):
                    env = notice_to_patch.sidecar_env(poll_s)
                    with failover(cluster, kube, work, env) as running:
                        samples = notice_to_patch.run(running, replicas, poll_s, args.trials)
                    key = f"n{replicas}_poll{poll_s:.0f}s"
                    figures[f"notice_to_patch_p50_s_{key}"] = results.percentile(samples, 50)
                    figures[f"notice_to_patch_p99_s_{key}"] = results.percentile(samples, 99)
                    print(key, sorted(round(s, 3) for s in samples), flush=True)
        if "load" in chosen:
            with failover(cluster, kube, work, migration_load.SIDECAR_ENV) as running:
                figures |= migration_load.run(running)
            print("load:", figures, flush=True)
        if "admission" in chosen:
            measured = admission.run(cluster, kube, work)
            figures |= measured
            results.record_run("admission", measured, at=time.time())
            print("admission:", measured, flush=True)
        if "abuse" in chosen:
            measured = admission_abuse.run(cluster, kube, work)
            figures |= measured
            print("abuse:", measured, flush=True)
        if "audit" in chosen:
            measured = security_audit.run(cluster, kube, work)
            figures |= measured
            print("audit:", measured, flush=True)
        if "timeline" in chosen:
            measured = timeline.run(cluster, kube, work, args.timeline_trials)
            figures |= measured
            print("timeline:", measured, flush=True)
    return figures


def _eks_timed_suites(chosen: set[str], args: argparse.Namespace) -> dict[str, float]:
    """The suites that measure the failover against EKS's timings, on one cluster."""
    figures: dict[str, float] = {}
    with control_plane(timing=reclaim.TIMING) as (cluster, kube, work, eks):
        if "reclaim" in chosen:
            plan = reclaim.Plan.default(args.reclaim_trials, args.reclaim_trials_n50)
            measured = reclaim.run(cluster, kube, work, plan)
            figures |= measured
            print("reclaim:", measured, flush=True)
        if "faults" in chosen:
            measured = faults.run(cluster, kube, work, eks, args.faults_trials)
            figures |= measured
            print("faults:", measured, flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", default=",".join(SUITES), help=f"comma list of {SUITES}")
    parser.add_argument("--trials", type=int, default=10, help="notice→patch trials per setting")
    parser.add_argument("--timeline-trials", type=int, default=5, help="whole failovers timed")
    parser.add_argument("--reclaim-trials", type=int, default=5, help="reclaims per size, 3 and 10")
    parser.add_argument("--reclaim-trials-n50", type=int, default=3, help="reclaims of 50 replicas")
    parser.add_argument("--faults-trials", type=int, default=5, help="trials of each fault")
    args = parser.parse_args(argv)
    chosen = set(args.only.split(","))
    logging.basicConfig(level=logging.WARNING)
    figures: dict[str, float] = {}
    began = time.monotonic()
    if chosen - EKS_TIMED:
        figures |= _fast_fargate_suites(chosen, args)
    if chosen & EKS_TIMED:
        figures |= _eks_timed_suites(chosen, args)
    if chosen >= set(SUITES):
        figures["bench_whole_run_min"] = (time.monotonic() - began) / 60
    merged = results.merge(figures)
    report.write(merged)
    print(f"wrote {results.RESULTS} and BENCHMARKS.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
