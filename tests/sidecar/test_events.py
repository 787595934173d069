"""A report made once (IMDS unreachable, a stranger on the Lease) is not lost to a refusal:
a sidecar may start before its RBAC exists. It is tried again at later ticks, after a growing
pause, until recorded or given up; an Event recorded at once is never sent again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sidecar.events import RETRY_FIRST_S, RETRY_TRIES, Events
from sidecar.memory import Memory
from sidecar.settings import Settings
from spot_common.api_errors import Forbidden

from .test_settings import _settings

START = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)


class RefusingKube:
    """Refuses the first ``refusals`` Events, then records them."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.recorded: list[str] = []
        self.tried = 0

    def record_event(self, _body: Any, *, reason: str, **_: Any) -> None:
        self.tried += 1
        if self.refusals > 0:
            self.refusals -= 1
            raise Forbidden("create event", "events is forbidden", 403)
        self.recorded.append(reason)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    return _settings(monkeypatch)


def events(kube: RefusingKube, settings: Settings, clock: Clock) -> Events:
    return Events(kube, settings, clock, Memory())  # type: ignore[arg-type]


def test_a_report_refused_at_first_is_recorded_once_the_rights_are_there(
    settings: Settings,
) -> None:
    kube, clock = RefusingKube(refusals=2), Clock()
    reporter = events(kube, settings, clock)

    reporter.imds_unreachable("IMDS is unreachable from this pod")
    reporter.retry_pending()  # too early: nothing asked
    assert kube.tried == 1
    clock.now += timedelta(seconds=RETRY_FIRST_S)
    reporter.retry_pending()  # refused again
    clock.now += timedelta(seconds=2 * RETRY_FIRST_S)
    reporter.retry_pending()
    clock.now += timedelta(hours=1)
    reporter.retry_pending()

    assert kube.recorded == ["ImdsUnreachable"]
    assert kube.tried == 3


def test_a_report_recorded_at_once_is_not_sent_again(settings: Settings) -> None:
    kube, clock = RefusingKube(refusals=0), Clock()
    reporter = events(kube, settings, clock)

    reporter.lease_stranger("held by someone else")
    clock.now += timedelta(hours=1)
    reporter.retry_pending()

    assert kube.recorded == ["LeaseHeldByStranger"]
    assert kube.tried == 1


def test_a_report_refused_for_good_is_given_up_after_its_tries(settings: Settings) -> None:
    kube, clock = RefusingKube(refusals=1000), Clock()
    reporter = events(kube, settings, clock)

    reporter.imds_unreachable("IMDS is unreachable from this pod")
    for _ in range(3 * RETRY_TRIES):
        clock.now += timedelta(hours=1)
        reporter.retry_pending()

    assert kube.tried == RETRY_TRIES
    assert kube.recorded == []
