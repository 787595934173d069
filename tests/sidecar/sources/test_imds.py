"""The IMDS signal source: one question per poll interval, however often the loop ticks; none
on Fargate; the rebalance recommendation only when it would start a move."""

from __future__ import annotations

from datetime import timedelta

from devtools.imds import ImdsSimulator
from sidecar.adapters.imds import ImdsClient
from sidecar.core.signals import Kind
from sidecar.metrics import Metrics
from sidecar.sources import PollContext
from sidecar.sources.imds import ImdsSource
from tests.devtools.imds.clock import ManualClock

INSTANCE_ACTION = "/latest/meta-data/spot/instance-action"
REBALANCE = "/latest/meta-data/events/recommendations/rebalance"
ON_SPOT = PollContext(on_fargate=False, wanted=frozenset({Kind.INTERRUPTION}))


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
        assert imds.poll(clock(), ON_SPOT) is None
        sim.set_notice("node-a")

        for _ in range(10):  # a leader ticking on every change of a busy rollout
            clock.advance(0.1)
            assert imds.poll(clock(), ON_SPOT) is None

        assert sim.count("node-a", INSTANCE_ACTION) == 1


def test_the_next_poll_after_the_interval_asks_again_and_sees_the_notice(
    sim: ImdsSimulator, clock: ManualClock
) -> None:
    with ImdsClient(sim.base_url("node-a"), timeout_s=0.5, clock=clock) as client:
        imds = source(client)
        imds.poll(clock(), ON_SPOT)
        sim.set_notice("node-a")

        clock.advance(1.6)
        signal = imds.poll(clock(), ON_SPOT)

        assert signal is not None
        assert signal.node == "node-a"
        assert sim.count("node-a", INSTANCE_ACTION) == 2


def test_on_fargate_nothing_is_asked(sim: ImdsSimulator, clock: ManualClock) -> None:
    with ImdsClient(sim.base_url("node-a"), timeout_s=0.5, clock=clock) as client:
        sim.set_notice("node-a")

        signal = source(client).poll(
            clock(),
            PollContext(on_fargate=True, wanted=frozenset({Kind.INTERRUPTION, Kind.REBALANCE})),
        )

        assert signal is None
        assert sim.count("node-a", INSTANCE_ACTION) == 0


def test_a_rebalance_recommendation_is_asked_for_only_when_it_would_start_a_move(
    sim: ImdsSimulator, clock: ManualClock
) -> None:
    with ImdsClient(sim.base_url("node-a"), timeout_s=0.5, clock=clock) as client:
        sim.set_rebalance("node-a")
        imds = source(client)

        assert imds.poll(clock(), ON_SPOT) is None
        assert sim.count("node-a", REBALANCE) == 0

        clock.advance(1.6)
        signal = imds.poll(
            clock(),
            PollContext(on_fargate=False, wanted=frozenset({Kind.INTERRUPTION, Kind.REBALANCE})),
        )

        assert signal is not None
        assert signal.kind is Kind.REBALANCE
        assert sim.count("node-a", REBALANCE) == 1
