"""API requests of a whole migration with 50 sidecars, counted by the API server.

From the notice until the Deployment has settled on Fargate and every sidecar had a few
seconds to go quiet: every request made with a pod-bound token of the namespace (the 50 old
sidecars and the 50 new ones that start on Fargate).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from benchmarks.session import PRODUCTION_TIMINGS
from devtools.controlplane import audit
from devtools.scenario import Scenario
from sidecar.contract import State

QUIET_S = 10.0


def run(failover: Scenario, replicas: int = 50) -> dict[str, float]:
    name = f"load-n{replicas}"
    failover.create(name, replicas=replicas, sidecar_env=PRODUCTION_TIMINGS)
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
    return {
        f"api_requests_per_migration_n{replicas}": float(len(requests)),
        f"api_requests_per_migration_n{replicas}_sidecars_seen": float(sidecars),
        f"notice_to_on_fargate_s_n{replicas}": (settled - started).total_seconds(),
    }
