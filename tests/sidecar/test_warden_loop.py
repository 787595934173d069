"""The warden's bookkeeping, over a stand-in API server: it keeps only the moves under way that
its watch shows, reads one again only when it could be stuck, and leads it only then."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from sidecar.adapters.apiserver import JSON, ApiServer
from sidecar.core.times import format_micro_time
from sidecar.metrics import Metrics
from sidecar.shutdown import Shutdown
from sidecar.warden import Warden
from sidecar.warden_lead import Key, Runner
from sidecar.warden_settings import WardenSettings
from spot_common import contract
from spot_common.api_errors import NotFound
from spot_common.contract import State
from tests.sidecar.core.builders import NOW

TERM = timedelta(seconds=15)
KEY: Key = ("shop", "web")
DEPLOYMENT = "/apis/apps/v1/namespaces/shop/deployments/web"
LEASE = "/apis/coordination.k8s.io/v1/namespaces/shop/leases/spot-failover-web"


class StandIn(ApiServer):
    """Answers GETs from ``objects`` by path (404 for the rest), and counts them."""

    def __init__(self) -> None:
        self.objects: dict[str, JSON] = {}
        self.gets: list[str] = []

    def fork(self) -> ApiServer:
        return self

    def request(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> JSON:
        del params, body, content_type
        assert method == "GET", "the warden's own loop only reads"
        self.gets.append(path)
        if path not in self.objects:
            raise NotFound(operation, "not found", 404)
        return self.objects[path]


def deployment(state: str | None, **annotations: str) -> JSON:
    found = {contract.ENABLED: "true", **annotations}
    if state is not None:
        found[contract.STATE] = state
    return {
        "type": "MODIFIED",
        "object": {
            "metadata": {
                "namespace": "shop",
                "name": "web",
                "resourceVersion": "7",
                "annotations": found,
            }
        },
    }


def lease(holder: str, renewed: datetime) -> JSON:
    return {
        "metadata": {"resourceVersion": "3"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 15,
            "renewTime": format_micro_time(renewed),
        },
    }


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def led() -> list[tuple[Key, State]]:
    return []


@pytest.fixture
def api() -> StandIn:
    return StandIn()


@pytest.fixture
def warden(
    api: StandIn, clock: Clock, led: list[tuple[Key, State]], monkeypatch: pytest.MonkeyPatch
) -> Warden:
    monkeypatch.setenv("SPOT_FAILOVER_LEASE_DURATION_S", "15")

    def make_runner(key: Key, state: State) -> Runner:
        led.append((key, state))
        shutdown = Shutdown()
        waits = threading.Thread(target=shutdown.requested.wait, daemon=True)
        return Runner(shutdown, waits, settled=lambda: False)

    settings = WardenSettings(pod_name="spot-failover-warden-6c5d8-x7k2p")
    return Warden(settings, api, clock, Metrics(), make_runner=make_runner)


def test_only_opted_in_moves_under_way_are_followed(warden: Warden) -> None:
    warden.seen(deployment("Migrating"))
    assert warden.following() == {KEY: State.MIGRATING}

    warden.seen(deployment("Migrating", **{contract.PAUSED: "true"}))
    assert warden.following() == {}
    warden.seen(deployment("FailingBack"))
    assert warden.following() == {KEY: State.FAILING_BACK}
    warden.seen(deployment("OnFargate"))
    assert warden.following() == {}
    warden.seen({**deployment("Migrating"), "type": "DELETED"})
    assert warden.following() == {}


def test_a_move_a_live_sidecar_leads_is_read_again_only_when_it_could_be_stuck(
    warden: Warden, api: StandIn, clock: Clock, led: list[tuple[Key, State]]
) -> None:
    api.objects[DEPLOYMENT] = deployment("Migrating")["object"]
    api.objects[LEASE] = lease("web-7d9f8c6b5-x2b4q", NOW)
    warden.seen(deployment("Migrating"))

    warden.step()
    clock.now = NOW + 2 * TERM - timedelta(seconds=1)
    warden.step()

    assert api.gets == [DEPLOYMENT, LEASE]
    assert led == []


def test_a_move_whose_lease_nobody_renews_is_led_once_a_term_after_its_end(
    warden: Warden, api: StandIn, clock: Clock, led: list[tuple[Key, State]]
) -> None:
    api.objects[DEPLOYMENT] = deployment("Migrating")["object"]
    api.objects[LEASE] = lease("web-7d9f8c6b5-x2b4q", NOW)
    warden.seen(deployment("Migrating"))
    warden.step()

    clock.now = NOW + 2 * TERM
    warden.step()
    warden.step()

    assert led == [(KEY, State.MIGRATING)]
    assert api.gets == [DEPLOYMENT, LEASE, DEPLOYMENT, LEASE]
    warden.seen(deployment("RolledBack"))
    assert warden.following() == {}


def test_a_move_that_settled_since_the_watch_showed_it_is_forgotten_on_reading(
    warden: Warden, api: StandIn, led: list[tuple[Key, State]]
) -> None:
    api.objects[DEPLOYMENT] = deployment("RolledBack")["object"]
    warden.seen(deployment("Migrating"))

    warden.step()

    assert warden.following() == {}
    assert led == []
