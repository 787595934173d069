"""The webhook's gauges of failover states, as Prometheus scrapes them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from devtools.metrics_scrape import Scrape
from webhook.metrics import FailoverStates

from .core.test_failover_states import T0, facts


def test_the_collector_reads_the_deployments_at_each_scrape() -> None:
    deployments = [facts("a", "Migrating", T0)]
    registry = CollectorRegistry()
    registry.register(FailoverStates(lambda: deployments))

    first = scrape(registry)
    deployments.append(facts("b", "RolledBack", T0))
    second = scrape(registry)

    assert first.value("spot_failover_webhook_deployments", state="Migrating") == 1
    assert first.value("spot_failover_webhook_deployments", state="RolledBack") == 0
    assert second.value("spot_failover_webhook_deployments", state="RolledBack") == 1
    assert (
        second.value("spot_failover_webhook_unsettled_since_timestamp_seconds", state="Migrating")
        == T0.timestamp()
    )


def scrape(registry: CollectorRegistry) -> Scrape:
    return Scrape.parse(generate_latest(registry).decode())
