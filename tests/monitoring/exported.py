"""The metric names the programs really export, read from their own registries' /metrics text."""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, generate_latest

from devtools.metrics_scrape import Scrape
from sidecar.metrics import Metrics as SidecarMetrics
from spot_common import contract
from webhook.core.owners import deployment_facts
from webhook.metrics import FailoverStates
from webhook.metrics import Metrics as WebhookMetrics

PROMETHEUS_OWN = frozenset({"up"})
"""Series Prometheus itself writes for every target."""


def exported_names() -> frozenset[str]:
    """Every sample name of both programs, each labelled family touched once so it shows."""
    sidecar = SidecarMetrics()
    sidecar.transitions.labels("Watching", "Migrating").inc()
    sidecar.notices.labels("imds/spot/instance-action", "interruption").inc()
    sidecar.api_requests.labels("get").inc()
    sidecar.imds_polls.labels("unreachable").inc()
    sidecar.move_seconds.labels("OnFargate").observe(30)
    webhook = WebhookMetrics()
    webhook.requests.labels("200").inc()
    webhook.skipped.labels("not_opted_in").inc()
    webhook.errors.labels("admission").inc()
    webhook.owner_lookups.labels("cache").inc()
    webhook.rbac_changes.labels("Role", "apply").inc()
    moving = deployment_facts(
        {
            "metadata": {
                "name": "web",
                "annotations": {
                    contract.ENABLED: "true",
                    contract.STATE: "Migrating",
                    contract.LAST_TRANSITION: dt.datetime.now(dt.UTC).isoformat(),
                },
            }
        }
    )
    webhook.registry.register(FailoverStates(lambda: [moving]))
    names: set[str] = set()
    for registry in (sidecar.registry, webhook.registry):
        names |= _names(registry)
    return frozenset(names)


def _names(registry: CollectorRegistry) -> set[str]:
    return Scrape.parse(generate_latest(registry).decode()).names()
