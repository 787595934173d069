"""Fixtures shared by every test folder: the local control plane, once per session.

The cluster starts lazily, the first time a test asks for it, so pure tests run without it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.fargate_profile import FargateProfile, manifests
from devtools.controlplane.kube import Kube, api_client
from devtools.controlplane.nodes import fargate_node, spot_node
from devtools.scenario import FARGATE_LABELS, FARGATE_NODES, SPOT_NODES

__all__ = ["FARGATE_LABELS", "FARGATE_NODES", "SPOT_NODES"]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The local control plane with a baseline of three spot and three Fargate nodes."""
    with LocalCluster(Path(tmp_path_factory.mktemp("cluster"))) as local:
        kube = Kube(api_client(local))
        kube.apply([spot_node(name) for name in SPOT_NODES])
        kube.apply([fargate_node(name) for name in FARGATE_NODES])
        yield local


@pytest.fixture(scope="session")
def kube(cluster: LocalCluster) -> Kube:
    """Admin access to the local cluster."""
    return Kube(api_client(cluster))


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    """A fresh namespace per test, with the test-only Fargate profile standing in for EKS's."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.create_namespace(name)
    profile = FargateProfile(name, name, FARGATE_LABELS)
    kube.install_fargate_profile(profile)
    yield name
    kube.delete_namespace(name)
    for manifest in reversed(manifests(profile)):
        resource = kube.dynamic.resources.get(
            api_version=manifest["apiVersion"], kind=manifest["kind"]
        )
        resource.delete(name=manifest["metadata"]["name"])
