"""The webhook goes down in the middle of a failover. ``failurePolicy: Ignore`` lets the pods it
misses through without the sidecar; the move completes with the sidecars that exist; once the
webhook is back, its reporter names the pods that run without it (``SidecarMissing``)."""

from __future__ import annotations

import json

import pytest

from devtools.controlplane.waiting import wait_for
from devtools.scenario import Scenario
from spot_common import contract
from spot_common.contract import State
from webhook.core.missing_sidecars import REASON

from .observe import slow_rollout, transitions

pytestmark = pytest.mark.cluster


def reported(failover: Scenario, name: str) -> str:
    """Every message of the Deployment's ``SidecarMissing`` Events, joined."""
    return "\n".join(e["message"] for e in failover.events(name) if e["reason"] == REASON)


def test_pods_created_while_the_webhook_is_down_run_without_the_sidecar_and_are_reported(
    failover: Scenario,
) -> None:
    failover.create("web", replicas=4, tweak=slow_rollout(4))

    failover.webhook.stop()
    failover.imds.set_notice(failover.busiest_spot_node("web"))
    failover.wait_state("web", State.MIGRATING)
    missed = wait_for(
        lambda: failover.pods_without_sidecar("web"), 30, "a pod created without the sidecar"
    )
    failover.webhook.start()
    # The move started every replacement at once, all while the webhook was down: once the old
    # pods (and their sidecars) are gone, a pod created now is the one with a sidecar to finish.
    failover.wait_rolled_out("web")
    again = min(failover.pods_without_sidecar("web"))
    failover.kube.core.delete_namespaced_pod(again, failover.namespace)
    missed.discard(again)

    done = failover.wait_state("web", State.ON_FARGATE, timeout_s=120)
    assert transitions(done) == [("Watching", "Migrating"), ("Migrating", "OnFargate")]
    failover.wait_rolled_out("web")
    assert failover.on_fargate("web")
    uninjected = failover.pods_without_sidecar("web")
    assert missed <= uninjected
    assert len(uninjected) < 4, "pods created after the restart get the sidecar again"
    finisher = json.loads(done[contract.HISTORY])[-1]["by"]
    assert finisher not in uninjected
    assert not (uninjected & set(failover.runner.pods()))
    wait_for(
        lambda: all(pod in reported(failover, "web") for pod in uninjected),
        30,
        f"a SidecarMissing Event naming {sorted(uninjected)}",
    )
