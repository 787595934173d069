"""Fixtures for failover scenarios on the local control plane: the real webhook injects the
sidecar into the test namespace's pods, and the pod runner runs one sidecar per pod.

``failover`` is the scenario with the test timings; a test that needs other sidecar settings
(dry run, IMDS off, ...), spot nodes of its own or the reclaim asks for ``make_failover``
instead and calls it once with them. ``sim`` and ``clock``, the IMDS simulator on a manual
clock, are the simulator's own fixtures (tests/devtools/imds), for the sidecar's IMDS client
and signal source."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.scenario import SPOT_NODES, Scenario, scenario
from tests.conftest import DIAGNOSTICS
from tests.devtools.imds.conftest import clock, sim

__all__ = ["clock", "sim"]


class MakeFailover(Protocol):
    def __call__(
        self,
        sidecar_env: Mapping[str, str] | None = None,
        *,
        spot_nodes: tuple[str, ...] = SPOT_NODES,
        reclaim: bool = False,
    ) -> Scenario: ...


@pytest.fixture
def make_failover(
    request: pytest.FixtureRequest,
    cluster: LocalCluster,
    kube: Kube,
    namespace: str,
    tmp_path: Path,
) -> Iterator[MakeFailover]:
    """Starts the scenario for ``namespace`` with these sidecar settings over the test timings;
    once per test, because one webhook serves the namespace. A failed test's report carries
    the scenario's logs (:data:`tests.conftest.DIAGNOSTICS`)."""
    with contextlib.ExitStack() as stack:
        started: list[Scenario] = []
        request.node.stash[DIAGNOSTICS] = lambda: [
            section for running in started for section in running.diagnostics()
        ]

        def make(
            sidecar_env: Mapping[str, str] | None = None,
            *,
            spot_nodes: tuple[str, ...] = SPOT_NODES,
            reclaim: bool = False,
        ) -> Scenario:
            if started:
                raise RuntimeError("the scenario of this test has already been started")
            work = tmp_path / "scenario"
            running = stack.enter_context(
                scenario(
                    cluster,
                    kube,
                    namespace,
                    work,
                    sidecar_env=sidecar_env,
                    spot_nodes=spot_nodes,
                    reclaim=reclaim,
                )
            )
            started.append(running)
            return running

        yield make


@pytest.fixture
def failover(make_failover: MakeFailover) -> Scenario:
    """The scenario with the test timings."""
    return make_failover()
