"""Fixtures for the pod runner: a runner factory whose runners stop at teardown, and helpers
that read what the fake sidecar reported."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.podrunner import PodRunner
from devtools.controlplane.waiting import wait_for

FAKE_SIDECAR = Path(__file__).with_name("fake_sidecar.py")
IMDS_URL = "SPOT_FAILOVER_IMDS_URL"

MakeRunner = Callable[..., PodRunner]


def imds_env(node: str) -> dict[str, str]:
    """Each node's own IMDS, as a simulator per node would serve it."""
    return {IMDS_URL: f"http://imds.test/{node}"}


@pytest.fixture
def make_runner(
    cluster: LocalCluster, kube: Kube, namespace: str, tmp_path: Path
) -> Iterator[MakeRunner]:
    """Start a runner of the fake sidecar in the test's namespace; every one stops at teardown."""
    with ExitStack() as runners:

        def make(**overrides: Any) -> PodRunner:
            settings: dict[str, Any] = {
                "namespace": namespace,
                "program": [sys.executable, str(FAKE_SIDECAR)],
                "node_env": imds_env,
                "log_dir": tmp_path / "sidecars",
                **overrides,
            }
            runner = PodRunner(cluster, kube, **settings)
            runners.callback(runner.stop)
            runner.start()
            return runner

        yield make


def report(runner: PodRunner, pod: str) -> dict[str, Any]:
    """The JSON line the fake sidecar of ``pod`` printed, once it has."""

    def printed() -> dict[str, Any] | None:
        for line in runner.logs(pod).splitlines():
            if line.startswith("{"):
                parsed: dict[str, Any] = json.loads(line)
                return parsed
        return None

    return wait_for(printed, 30, f"the report of the sidecar of {pod}")


def token_in(credentials: Path) -> str:
    """The token of a pod's ServiceAccount volume."""
    return (credentials / "token").read_text()
