"""Fixtures for the IMDS simulator and client: one simulator per test, on a manual clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests

from devtools.imds import ImdsSimulator
from tests.devtools.imds.clock import ManualClock

TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"
META = "/latest/meta-data"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[ImdsSimulator]:
    """Two spot nodes, ``node-a`` and ``node-b``, v2-only; stopped (and checked) after the test."""
    before = set(threading.enumerate())
    with ImdsSimulator(["node-a", "node-b"], clock=clock) as simulator:
        yield simulator
    leaked = {t for t in set(threading.enumerate()) - before if simulators(t)}
    assert not leaked, f"simulator threads outlived stop(): {leaked}"


def simulators(thread: threading.Thread) -> bool:
    """Whether ``thread`` is one the simulator starts: its server's, or a connection's (named
    after ``process_request_thread`` by threading). Other threads of the session, such as the
    EKS simulator's pool growing a worker meanwhile, are not the simulator's to stop."""
    return thread.name == "imds-simulator" or thread.name.endswith("(process_request_thread)")


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def get_token(http: requests.Session, base_url: str, ttl: int = 21600) -> str:
    response = http.put(base_url + "/latest/api/token", headers={TTL: str(ttl)}, timeout=5)
    assert response.status_code == 200, response.text
    return response.text


def get(
    http: requests.Session, base_url: str, path: str, token: str | None = None
) -> requests.Response:
    headers = {} if token is None else {TOKEN: token}
    return http.get(base_url + path, headers=headers, timeout=5)
