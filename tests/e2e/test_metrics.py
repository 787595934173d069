"""The sidecars' Prometheus metrics tell a move as the Deployment's history does.

Each sidecar serves its metrics on the pod's metrics port (the pod runner maps it to a free
local port); the two leaders of a move are scraped while they run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.metrics_scrape import Scrape, scrape
from devtools.scenario import Scenario, scenario
from spot_common import contract
from spot_common.contract import State

from .observe import slow_rollout

pytestmark = pytest.mark.cluster

DELETED_LAST = {"metadata": {"annotations": {"controller.kubernetes.io/pod-deletion-cost": "1"}}}


@pytest.fixture
def with_metrics(
    cluster: LocalCluster, kube: Kube, namespace: str, tmp_path: Path
) -> Iterator[Scenario]:
    with scenario(cluster, kube, namespace, tmp_path / "scenario", metrics_port=9795) as running:
        yield running


def metrics_of(failover: Scenario, pod: str) -> Scrape:
    port = failover.runner.metrics_port(pod)
    assert port is not None
    return scrape(f"http://127.0.0.1:{port}/metrics")


def history(failover: Scenario, name: str) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads(failover.annotations(name)[contract.HISTORY])
    return entries


def kept_for_last(failover: Scenario, name: str, doomed: str) -> None:
    """The rollout deletes one of ``name``'s pods off the ``doomed`` node after all its others
    (a higher ``pod-deletion-cost``). Only a sidecar on the doomed node leads a move there, and
    only a leader that outlives the old pods sees the move complete: the sidecar that finishes
    it is then a new pod's, which still runs when scraped."""
    elsewhere = [p for p in failover.pods(name) if p["spec"].get("nodeName") != doomed]
    assert elsewhere, f"every pod of {name} is on {doomed}"
    failover.kube.core.patch_namespaced_pod(
        elsewhere[0]["metadata"]["name"], failover.namespace, DELETED_LAST
    )


def test_the_leaders_metrics_count_the_notice_the_lease_the_transitions_and_the_move(
    with_metrics: Scenario,
) -> None:
    failover = with_metrics
    failover.create("web", replicas=3, tweak=slow_rollout(3))
    doomed = failover.busiest_spot_node("web")
    kept_for_last(failover, "web", doomed)
    failover.imds.set_notice(doomed)

    failover.wait_state("web", State.MIGRATING)
    first = history(failover, "web")[0]["by"]
    starter = metrics_of(failover, first)  # on the doomed node, still running for a while
    assert (
        starter.value(
            "spot_failover_notices_total", source="imds/spot/instance-action", kind="interruption"
        )
        >= 1
    )
    assert starter.value("spot_failover_lease_acquisitions_total") >= 1
    assert (
        starter.value(
            "spot_failover_transitions_total", from_state="Watching", to_state="Migrating"
        )
        == 1
    )
    assert starter.value("spot_failover_api_requests_total", verb="replace") >= 1

    failover.wait_state("web", State.ON_FARGATE, timeout_s=90)
    finisher = metrics_of(failover, history(failover, "web")[-1]["by"])
    assert (
        finisher.value(
            "spot_failover_transitions_total", from_state="Migrating", to_state="OnFargate"
        )
        == 1
    )
    assert finisher.value("spot_failover_move_seconds_count", to_state="OnFargate") == 1
    assert finisher.value("spot_failover_move_seconds_sum", to_state="OnFargate") > 0
