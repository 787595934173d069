"""The sidecar's IMDS client against the simulator: tokens, notices, retries and every failure."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from devtools.imds import ImdsSimulator
from sidecar.adapters.imds import (
    ImdsClient,
    ImdsError,
    ImdsMalformed,
    ImdsRefused,
    ImdsTokenTimeout,
    ImdsUnavailable,
    ImdsUnreachable,
    InstanceAction,
)
from tests.devtools.imds.clock import ManualClock

META = "/latest/meta-data"
INSTANCE_ACTION = META + "/spot/instance-action"
TOKEN_PATH = "/latest/api/token"

MakeClient = Callable[..., ImdsClient]


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff delays the client asked for; nothing actually sleeps."""
    return []


@pytest.fixture
def make_client(
    sim: ImdsSimulator, clock: ManualClock, sleeps: list[float]
) -> Iterator[MakeClient]:
    clients: list[ImdsClient] = []

    def make(node: str = "node-a", **options: object) -> ImdsClient:
        settings: dict[str, object] = {
            "timeout_s": 0.5,
            "clock": clock,
            "sleep": sleeps.append,
            "jitter": lambda: 0.5,
        }
        settings.update(options)
        client = ImdsClient(sim.base_url(node), **settings)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_no_notice_is_none(make_client: MakeClient) -> None:
    client = make_client()
    assert client.instance_action() is None
    assert client.rebalance() is None


def test_a_notice_is_parsed_into_an_action_and_an_aware_utc_time(
    sim: ImdsSimulator, make_client: MakeClient
) -> None:
    sim.set_notice("node-a", "stop")
    assert make_client().instance_action() == InstanceAction(
        "stop", datetime(2026, 1, 2, 15, 2, tzinfo=UTC)
    )


def test_a_rebalance_recommendation_is_its_notice_time(
    sim: ImdsSimulator, make_client: MakeClient
) -> None:
    sim.set_rebalance("node-a")
    assert make_client().rebalance() == datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


def test_identity_is_the_instance_id_and_life_cycle(
    sim: ImdsSimulator, make_client: MakeClient
) -> None:
    sim.add_node("od", instance_id="i-0123456789abcdef0", life_cycle="on-demand")
    client = make_client("od")
    assert client.instance_id() == "i-0123456789abcdef0"
    assert client.life_cycle() == "on-demand"
    assert make_client().life_cycle() == "spot"


def test_the_token_is_fetched_once_and_reused(sim: ImdsSimulator, make_client: MakeClient) -> None:
    client = make_client()
    for _ in range(3):
        client.instance_action()
    assert sim.count("node-a", TOKEN_PATH) == 1
    assert sim.count("node-a", INSTANCE_ACTION, status=404) == 3


def test_the_token_is_refreshed_fifteen_seconds_before_it_expires(
    sim: ImdsSimulator, make_client: MakeClient, clock: ManualClock
) -> None:
    client = make_client(token_ttl_s=60)
    client.instance_action()
    clock.advance(44)
    client.instance_action()
    assert sim.count("node-a", TOKEN_PATH) == 1
    clock.advance(1)
    client.instance_action()
    assert sim.count("node-a", TOKEN_PATH) == 2
    assert sim.count("node-a", status=401) == 0


def test_a_401_drops_the_token_and_retries_once_with_a_new_one(
    sim: ImdsSimulator, make_client: MakeClient, sleeps: list[float]
) -> None:
    client = make_client()
    client.instance_action()
    sim.revoke_tokens("node-a")
    sim.set_notice("node-a")
    assert client.instance_action() is not None
    assert [(r.method, r.status) for r in sim.requests("node-a")][2:] == [
        ("GET", 401),
        ("PUT", 200),
        ("GET", 200),
    ]
    assert sleeps == []


def test_retries_ride_out_a_few_5xx(
    sim: ImdsSimulator, make_client: MakeClient, sleeps: list[float]
) -> None:
    sim.set_fault("node-a", "error", status=503, count=2, path=INSTANCE_ACTION)
    assert make_client(backoff_s=0.2).instance_action() is None
    assert sim.count("node-a", INSTANCE_ACTION) == 3
    assert sleeps == pytest.approx([0.15, 0.3])  # equal jitter at 0.5: 3/4 of 0.2, then of 0.4


def test_5xx_on_every_try_is_unavailable(
    sim: ImdsSimulator, make_client: MakeClient, sleeps: list[float]
) -> None:
    sim.set_fault("node-a", "error", path=INSTANCE_ACTION)
    with pytest.raises(ImdsUnavailable, match=r"HTTP 500 on all 3 tries"):
        make_client().instance_action()
    assert sim.count("node-a", INSTANCE_ACTION) == 3
    assert len(sleeps) == 2


def test_a_5xx_on_the_token_put_is_retried_like_any_other(
    sim: ImdsSimulator, make_client: MakeClient
) -> None:
    sim.set_fault("node-a", "error", count=1, path=TOKEN_PATH)
    assert make_client().instance_action() is None
    assert [r.status for r in sim.requests("node-a", TOKEN_PATH)] == [500, 200]


def test_a_token_put_failing_on_every_try_is_unavailable(
    sim: ImdsSimulator, make_client: MakeClient
) -> None:
    sim.set_fault("node-a", "error", status=503, path=TOKEN_PATH)
    with pytest.raises(ImdsUnavailable, match="token request answered HTTP 503 on all 3 tries"):
        make_client().instance_action()
    assert sim.count("node-a", INSTANCE_ACTION) == 0


def test_slow_answers_past_the_timeout_are_unavailable(
    sim: ImdsSimulator, make_client: MakeClient
) -> None:
    sim.set_fault("node-a", "slow", seconds=5, path=INSTANCE_ACTION)
    started = time.monotonic()
    with pytest.raises(ImdsUnavailable, match=r"timed out after 0.1 s on all 2 tries"):
        make_client(timeout_s=0.1, retries=2).instance_action()
    assert time.monotonic() - started < 1.5


def test_slow_answers_within_the_timeout_are_fine(
    sim: ImdsSimulator, make_client: MakeClient
) -> None:
    sim.set_fault("node-a", "slow", seconds=0.05, path=INSTANCE_ACTION)
    assert make_client(timeout_s=1).instance_action() is None


@pytest.mark.parametrize("path", [INSTANCE_ACTION, META + "/events/recommendations/rebalance"])
def test_a_malformed_body_is_malformed_naming_the_path_and_an_excerpt(
    sim: ImdsSimulator, make_client: MakeClient, path: str
) -> None:
    sim.set_fault("node-a", "malformed", body="<html>" + "x" * 500)
    client = make_client()
    call = client.instance_action if path == INSTANCE_ACTION else client.rebalance
    with pytest.raises(ImdsMalformed) as caught:
        call()
    assert caught.value.path == path
    assert path in str(caught.value)
    assert "'<html>xxx" in str(caught.value)
    assert "(506 chars)" in str(caught.value)
    assert sim.count("node-a", path) == 1  # not retried: it would say the same again


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"action": "explode", "time": "2026-01-02T15:02:00Z"}', "'action' is not one of"),
        ('{"action": "terminate", "time": "in two minutes"}', "RFC 3339"),
        ("\udcff", "not UTF-8"),
    ],
)
def test_a_notice_of_the_wrong_shape_is_malformed(
    sim: ImdsSimulator, make_client: MakeClient, body: str, problem: str
) -> None:
    sim.set_fault("node-a", "malformed", body=body)
    with pytest.raises(ImdsMalformed, match=problem):
        make_client().instance_action()


def test_an_instance_id_of_the_wrong_shape_is_malformed(
    sim: ImdsSimulator, make_client: MakeClient
) -> None:
    sim.add_node("odd", instance_id="not-an-id")
    with pytest.raises(ImdsMalformed, match="instance-id"):
        make_client("odd").instance_id()


def test_a_hung_token_put_is_unreachable_quickly_and_names_the_hop_limit(
    sim: ImdsSimulator, make_client: MakeClient
) -> None:
    sim.set_fault("node-a", "hang-token")
    started = time.monotonic()
    with pytest.raises(ImdsTokenTimeout) as caught:
        make_client(timeout_s=0.2).instance_action()
    assert time.monotonic() - started < 1.0
    assert isinstance(caught.value, ImdsUnreachable)
    assert "hop limit of 1" in str(caught.value)
    assert "hop limit to 2" in str(caught.value)
    assert "node signal source" in str(caught.value)
    assert sim.count("node-a", TOKEN_PATH) == 1  # no retries: each would cost a whole timeout
    assert sim.count("node-a", INSTANCE_ACTION) == 0


def test_a_refused_connection_is_unreachable_but_not_the_hop_limit(clock: ManualClock) -> None:
    with ImdsSimulator(["gone"], clock=clock) as stopped:
        url = stopped.base_url("gone")
    with (
        ImdsClient(url, timeout_s=0.5, clock=clock) as client,
        pytest.raises(ImdsUnreachable, match="cannot connect") as caught,
    ):
        client.instance_action()
    assert not isinstance(caught.value, ImdsTokenTimeout)


def test_a_node_imds_does_not_know_is_refused(sim: ImdsSimulator, clock: ManualClock) -> None:
    with (
        ImdsClient(sim.url + "/nodes/elsewhere", clock=clock) as client,
        pytest.raises(ImdsRefused, match="HTTP 404"),
    ):
        client.instance_action()


def test_v1_fallback_reads_without_a_token_when_allowed(
    sim: ImdsSimulator, make_client: MakeClient, clock: ManualClock
) -> None:
    sim.configure_node("node-a", v2_only=False)
    sim.set_fault("node-a", "hang-token")
    sim.set_notice("node-a")
    client = make_client(timeout_s=0.2, allow_v1_fallback=True)
    assert client.instance_action() is not None
    assert client.instance_action() is not None
    assert sim.count("node-a", TOKEN_PATH) == 1  # no PUT on every poll once fallen back
    clock.advance(300)
    sim.clear_faults("node-a")
    client.instance_action()
    assert [r.status for r in sim.requests("node-a", TOKEN_PATH)] == [None, 200]


def test_v1_fallback_is_off_by_default(sim: ImdsSimulator, make_client: MakeClient) -> None:
    sim.configure_node("node-a", v2_only=False)
    sim.set_fault("node-a", "hang-token")
    with pytest.raises(ImdsTokenTimeout):
        make_client(timeout_s=0.2).instance_action()
    assert sim.count("node-a", INSTANCE_ACTION) == 0


def test_v1_fallback_still_reports_the_hop_limit_on_a_v2_only_node(
    sim: ImdsSimulator, make_client: MakeClient
) -> None:
    sim.set_fault("node-a", "hang-token")
    with pytest.raises(ImdsTokenTimeout):
        make_client(timeout_s=0.1, allow_v1_fallback=True).instance_action()
    assert [r.status for r in sim.requests("node-a")] == [None, 401, None]


def test_every_error_is_an_imds_error() -> None:
    for error in (ImdsUnreachable, ImdsTokenTimeout, ImdsUnavailable, ImdsRefused, ImdsMalformed):
        assert issubclass(error, ImdsError)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"retries": 0}, "at least 1"), ({"token_ttl_s": 21601}, "1..21600")],
)
def test_the_client_rejects_impossible_settings(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ImdsClient(**options)  # type: ignore[arg-type]
