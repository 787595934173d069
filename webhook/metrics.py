"""Prometheus metrics of one webhook process, served on ``/metrics`` of the health port.

One registry per process, passed down explicitly (tests run several webhooks in one process).
Label values are small closed sets (skip reasons, components); names of pods or Deployments
never become labels. Besides the process's own counters, :class:`FailoverStates` exports the
failover states of the opted-in Deployments from the owner cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from webhook.core.failover_states import summarize
from webhook.core.owners import DeploymentFacts

PREFIX: Final = "spot_failover_webhook_"

LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
)
"""Seconds. Dense below 10 ms (the warm-path target), up to the 5 s call timeout."""


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            PREFIX + "admission_requests",
            "AdmissionReview requests answered, by HTTP status",
            ["code"],
            registry=r,
        )
        self.injected = Counter(PREFIX + "injected", "Pods admitted with the sidecar", registry=r)
        self.skipped = Counter(
            PREFIX + "skipped", "Pods admitted unchanged, by reason", ["reason"], registry=r
        )
        self.errors = Counter(
            PREFIX + "errors",
            "Internal errors, by component; in admission each one let a pod through unchanged",
            ["component"],
            registry=r,
        )
        self.latency = Histogram(
            PREFIX + "admission_duration_seconds",
            "Time from reading an AdmissionReview to its response",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.owner_lookups = Counter(
            PREFIX + "owner_lookups",
            "Owner resolutions: from the cache, or by a direct API lookup after a miss",
            ["source"],
            registry=r,
        )
        self.admission_api_calls = Counter(
            PREFIX + "admission_api_calls",
            "Kubernetes API requests made while answering admission reviews (cache misses)",
            registry=r,
        )
        self.uninjected_pods = Gauge(
            PREFIX + "uninjected_pods",
            "Pods of opted-in Deployments running without the sidecar, at the last check",
            registry=r,
        )
        self.uninjected_reported = Counter(
            PREFIX + "uninjected_pods_reported",
            "Pods of opted-in Deployments reported (Event) for running without the sidecar",
            registry=r,
        )
        self.rbac_changes = Counter(
            PREFIX + "rbac_changes",
            "Sidecar RBAC objects applied or deleted",
            ["kind", "action"],
            registry=r,
        )
        self.certificate_reloads = Counter(
            PREFIX + "certificate_reloads", "Serving certificate reloads after rotation", registry=r
        )
        self.certificate_expiry = Gauge(
            PREFIX + "certificate_expiry_timestamp_seconds",
            "notAfter of the serving certificate, as a Unix time",
            registry=r,
        )


class FailoverStates(Collector):
    """The failover states of the Deployments ``source`` yields, summed up at scrape time
    (:func:`~webhook.core.failover_states.summarize`)."""

    def __init__(self, source: Callable[[], Iterable[DeploymentFacts]]) -> None:
        self.source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        summary = summarize(self.source())
        deployments = GaugeMetricFamily(
            PREFIX + "deployments",
            "Opted-in Deployments by failover state (the spot-failover/state annotation)",
            labels=["state"],
        )
        for state, count in summary.deployments.items():
            deployments.add_metric([state], count)
        yield deployments
        unsettled = GaugeMetricFamily(
            PREFIX + "unsettled_since_timestamp_seconds",
            "Oldest last transition of an opted-in Deployment still in a move's state, Unix time",
            labels=["state"],
        )
        for state, at in summary.unsettled_since.items():
            unsettled.add_metric([state], at)
        yield unsettled
