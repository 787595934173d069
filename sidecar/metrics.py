"""Prometheus metrics of one sidecar, served on ``SPOT_FAILOVER_METRICS_PORT`` (0: off).

One registry per process, passed down explicitly (tests create their own).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.transitions = Counter(
            "spot_failover_transitions",
            "State transitions written",
            ["from_state", "to_state"],
            registry=r,
        )
        self.notices = Counter(
            "spot_failover_notices",
            "Interruption signals seen for this node",
            ["source", "kind"],
            registry=r,
        )
        self.lease_acquisitions = Counter(
            "spot_failover_lease_acquisitions", "Times this sidecar became the leader", registry=r
        )
        self.api_requests = Counter(
            "spot_failover_api_requests", "Kubernetes API requests made", ["verb"], registry=r
        )
        self.imds_polls = Counter(
            "spot_failover_imds_polls", "IMDS polls by outcome", ["outcome"], registry=r
        )
        self.imds_reachable = Gauge(
            "spot_failover_imds_reachable", "1 if IMDS answers, 0 if not (hop limit?)", registry=r
        )
        self.conflicts = Counter(
            "spot_failover_conflicts", "Writes refused with 409 (someone wrote first)", registry=r
        )
        self.move_seconds = Histogram(
            "spot_failover_move_seconds",
            "From the transition that started a move to the one that settled it",
            ["to_state"],
            buckets=(5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600),
            registry=r,
        )

    def serve(self, port: int) -> None:
        """Serve ``/metrics`` on all interfaces of the pod (0: do nothing)."""
        if port:
            start_http_server(port, registry=self.registry)
