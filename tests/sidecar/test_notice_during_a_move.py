"""A notice seen while another move is under way is decided on once that move settles.

Sidecars that start during a failback see their node's notice while the Deployment is
FailingBack; they stand by on the Lease. When the leader settles (Watching), the notice must
still start a move: the standbys never decided on it in Watching. (Only one spot node has the
notice, so the leader that settles the failback usually runs elsewhere and does not carry it.)
"""

from __future__ import annotations

import json
from typing import Any

from devtools.controlplane.waiting import wait_for
from devtools.scenario import SPOT_NODES, Scenario
from spot_common import contract
from spot_common.contract import State


def _slow(body: dict[str, Any]) -> None:
    body["spec"]["minReadySeconds"] = 3  # the failback lasts long enough for sidecars to start


def _history(failover: Scenario) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        failover.annotations("api").get(contract.HISTORY, "[]")
    )
    return entries


def test_a_notice_seen_during_a_failback_moves_the_deployment_again_once_it_settles(
    failover: Scenario,
) -> None:
    failover.create("api", replicas=3, annotations={contract.FAILBACK_AFTER: "3s"}, tweak=_slow)
    first = failover.busiest_spot_node("api")
    failover.imds.set_notice(first)
    failover.wait_state("api", State.ON_FARGATE, timeout_s=90)
    failover.imds.clear_notice(first)
    doomed = next(node for node in SPOT_NODES if node != first)
    failover.imds.set_notice(doomed)

    failover.wait_state("api", State.FAILING_BACK, timeout_s=60)
    history = wait_for(
        lambda: h if len(h := _history(failover)) >= 6 else None,
        120,
        "the failback and a second move",
        interval_s=0.2,
    )

    assert [(e["from"], e["to"]) for e in history[:6]] == [
        ("Watching", "Migrating"),
        ("Migrating", "OnFargate"),
        ("OnFargate", "FailingBack"),
        ("FailingBack", "Watching"),
        ("Watching", "Migrating"),
        ("Migrating", "OnFargate"),
    ]
    assert f"for node {doomed} " in history[4]["reason"]
