"""Fixtures for sidecar scenarios on the local control plane."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.scenario import Scenario, scenario


@pytest.fixture
def failover(
    cluster: LocalCluster, kube: Kube, namespace: str, tmp_path: Path
) -> Iterator[Scenario]:
    """An IMDS simulator for the spot nodes and sidecars run for every pod of ``namespace``."""
    with scenario(cluster, kube, namespace, tmp_path / "sidecars") as running:
        yield running
