"""The JSON control API, and the simulator run standalone with ``python -m devtools.imds``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from devtools.imds import ImdsSimulator
from tests.devtools.imds.clock import ManualClock
from tests.devtools.imds.conftest import META, get, get_token

INSTANCE_ACTION = META + "/spot/instance-action"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def control(sim: ImdsSimulator) -> str:
    return sim.url + "/_control"


def test_nodes_are_created_listed_changed_and_removed_over_http(
    sim: ImdsSimulator, http: requests.Session, control: str
) -> None:
    created = http.post(
        control + "/nodes", json={"name": "node-c", "life_cycle": "on-demand", "v2_only": False}
    )
    assert created.status_code == 201
    assert created.json()["life_cycle"] == "on-demand"
    assert get(http, sim.base_url("node-c"), META + "/instance-life-cycle").text == "on-demand"
    assert http.post(control + "/nodes", json={"name": "node-c"}).status_code == 409
    names = [node["name"] for node in http.get(control + "/nodes").json()["nodes"]]
    assert names == ["node-a", "node-b", "node-c"]
    patched = http.patch(control + "/nodes/node-c", json={"v2_only": True, "notice_ip_limit": 2})
    assert (patched.json()["v2_only"], patched.json()["notice_ip_limit"]) == (True, 2)
    assert get(http, sim.base_url("node-c"), META + "/instance-life-cycle").status_code == 401
    assert http.delete(control + "/nodes/node-c").json() == {"deleted": "node-c"}
    assert sim.nodes() == ["node-a", "node-b"]


def test_a_notice_set_over_http_appears_after_its_delay(
    sim: ImdsSimulator, http: requests.Session, control: str, clock: ManualClock
) -> None:
    answer = http.put(control + "/nodes/node-a/notice", json={"action": "hibernate", "delay": 5})
    assert answer.json()["notice"]["action"] == "hibernate"
    base = sim.base_url("node-a")
    token = get_token(http, base)
    assert get(http, base, INSTANCE_ACTION, token).status_code == 404
    clock.advance(5)
    assert get(http, base, INSTANCE_ACTION, token).json() == {
        "action": "hibernate",
        "time": "2026-01-02T15:02:05Z",
    }
    http.delete(control + "/nodes/node-a/notice")
    assert get(http, base, INSTANCE_ACTION, token).status_code == 404


def test_rebalance_and_scheduled_events_are_set_over_http(
    sim: ImdsSimulator, http: requests.Session, control: str
) -> None:
    http.put(control + "/nodes/node-a/rebalance", json={"time": "2026-01-02T14:59:00Z"})
    http.put(control + "/nodes/node-a/scheduled-events", json=[{"Code": "instance-stop"}])
    base = sim.base_url("node-a")
    token = get_token(http, base)
    rebalance = get(http, base, META + "/events/recommendations/rebalance", token)
    assert rebalance.json() == {"noticeTime": "2026-01-02T14:59:00Z"}
    scheduled = get(http, base, META + "/events/maintenance/scheduled", token)
    assert scheduled.json() == [{"Code": "instance-stop"}]
    http.delete(control + "/nodes/node-a/rebalance")
    assert get(http, base, META + "/events/recommendations/rebalance", token).status_code == 404


def test_faults_tokens_and_the_request_log_are_driven_over_http(
    sim: ImdsSimulator, http: requests.Session, control: str
) -> None:
    base = sim.base_url("node-a")
    token = get_token(http, base)
    fault = {"kind": "error", "status": 502, "count": 1, "path": INSTANCE_ACTION}
    assert http.post(control + "/nodes/node-a/faults", json=fault).json()["faults"] == [
        {"kind": "error", "status": 502, "seconds": 0.0, "path": INSTANCE_ACTION, "remaining": 1}
    ]
    assert get(http, base, INSTANCE_ACTION, token).status_code == 502
    assert get(http, base, INSTANCE_ACTION, token).status_code == 404
    log = http.get(control + "/nodes/node-a/requests", params={"path": INSTANCE_ACTION}).json()
    assert log["total"] == 2
    assert [(row["status"], row["count"]) for row in log["counts"]] == [(404, 1), (502, 1)]
    assert [(r["status"], r["fault"]) for r in log["requests"]] == [(502, "error"), (404, None)]
    assert log["requests"][0]["time"] == "2026-01-02T15:00:00Z"
    http.delete(control + "/nodes/node-a/tokens")
    assert get(http, base, INSTANCE_ACTION, token).status_code == 401
    http.post(control + "/nodes/node-a/faults", json={"kind": "malformed"})
    assert http.delete(control + "/nodes/node-a/faults").json()["faults"] == []
    http.delete(control + "/nodes/node-a/requests")
    assert http.get(control + "/nodes/node-a/requests").json()["total"] == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/nodes/node-z", None, 404, "no simulated node 'node-z'"),
        ("PUT", "/nodes/node-z/notice", {}, 404, "no simulated node"),
        ("GET", "/elsewhere", None, 404, "no control route"),
        ("GET", "/nodes/node-a/nothing", None, 404, "no control route"),
        ("POST", "/nodes/node-a/notice", {}, 405, "not allowed"),
        ("PUT", "/nodes", {}, 405, "not allowed"),
        ("POST", "/nodes", {}, 400, "'name' is required"),
        ("POST", "/nodes", {"name": "a b"}, 400, "invalid node name"),
        ("POST", "/nodes/node-a/faults", {"kind": "explode"}, 400, "unknown fault kind"),
        ("POST", "/nodes/node-a/faults", {"kind": "slow", "seconds": "x"}, 400, "number"),
        ("POST", "/nodes/node-a/faults", {"kind": "error", "count": 0}, 400, "at least 1"),
        ("PUT", "/nodes/node-a/notice", {"action": "explode"}, 400, "action must be one of"),
        ("PUT", "/nodes/node-a/notice", {"time": "soon"}, 400, "RFC 3339"),
        ("PUT", "/nodes/node-a/notice", {"time": "2026-01-02T15:00:00"}, 400, "offset"),
        ("PUT", "/nodes/node-a/notice", [1], 400, "JSON object"),
        ("PUT", "/nodes/node-a/scheduled-events", {}, 400, "JSON array"),
        ("PATCH", "/nodes/node-a", {"colour": "red"}, 400, "unknown fields"),
        ("PATCH", "/nodes/node-a", {"v2_only": "yes"}, 400, "true or false"),
        ("PATCH", "/nodes/node-a", {"notice_ip_limit": True}, 400, "integer"),
    ],
)
def test_bad_control_calls_answer_a_status_and_a_clear_error(  # noqa: PLR0917 -- parameters
    http: requests.Session,
    control: str,
    method: str,
    path: str,
    body: object,
    status: int,
    error: str,
) -> None:
    answer = http.request(method, control + path, json=body)
    assert answer.status_code == status
    assert error in answer.json()["error"]


def test_a_control_body_that_is_not_json_is_a_bad_request(
    http: requests.Session, control: str
) -> None:
    answer = http.put(control + "/nodes/node-a/notice", data=b"{nope")
    assert (answer.status_code, answer.json()) == (400, {"error": "the request body is not JSON"})


def test_the_simulator_runs_standalone_and_stops_cleanly_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "devtools.imds", "--node", "n1", "--notice", "n2"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        assert set(announced["nodes"]) == {"n1", "n2"}
        with requests.Session() as http:
            n2 = announced["nodes"]["n2"]
            token = get_token(http, n2)
            assert get(http, n2, INSTANCE_ACTION, token).json()["action"] == "terminate"
            n1 = announced["nodes"]["n1"]
            assert get(http, n1, INSTANCE_ACTION, get_token(http, n1)).status_code == 404
            summary = http.get(announced["url"] + "/_control/nodes/n2").json()
            assert summary["requests"] == 2
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert stderr == ""
