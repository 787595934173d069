"""Fixtures for the IMDS simulator and client: one simulator per test, on a manual clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests

from devtools.imds import ImdsSimulator
from tests.imds.clock import ManualClock

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
    leaked = set(threading.enumerate()) - before
    assert not leaked, f"simulator threads outlived stop(): {leaked}"


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
