"""The simulator speaks IMDS: tokens, every route, notices, nodes kept apart."""

from __future__ import annotations

import http.client
import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests

from devtools.imds import ImdsSimulator
from tests.devtools.imds.clock import START, ManualClock
from tests.devtools.imds.conftest import META, TOKEN, TTL, get, get_token

INSTANCE_ACTION = META + "/spot/instance-action"
TERMINATION_TIME = META + "/spot/termination-time"
REBALANCE = META + "/events/recommendations/rebalance"
SCHEDULED = META + "/events/maintenance/scheduled"


# --- Tokens -----------------------------------------------------------------------------------


def test_a_token_put_returns_a_token_and_echoes_its_ttl(
    sim: ImdsSimulator, http: requests.Session
) -> None:
    response = http.put(sim.base_url("node-a") + "/latest/api/token", headers={TTL: "300"})
    assert response.status_code == 200
    assert len(response.text) > 20
    assert response.headers[TTL] == "300"


@pytest.mark.parametrize(
    "ttl", [None, "", "0", "21601", "-5", "abc", "1.5", "60s", "1e3", "99999999"]
)
def test_a_token_put_with_a_missing_or_invalid_ttl_is_a_bad_request(
    sim: ImdsSimulator, http: requests.Session, ttl: str | None
) -> None:
    headers = {} if ttl is None else {TTL: ttl}
    response = http.put(sim.base_url("node-a") + "/latest/api/token", headers=headers)
    assert response.status_code == 400


@pytest.mark.parametrize("ttl", ["1", "21600"])
def test_the_ttl_bounds_themselves_are_accepted(
    sim: ImdsSimulator, http: requests.Session, ttl: str
) -> None:
    response = http.put(sim.base_url("node-a") + "/latest/api/token", headers={TTL: ttl})
    assert response.status_code == 200


def test_a_token_put_through_a_proxy_is_forbidden(
    sim: ImdsSimulator, http: requests.Session
) -> None:
    response = http.put(
        sim.base_url("node-a") + "/latest/api/token",
        headers={TTL: "60", "X-Forwarded-For": "10.0.0.1"},
    )
    assert response.status_code == 403


def test_a_get_without_a_token_is_refused_in_v2_only_mode(
    sim: ImdsSimulator, http: requests.Session
) -> None:
    assert get(http, sim.base_url("node-a"), META + "/instance-id").status_code == 401


def test_a_get_with_an_unknown_token_is_refused(sim: ImdsSimulator, http: requests.Session) -> None:
    response = get(http, sim.base_url("node-a"), META + "/instance-id", token="made-up")
    assert response.status_code == 401


def test_a_token_expires_after_its_ttl(
    sim: ImdsSimulator, http: requests.Session, clock: ManualClock
) -> None:
    base = sim.base_url("node-a")
    token = get_token(http, base, ttl=60)
    clock.advance(59)
    ok = get(http, base, META + "/instance-id", token)
    assert ok.status_code == 200
    assert ok.headers[TTL] == "1"
    clock.advance(1)
    assert get(http, base, META + "/instance-id", token).status_code == 401


def test_revoked_tokens_are_refused(sim: ImdsSimulator, http: requests.Session) -> None:
    base = sim.base_url("node-a")
    token = get_token(http, base)
    sim.revoke_tokens("node-a")
    assert get(http, base, META + "/instance-id", token).status_code == 401


def test_a_get_without_a_token_is_answered_when_v2_only_is_off(
    sim: ImdsSimulator, http: requests.Session
) -> None:
    sim.configure_node("node-a", v2_only=False)
    response = get(http, sim.base_url("node-a"), META + "/instance-life-cycle")
    assert (response.status_code, response.text) == (200, "spot")


def test_an_invalid_token_is_refused_even_when_v2_only_is_off(
    sim: ImdsSimulator, http: requests.Session
) -> None:
    sim.configure_node("node-a", v2_only=False)
    response = get(http, sim.base_url("node-a"), META + "/instance-id", token="made-up")
    assert response.status_code == 401


def test_a_token_from_one_node_is_refused_by_another(
    sim: ImdsSimulator, http: requests.Session
) -> None:
    token = get_token(http, sim.base_url("node-a"))
    assert get(http, sim.base_url("node-b"), META + "/instance-id", token).status_code == 401
    assert get(http, sim.base_url("node-a"), META + "/instance-id", token).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/latest/api/token"), ("POST", META + "/instance-id"), ("PUT", INSTANCE_ACTION)],
)
def test_a_wrong_method_is_not_allowed(
    sim: ImdsSimulator, http: requests.Session, method: str, path: str
) -> None:
    response = http.request(method, sim.base_url("node-a") + path, headers={TTL: "60"})
    assert response.status_code == 405


# --- Routes -----------------------------------------------------------------------------------


@pytest.fixture
def token(sim: ImdsSimulator, http: requests.Session) -> str:
    return get_token(http, sim.base_url("node-a"))


def test_instance_action_is_404_until_a_notice_is_set(
    sim: ImdsSimulator, http: requests.Session, token: str
) -> None:
    assert get(http, sim.base_url("node-a"), INSTANCE_ACTION, token).status_code == 404


def test_a_notice_is_tab_indented_json_with_the_time_two_minutes_after_it(
    sim: ImdsSimulator, http: requests.Session, token: str
) -> None:
    sim.set_notice("node-a", "stop")
    response = get(http, sim.base_url("node-a"), INSTANCE_ACTION, token)
    assert response.status_code == 200
    assert response.text == '{\n\t"action": "stop",\n\t"time": "2026-01-02T15:02:00Z"\n}'


def test_a_notice_can_carry_an_explicit_time(
    sim: ImdsSimulator, http: requests.Session, token: str
) -> None:
    sim.set_notice("node-a", time=datetime(2026, 1, 2, 15, 0, 30, tzinfo=UTC))
    body = get(http, sim.base_url("node-a"), INSTANCE_ACTION, token).json()
    assert body == {"action": "terminate", "time": "2026-01-02T15:00:30Z"}


def test_a_delayed_notice_stays_404_until_the_delay_has_passed(
    sim: ImdsSimulator, http: requests.Session, token: str, clock: ManualClock
) -> None:
    base = sim.base_url("node-a")
    sim.set_notice("node-a", delay=30)
    clock.advance(29)
    assert get(http, base, INSTANCE_ACTION, token).status_code == 404
    assert get(http, base, TERMINATION_TIME, token).status_code == 404
    clock.advance(1)
    assert get(http, base, INSTANCE_ACTION, token).json()["time"] == "2026-01-02T15:02:30Z"


def test_termination_time_is_the_notice_time_as_plain_text(
    sim: ImdsSimulator, http: requests.Session, token: str
) -> None:
    base = sim.base_url("node-a")
    assert get(http, base, TERMINATION_TIME, token).status_code == 404
    sim.set_notice("node-a")
    assert get(http, base, TERMINATION_TIME, token).text == "2026-01-02T15:02:00Z"


def test_a_cleared_notice_is_404_again(
    sim: ImdsSimulator, http: requests.Session, token: str
) -> None:
    sim.set_notice("node-a")
    sim.clear_notice("node-a")
    assert get(http, sim.base_url("node-a"), INSTANCE_ACTION, token).status_code == 404


def test_a_rebalance_recommendation_is_404_then_its_notice_time(
    sim: ImdsSimulator, http: requests.Session, token: str, clock: ManualClock
) -> None:
    base = sim.base_url("node-a")
    assert get(http, base, REBALANCE, token).status_code == 404
    sim.set_rebalance("node-a", delay=10)
    assert get(http, base, REBALANCE, token).status_code == 404
    clock.advance(10)
    assert json.loads(get(http, base, REBALANCE, token).text) == {
        "noticeTime": "2026-01-02T15:00:10Z"
    }
    sim.clear_rebalance("node-a")
    assert get(http, base, REBALANCE, token).status_code == 404


def test_scheduled_events_are_an_empty_array_by_default(
    sim: ImdsSimulator, http: requests.Session, token: str
) -> None:
    base = sim.base_url("node-a")
    assert get(http, base, SCHEDULED, token).json() == []
    events: list[object] = [{"Code": "system-reboot", "State": "active"}]
    sim.set_scheduled_events("node-a", events)
    assert get(http, base, SCHEDULED, token).json() == events


def test_identity_paths_give_the_instance_id_and_life_cycle(
    sim: ImdsSimulator, http: requests.Session, token: str
) -> None:
    base = sim.base_url("node-a")
    assert get(http, base, META + "/instance-id", token).text.startswith("i-")
    assert get(http, base, META + "/instance-life-cycle", token).text == "spot"
    sim.configure_node("node-a", life_cycle="on-demand", instance_id="i-0123456789abcdef0")
    assert get(http, base, META + "/instance-id", token).text == "i-0123456789abcdef0"
    assert get(http, base, META + "/instance-life-cycle", token).text == "on-demand"


@pytest.mark.parametrize("path", [META + "/nope", META + "/spot", "/latest/user-data", "/"])
def test_unknown_paths_are_404(
    sim: ImdsSimulator, http: requests.Session, token: str, path: str
) -> None:
    assert get(http, sim.base_url("node-a"), path, token).status_code == 404


def test_every_path_of_an_unknown_node_is_404(sim: ImdsSimulator, http: requests.Session) -> None:
    base = sim.url + "/nodes/node-z"
    assert http.put(base + "/latest/api/token", headers={TTL: "60"}).status_code == 404
    assert get(http, base, INSTANCE_ACTION).status_code == 404
    assert http.get(sim.url + "/elsewhere").status_code == 404


# --- Nodes are independent, and the AWS mock's client-IP limit ---------------------------------


def test_two_nodes_keep_their_notices_faults_and_logs_apart(
    sim: ImdsSimulator, http: requests.Session
) -> None:
    a, b = sim.base_url("node-a"), sim.base_url("node-b")
    sim.set_notice("node-a")
    sim.set_fault("node-a", "error", path=META + "/instance-id")
    token_a, token_b = get_token(http, a), get_token(http, b)
    assert get(http, a, INSTANCE_ACTION, token_a).status_code == 200
    assert get(http, b, INSTANCE_ACTION, token_b).status_code == 404
    assert get(http, a, META + "/instance-id", token_a).status_code == 500
    assert get(http, b, META + "/instance-id", token_b).status_code == 200
    assert sim.count("node-a", INSTANCE_ACTION) == 1
    assert sim.count("node-b") == 3
    assert (
        get(http, a, META + "/instance-id", token_a).text
        != get(http, b, META + "/instance-id", token_b).text
    )


def test_notices_reach_only_the_first_k_client_ips_when_limited(
    sim: ImdsSimulator, http: requests.Session, token: str
) -> None:
    sim.configure_node("node-a", notice_ip_limit=1)
    sim.set_notice("node-a")
    assert get(http, sim.base_url("node-a"), INSTANCE_ACTION, token).status_code == 200
    assert _status_from("127.0.0.2", sim, INSTANCE_ACTION) == 404
    sim.configure_node("node-a", notice_ip_limit=2)
    assert _status_from("127.0.0.3", sim, INSTANCE_ACTION) == 200
    assert _status_from("127.0.0.2", sim, INSTANCE_ACTION) == 404
    assert get(http, sim.base_url("node-a"), INSTANCE_ACTION, token).status_code == 200


def _status_from(source_ip: str, sim: ImdsSimulator, path: str) -> int:
    """One tokenised GET sent from another loopback address, i.e. another client IP."""
    url = urlsplit(sim.url)
    assert url.hostname is not None
    connection = http.client.HTTPConnection(url.hostname, url.port, source_address=(source_ip, 0))
    try:
        connection.request("PUT", "/nodes/node-a/latest/api/token", headers={TTL: "60"})
        token = connection.getresponse().read().decode()
        connection.request("GET", "/nodes/node-a" + path, headers={TOKEN: token})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_request_log_records_method_path_status_time_and_client(
    sim: ImdsSimulator, http: requests.Session
) -> None:
    base = sim.base_url("node-a")
    token = get_token(http, base)
    get(http, base, INSTANCE_ACTION, token)
    records = sim.requests("node-a")
    assert [(r.method, r.path, r.status) for r in records] == [
        ("PUT", "/latest/api/token", 200),
        ("GET", INSTANCE_ACTION, 404),
    ]
    assert records[0].time == START
    assert records[0].client == "127.0.0.1"
    assert sim.count("node-a", INSTANCE_ACTION, method="GET", status=404) == 1
    sim.clear_requests("node-a")
    assert sim.requests("node-a") == []
    assert sim.count("node-a") == 0


def test_the_python_api_rejects_bad_input_with_a_clear_error(sim: ImdsSimulator) -> None:
    with pytest.raises(ValueError, match="already exists"):
        sim.add_node("node-a")
    with pytest.raises(ValueError, match="invalid node name"):
        sim.add_node("no/slashes")
    with pytest.raises(KeyError, match="node-z"):
        sim.set_notice("node-z")
    with pytest.raises(ValueError, match="action must be one of"):
        sim.set_notice("node-a", "explode")
    with pytest.raises(ValueError, match="5xx"):
        sim.set_fault("node-a", "error", status=404)
    with pytest.raises(ValueError, match="timezone-aware"):
        sim.set_notice("node-a", time=datetime(2026, 1, 1))  # noqa: DTZ001
