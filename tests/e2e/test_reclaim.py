"""The instance really goes at its deadline: the move to Fargate survives it.

The scenario reclaims (``reclaim=True``) on a spot node of its own: at the notice's deadline
the instance's sidecars die with it, its Node goes NotReady and is deleted, and whatever ran
there stops serving. The Deployment ends on Fargate with every replica live and Ready.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from devtools.controlplane.waiting import wait_for
from devtools.eks import live_and_ready
from spot_common.contract import State
from tests.sidecar.conftest import MakeFailover

from .test_interruptions import on_nodes

pytestmark = pytest.mark.cluster


def test_the_deployment_is_live_on_fargate_after_its_instance_is_reclaimed(
    make_failover: MakeFailover,
) -> None:
    node = f"spot-{uuid.uuid4().hex[:8]}"
    failover = make_failover(spot_nodes=(), reclaim=True)
    failover.add_spot_node(node)
    try:
        failover.create("web", replicas=3, tweak=on_nodes(node))
        before = {p["metadata"]["name"] for p in failover.pods("web")}
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=10)

        failover.imds.set_notice(node, time=deadline)

        failover.wait_state("web", State.ON_FARGATE, timeout_s=90)
        reclaimer = failover.reclaimer
        assert reclaimer is not None
        wait_for(lambda: reclaimer.gone_at(node), 60, "the instance to be reclaimed")
        assert not set(failover.runner.pods()) & before  # their sidecars died with it
        failover.wait_rolled_out("web")
        serving = wait_for(
            lambda: (
                found
                if len(
                    found := live_and_ready(
                        failover.pods("web"), reclaimer.gone(), dt.datetime.now(dt.UTC)
                    )
                )
                == 3
                else None
            ),
            60,
            "three live, Ready replicas",
        )
        assert failover.on_fargate("web")
        assert not {p["metadata"]["name"] for p in serving} & before
    finally:
        failover.remove_node(node)
