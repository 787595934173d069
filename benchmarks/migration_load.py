"""API requests of a whole migration with 50 sidecars, counted by the API server.

From the notice until the Deployment has settled on Fargate and every sidecar had a few
seconds to go quiet: every request made with a pod-bound token of the namespace (the 50 old
sidecars and the 50 new ones that start on Fargate). Also the highest peak resident memory of
the sidecars still running at the end (the Fargate ones, among them the last leader): what the
sidecar's memory request and limit must allow for.
"""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.session import PRODUCTION_TIMINGS
from devtools.controlplane import audit
from devtools.scenario import Scenario
from spot_common.contract import State

QUIET_S = 10.0


SIDECAR_ENV = PRODUCTION_TIMINGS
"""The sidecars' settings for :func:`run`'s scenario."""


def run(failover: Scenario, replicas: int = 50) -> dict[str, float]:
    """In a scenario with :data:`SIDECAR_ENV`."""
    name = f"load-n{replicas}"
    failover.create(name, replicas=replicas)
    spot_pods = {p["metadata"]["name"] for p in failover.pods(name)}
    started = datetime.now(UTC)
    failover.imds.set_notice(failover.busiest_spot_node(name))
    failover.wait_state(name, State.ON_FARGATE, timeout_s=300)
    settled = datetime.now(UTC)
    failover.wait_rolled_out(name, timeout_s=300)
    time.sleep(QUIET_S)
    requests = [
        r
        for r in audit.read(failover.cluster.audit_log)
        if r.pod is not None
        and r.time >= started
        and f"system:serviceaccount:{failover.namespace}:" in r.user
    ]
    sidecars = len({r.pod for r in requests})
    print_breakdown(requests, spot_pods)
    peak = max(_peak_rss_mib(failover.runner.process(pod).pid) for pod in failover.runner.pods())
    return {
        f"api_requests_per_migration_n{replicas}": float(len(requests)),
        f"api_requests_per_migration_n{replicas}_sidecars_seen": float(sidecars),
        f"sidecar_peak_rss_mib_migration_n{replicas}": peak,
        f"notice_to_on_fargate_s_n{replicas}": (settled - started).total_seconds(),
    }


def _peak_rss_mib(pid: int) -> float:
    """The most resident memory the process ever had (``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def _resource(uri: str) -> str:
    """``/apis/apps/v1/namespaces/ns/deployments/web?x`` -> ``deployments/<name>``."""
    path = uri.split("?", 1)[0]
    match = re.search(r"/(?:namespaces/[^/]+/)?([a-z]+)(/[^/]+)?$", path)
    if match is None:
        return path
    return match.group(1) + ("/<name>" if match.group(2) else "")


def print_breakdown(requests: Iterable[audit.AuditedRequest], spot_pods: set[str]) -> None:
    """Where the requests went: by the pod's side of the move, verb and resource."""
    counts = collections.Counter(
        ("spot" if r.pod in spot_pods else "fargate", r.verb, _resource(r.uri), r.code)
        for r in requests
    )
    for (side, verb, resource, code), count in sorted(counts.items()):
        print(f"  {count:5d}  {side:<8} {verb:<7} {resource:<24} {code}", flush=True)
