"""Faults: errors, slowness, garbage and the unanswered token PUT, and stopping through them."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from devtools.imds import ImdsSimulator
from tests.devtools.imds.clock import ManualClock
from tests.devtools.imds.conftest import META, TTL, get, get_token

INSTANCE_ACTION = META + "/spot/instance-action"
REBALANCE = META + "/events/recommendations/rebalance"
TOKEN_PATH = "/latest/api/token"


@pytest.fixture
def base(sim: ImdsSimulator) -> str:
    return sim.base_url("node-a")


@pytest.fixture
def token(http: requests.Session, base: str) -> str:
    return get_token(http, base)


def test_an_error_fault_answers_its_status_on_every_path(
    sim: ImdsSimulator, http: requests.Session, base: str, token: str
) -> None:
    sim.set_fault("node-a", "error", status=503)
    assert get(http, base, INSTANCE_ACTION, token).status_code == 503
    assert http.put(base + TOKEN_PATH, headers={TTL: "60"}).status_code == 503
    sim.clear_faults("node-a")
    assert get(http, base, INSTANCE_ACTION, token).status_code == 404


def test_a_fault_limited_to_n_requests_ends_after_them(
    sim: ImdsSimulator, http: requests.Session, base: str, token: str
) -> None:
    sim.set_fault("node-a", "error", count=2)
    statuses = [get(http, base, INSTANCE_ACTION, token).status_code for _ in range(3)]
    assert statuses == [500, 500, 404]
    assert sim.summary("node-a")["faults"] == []


def test_a_fault_limited_to_a_path_leaves_other_paths_alone(
    sim: ImdsSimulator, http: requests.Session, base: str, token: str
) -> None:
    sim.set_fault("node-a", "error", path=INSTANCE_ACTION)
    assert get(http, base, INSTANCE_ACTION, token).status_code == 500
    assert get(http, base, META + "/instance-id", token).status_code == 200


def test_a_slow_fault_delays_the_answer(
    sim: ImdsSimulator, http: requests.Session, base: str, token: str
) -> None:
    sim.set_fault("node-a", "slow", seconds=0.2, count=1)
    started = time.monotonic()
    assert get(http, base, INSTANCE_ACTION, token).status_code == 404
    assert time.monotonic() - started >= 0.2
    assert sim.requests("node-a", INSTANCE_ACTION)[-1].fault == "slow"


def test_a_slow_fault_longer_than_the_client_timeout_times_it_out(
    sim: ImdsSimulator, http: requests.Session, base: str, token: str
) -> None:
    sim.set_fault("node-a", "slow", seconds=5, count=1)
    with pytest.raises(requests.ReadTimeout):
        http.get(base + INSTANCE_ACTION, headers={"X-aws-ec2-metadata-token": token}, timeout=0.1)


@pytest.mark.parametrize("path", [INSTANCE_ACTION, REBALANCE])
def test_a_malformed_fault_serves_garbage_instead_of_json(
    sim: ImdsSimulator, http: requests.Session, base: str, token: str, path: str
) -> None:
    sim.set_fault("node-a", "malformed")
    response = get(http, base, path, token)
    assert response.status_code == 200
    with pytest.raises(ValueError, match="control character"):
        response.json()
    assert get(http, base, META + "/instance-id", token).text.startswith("i-")


def test_a_malformed_fault_still_requires_a_token(
    sim: ImdsSimulator, http: requests.Session, base: str
) -> None:
    sim.set_fault("node-a", "malformed", body="{}")
    assert get(http, base, INSTANCE_ACTION).status_code == 401


def _hung_put(base: str, outcome: list[BaseException]) -> None:
    with requests.Session() as session:
        try:
            session.put(base + TOKEN_PATH, headers={TTL: "60"}, timeout=30)
        except requests.RequestException as error:
            outcome.append(error)


def test_a_hung_token_put_never_answers_and_blocks_no_one_else(
    sim: ImdsSimulator, http: requests.Session, base: str, token: str
) -> None:
    sim.set_fault("node-a", "hang-token")
    with pytest.raises(requests.ReadTimeout):
        http.put(base + TOKEN_PATH, headers={TTL: "60"}, timeout=0.2)
    outcome: list[BaseException] = []
    client = threading.Thread(target=_hung_put, args=(base, outcome))
    client.start()
    sim.wait_for_requests("node-a", 3, TOKEN_PATH)
    sim.set_notice("node-a")
    assert get(http, base, INSTANCE_ACTION, token).status_code == 200
    assert get(http, sim.base_url("node-b"), INSTANCE_ACTION).status_code == 401
    assert [r.status for r in sim.requests("node-a", TOKEN_PATH)] == [200, None, None]
    sim.stop()
    client.join(timeout=5)
    assert not client.is_alive()
    assert isinstance(outcome[0], requests.ConnectionError)


def test_stopping_with_a_hung_request_is_prompt_and_leaves_no_thread(clock: ManualClock) -> None:
    before = set(threading.enumerate())
    sim = ImdsSimulator(["node-a"], clock=clock).start()
    sim.set_fault("node-a", "hang-token")
    sim.set_fault("node-a", "slow", seconds=30, path=INSTANCE_ACTION)
    outcome: list[BaseException] = []
    client = threading.Thread(target=_hung_put, args=(sim.base_url("node-a"), outcome))
    client.start()
    with requests.Session() as idle:  # a keep-alive connection left open
        idle.get(sim.base_url("node-a") + META + "/instance-id")
        sim.wait_for_requests("node-a", 1, TOKEN_PATH)
        started = time.monotonic()
        sim.stop()
        assert time.monotonic() - started < 1.0
    client.join(timeout=5)
    assert set(threading.enumerate()) - before == set()
    sim.stop()  # idempotent


def test_a_hanging_request_ends_when_its_client_gives_up(
    sim: ImdsSimulator, http: requests.Session, base: str
) -> None:
    baseline = threading.active_count()
    sim.set_fault("node-a", "hang-token")
    with pytest.raises(requests.ReadTimeout):
        http.put(base + TOKEN_PATH, headers={TTL: "60"}, timeout=0.1)
    http.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a condition with a deadline: threads offer no event to wait on
    assert threading.active_count() == baseline
