"""An idle sidecar: memory, CPU per IMDS poll, and API requests in five minutes.

One opted-in Deployment with one replica; its sidecar polls the IMDS simulator (which counts
the polls) and watches its Node. After a settling minute the window starts: CPU time and RSS
come from /proc, API requests from the API server's audit log, counted under the pod's bound
token.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.session import PRODUCTION_TIMINGS
from devtools.controlplane import audit
from devtools.scenario import Scenario

SETTLE_S = 20.0
WINDOW_S = 300.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / 100.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


SIDECAR_ENV = PRODUCTION_TIMINGS
"""The sidecar's settings for :func:`run`'s scenario: the shipped ones (a poll every 2 s)."""


def run(failover: Scenario) -> dict[str, float]:
    """In a scenario with :data:`SIDECAR_ENV`."""
    failover.create("idle", replicas=1)
    (pod,) = (p["metadata"]["name"] for p in failover.pods("idle"))
    node = failover.pods("idle")[0]["spec"]["nodeName"]
    pid = failover.runner.process(pod).pid
    time.sleep(SETTLE_S)

    cpu0, polls0 = (
        _cpu_seconds(pid),
        failover.imds.count(node, "/latest/meta-data/spot/instance-action"),
    )
    started = time.time()
    time.sleep(WINDOW_S)
    cpu1, polls1 = (
        _cpu_seconds(pid),
        failover.imds.count(node, "/latest/meta-data/spot/instance-action"),
    )
    rss = _rss_mib(pid)
    requests = [
        r
        for r in audit.read(failover.cluster.audit_log)
        if r.pod == pod and r.time.timestamp() >= started
    ]
    polls = max(1, polls1 - polls0)
    return {
        "sidecar_idle_rss_mib": rss,
        "sidecar_cpu_ms_per_poll": (cpu1 - cpu0) * 1000 / polls,
        "sidecar_idle_api_requests_5min": float(len(requests)),
        "sidecar_idle_polls_5min": float(polls),
    }
