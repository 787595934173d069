"""The IMDS signal source: one question per poll interval, however often the loop ticks."""

from __future__ import annotations

from datetime import timedelta

from devtools.imds import ImdsSimulator
from sidecar.adapters.imds import ImdsClient
from sidecar.imds_source import ImdsSource
from sidecar.metrics import Metrics
from tests.devtools.imds.clock import ManualClock

INSTANCE_ACTION = "/latest/meta-data/spot/instance-action"


def source(client: ImdsClient) -> ImdsSource:
    return ImdsSource(
        client,
        "node-a",
        Metrics(),
        on_unreachable=lambda _message: None,
        min_interval=timedelta(seconds=1.6),
    )


def test_polls_sooner_than_the_interval_get_the_last_answer_without_asking(
    sim: ImdsSimulator, clock: ManualClock
) -> None:
    with ImdsClient(sim.base_url("node-a"), timeout_s=0.5, clock=clock) as client:
        imds = source(client)
        assert imds.poll(clock(), rebalance=False) is None
        sim.set_notice("node-a")

        for _ in range(10):  # a leader ticking on every change of a busy rollout
            clock.advance(0.1)
            assert imds.poll(clock(), rebalance=False) is None

        assert sim.count("node-a", INSTANCE_ACTION) == 1


def test_the_next_poll_after_the_interval_asks_again_and_sees_the_notice(
    sim: ImdsSimulator, clock: ManualClock
) -> None:
    with ImdsClient(sim.base_url("node-a"), timeout_s=0.5, clock=clock) as client:
        imds = source(client)
        imds.poll(clock(), rebalance=False)
        sim.set_notice("node-a")

        clock.advance(1.6)
        signal = imds.poll(clock(), rebalance=False)

        assert signal is not None
        assert signal.node == "node-a"
        assert sim.count("node-a", INSTANCE_ACTION) == 2
