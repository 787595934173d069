"""Fixtures for sidecar scenarios on the local control plane."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from sidecar import contract
from tests.sidecar.scenario import Scenario, scenario


@pytest.fixture(scope="session")
def sidecar_node_access(kube: Kube) -> str:
    """The shared ClusterRole that lets sidecars read Nodes (deploy/ ships the same)."""
    name = "spot-failover-sidecar-nodes-test"
    kube.rbac.create_cluster_role(
        {"metadata": {"name": name}, "rules": contract.SIDECAR_NODE_RULES}
    )
    return name


@pytest.fixture
def failover(
    cluster: LocalCluster,
    kube: Kube,
    namespace: str,
    sidecar_node_access: str,
    tmp_path: Path,
) -> Iterator[Scenario]:
    binding = f"sidecar-nodes-{namespace}"
    kube.rbac.create_cluster_role_binding(
        {
            "metadata": {"name": binding},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": sidecar_node_access,
            },
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
        }
    )
    try:
        yield from scenario(cluster, kube, namespace, tmp_path / "sidecars")
    finally:
        kube.rbac.delete_cluster_role_binding(binding)
