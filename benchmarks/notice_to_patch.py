"""Notice → patch: from the moment IMDS serves a notice to the sidecar's write of the
Deployment, as the API server timestamps it, with N sidecars and a given poll interval.

The Deployment's rollout is paused (``spec.paused``), so the patch does not replace the pods
and the same sidecars serve every trial; between trials the notice is cleared, and a poll
interval later the Deployment is put back by hand; the next notice is set at a random moment of
the poll cycle.
"""

from __future__ import annotations

import functools
import random
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.session import PRODUCTION_TIMINGS
from devtools.controlplane import audit
from devtools.controlplane.waiting import wait_for
from devtools.scenario import Scenario
from spot_common import contract
from spot_common.contract import State


def _first_sidecar_write(failover: Scenario, name: str, after: datetime) -> datetime | None:
    uri = f"/apis/apps/v1/namespaces/{failover.namespace}/deployments/{name}"
    for request in audit.read(failover.cluster.audit_log):
        if (
            request.pod is not None
            and request.verb == "update"
            and request.code == 200
            and request.uri.startswith(uri)
            and request.time > after
        ):
            return request.time
    return None


def _reset(failover: Scenario, name: str, original: dict[str, Any]) -> None:
    """Back to Watching with the original template; wait until the leader let go."""
    current = failover.read(name)
    annotations = {
        k: v
        for k, v in (current["metadata"].get("annotations") or {}).items()
        if not k.startswith(contract.PREFIX) or k == contract.ENABLED
    }
    current["metadata"]["annotations"] = annotations
    current["spec"]["template"] = original["spec"]["template"]
    failover.kube.apps.replace_namespaced_deployment(name, failover.namespace, current)

    def released() -> bool:
        lease = failover.kube.coordination.read_namespaced_lease(
            contract.lease_name(name), failover.namespace
        )
        return not lease.spec.holder_identity

    wait_for(released, 60, "the leader to release the Lease")


def _clear_notice(failover: Scenario, node: str, poll_s: float) -> None:
    """Withdraw the notice, then let a poll interval pass: a sidecar acts on its last IMDS
    answer for up to one interval, so putting the Deployment back sooner would rightly start
    the next move on the notice it last heard."""
    failover.imds.clear_notice(node)
    time.sleep(poll_s)


def sidecar_env(poll_s: float) -> dict[str, str]:
    """The sidecars' settings for :func:`run`'s scenario: the shipped ones, polling every
    ``poll_s``."""
    return {**PRODUCTION_TIMINGS, "SPOT_FAILOVER_POLL_INTERVAL_S": str(poll_s)}


def run(failover: Scenario, replicas: int, poll_s: float, trials: int) -> list[float]:
    """In a scenario with :func:`sidecar_env` of ``poll_s``."""
    name = f"notice-n{replicas}"
    failover.create(name, replicas=replicas)
    failover.kube.apps.patch_namespaced_deployment(
        name, failover.namespace, {"spec": {"paused": True}}
    )
    original = failover.read(name)
    node = failover.busiest_spot_node(name)
    samples: list[float] = []
    for _ in range(trials):
        time.sleep(random.uniform(0, poll_s))  # noqa: S311 - a random phase, not a secret
        noticed = datetime.now(UTC)
        failover.imds.set_notice(node)
        failover.wait_state(name, State.MIGRATING, timeout_s=60)
        written = wait_for(
            functools.partial(_first_sidecar_write, failover, name, noticed),
            10,
            "the audited write",
        )
        samples.append((written - noticed).total_seconds())
        _clear_notice(failover, node, poll_s)
        _reset(failover, name, original)
    return samples
