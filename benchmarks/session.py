"""One local control plane for a benchmark run, with the nodes and namespaces the tests use."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.fargate_profile import FargateProfile
from devtools.controlplane.kube import Kube, api_client
from devtools.controlplane.nodes import fargate_node, spot_node
from devtools.scenario import FARGATE_LABELS, FARGATE_NODES, SPOT_NODES, Scenario, scenario

PRODUCTION_TIMINGS = {
    "SPOT_FAILOVER_POLL_INTERVAL_S": "2",
    "SPOT_FAILOVER_LEASE_DURATION_S": "15",
    "SPOT_FAILOVER_LEASE_RENEW_S": "2",
    "SPOT_FAILOVER_LOG_LEVEL": "INFO",
}
"""The sidecar's shipped defaults: benchmarks measure what users run, not the test timings."""


@contextlib.contextmanager
def control_plane() -> Iterator[tuple[LocalCluster, Kube, Path]]:
    with tempfile.TemporaryDirectory(prefix="spot-failover-bench-") as tmp:
        work = Path(tmp)
        with LocalCluster(work / "cluster") as cluster:
            kube = Kube(api_client(cluster))
            kube.apply([spot_node(n) for n in SPOT_NODES])
            kube.apply([fargate_node(n) for n in FARGATE_NODES])
            yield cluster, kube, work


@contextlib.contextmanager
def failover(
    cluster: LocalCluster, kube: Kube, work: Path, sidecar_env: Mapping[str, str] | None = None
) -> Iterator[Scenario]:
    """A fresh namespace with the Fargate profile stand-in and sidecars run for its pods
    (``sidecar_env``: the sidecars' settings over the scenario's test timings)."""
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    kube.create_namespace(namespace)
    kube.install_fargate_profile(FargateProfile(namespace, namespace, FARGATE_LABELS))
    try:
        with scenario(
            cluster, kube, namespace, work / namespace, sidecar_env=sidecar_env
        ) as running:
            yield running
    finally:
        kube.delete_namespace(namespace)
