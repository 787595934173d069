"""Fixtures shared by every test folder: the local control plane, once per session.

The cluster starts lazily, the first time a test asks for it, so pure tests run without it.
It plays EKS (:mod:`devtools.eks`) with the test timings: Fargate pods Ready in well under a
second, dead nodes NotReady after a 20 s grace period.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Final

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, api_client
from devtools.controlplane.nodes import spot_node
from devtools.eks import FAST, EksSimulator
from devtools.scenario import FARGATE_LABELS, SPOT_NODES, fargate_profile

__all__ = ["FARGATE_LABELS", "SPOT_NODES"]

DIAGNOSTICS: Final = pytest.StashKey[Callable[[], list[tuple[str, str]]]]()
"""Where a fixture leaves what a failed test's report should show (logs of the processes it
ran, as titled sections): read while the fixtures still run, so a failure in CI says why."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    diagnostics = item.stash.get(DIAGNOSTICS, None)
    if report.failed and report.when == "call" and diagnostics is not None:
        for title, text in diagnostics():
            report.sections.append((title, text))
    return report


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The local control plane with a baseline of three managed-node-group spot nodes."""
    with LocalCluster(Path(tmp_path_factory.mktemp("cluster"))) as local:
        Kube(api_client(local)).apply([spot_node(name) for name in SPOT_NODES])
        yield local


@pytest.fixture(scope="session")
def kube(cluster: LocalCluster) -> Kube:
    """Admin access to the local cluster."""
    return Kube(api_client(cluster))


@pytest.fixture(scope="session")
def eks(kube: Kube) -> Iterator[EksSimulator]:
    """EKS's Fargate (profiles, fargate-scheduler) on the local cluster, fast timings."""
    with EksSimulator(kube, FAST) as simulator:
        yield simulator


@pytest.fixture
def namespace(kube: Kube, eks: EksSimulator) -> Iterator[str]:
    """A fresh namespace per test, with a Fargate profile selecting its pods that carry
    :data:`FARGATE_LABELS`."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.create_namespace(name)
    profile = fargate_profile(name)
    eks.install_profile(profile)
    yield name
    kube.delete_namespace(name)
    eks.remove_profile(profile)
