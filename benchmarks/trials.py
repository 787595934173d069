"""What benchmark trials that run side by side share: each keeps its Deployment on nodes of
its own (a node label and a required node affinity; a move to Fargate drops the affinity and
saves it, as it does any EC2 pin, and failback puts it back), and waits on a watch-free look."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from devtools.controlplane.kube import Kube
from devtools.controlplane.nodes import SpotShape
from devtools.controlplane.waiting import wait_for
from devtools.scenario import Scenario

TRIAL_LABEL: Final = "bench.spot-failover/trial"
"""Node label that keeps a trial's Deployment on the trial's own instances."""


def pin(body: dict[str, Any], trial: str) -> None:
    """Keep the Deployment ``body`` on the nodes labelled for ``trial``."""
    body["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": TRIAL_LABEL, "operator": "In", "values": [trial]}
                        ]
                    }
                ]
            }
        }
    }


def add_node(
    failover: Scenario, node: str, trial: str, shape: SpotShape = SpotShape.MANAGED
) -> None:
    """A spot node of ``shape`` labelled for ``trial``, back once it is Ready."""
    failover.add_spot_node(node, shape)
    failover.kube.core.patch_node(node, {"metadata": {"labels": {TRIAL_LABEL: trial}}})
    wait_for(lambda: node_ready(failover.kube, node), 60, f"{node} to be Ready")


def node_ready(kube: Kube, node: str) -> bool:
    found = kube.api.sanitize_for_serialization(kube.core.read_node(node))
    conditions = (found.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def seconds_until(
    condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.25
) -> float | None:
    """Seconds from now until ``condition()`` holds, looked at every ``interval_s``; ``None``
    if it did not within ``timeout_s``."""
    began = time.monotonic()
    while (took := time.monotonic() - began) < timeout_s:
        if condition():
            return took
        time.sleep(interval_s)
    return None
