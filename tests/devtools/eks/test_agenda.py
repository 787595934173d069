"""The simulators' agenda: actions run when due, one per key, failed ones again later."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from devtools.controlplane.waiting import wait_for
from devtools.eks import agenda as agenda_module
from devtools.eks.agenda import Agenda


@pytest.fixture
def agenda(monkeypatch: pytest.MonkeyPatch) -> Iterator[Agenda]:
    monkeypatch.setattr(agenda_module, "RETRY_S", 0.01)
    running = Agenda("test-agenda")
    running.start()
    yield running
    running.stop()


def test_actions_run_in_the_order_they_are_due(agenda: Agenda) -> None:
    ran: list[str] = []
    agenda.after(0.2, "late", lambda: ran.append("late"))
    agenda.after(0.0, "early", lambda: ran.append("early"))

    wait_for(lambda: len(ran) == 2, 10, "both actions")

    assert ran == ["early", "late"]


def test_a_new_action_replaces_the_one_of_its_key_and_cancel_drops_it(agenda: Agenda) -> None:
    ran: list[str] = []
    gate = threading.Event()

    def hold() -> None:
        gate.wait()

    agenda.after(0.0, "gate", hold)
    agenda.after(0.0, "k", lambda: ran.append("first"))
    agenda.after(0.0, "k", lambda: ran.append("second"))
    agenda.after(0.0, "dropped", lambda: ran.append("dropped"))
    agenda.cancel("dropped")
    agenda.after(0.0, "last", lambda: ran.append("last"))
    gate.set()

    wait_for(lambda: "last" in ran, 10, "the last action")

    assert ran == ["second", "last"]


def test_a_failing_action_runs_again_until_it_succeeds(agenda: Agenda) -> None:
    attempts: list[int] = []

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("the API server is restarting")

    agenda.after(0.0, "flaky", flaky)

    wait_for(lambda: len(attempts) == 3, 10, "a third attempt")
    assert not agenda.pending("flaky")
