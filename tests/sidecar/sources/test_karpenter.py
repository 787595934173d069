"""Karpenter's record as a signal source: nothing is asked while the Node is not being removed;
once it is, one list of its Events answers the poll that found it, and a watch brings the
records that come later; a list that fails is retried."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

from devtools.controlplane.waiting import wait_for
from sidecar.adapters.kube import Kube
from sidecar.core.signals import Kind, Source
from sidecar.sources import PollContext
from sidecar.sources.karpenter import WATCH_S, KarpenterSource
from spot_common.api_errors import Forbidden
from tests.sidecar.core.test_node_events import NODE, UID, event

NOW = datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)
ON_SPOT = PollContext(on_fargate=False, wanted=frozenset({Kind.INTERRUPTION}))
END = object()


class ScriptedEvents:
    """The Node's Events as the API server would serve them: a list, then watch events put
    on a queue by the test; every request counted."""

    def __init__(self, listed: list[dict[str, Any]], *, refusals: int = 0) -> None:
        self.listed = listed
        self.refusals = refusals
        self.lists = 0
        self.watches: list[str] = []
        self.pushed: queue.Queue[object] = queue.Queue()
        self.closed = False

    def list_node_events(self, node: str) -> tuple[list[dict[str, Any]], str | None]:
        assert node == NODE
        self.lists += 1
        if self.refusals:
            self.refusals -= 1
            raise Forbidden("list events", "HTTP 403: forbidden", 403)
        return list(self.listed), "100"

    def watch_node_events(
        self, node: str, resource_version: str, timeout_s: float
    ) -> Iterator[dict[str, Any]]:
        assert (node, timeout_s) == (NODE, WATCH_S)
        self.watches.append(resource_version)
        while not self.closed:
            item = self.pushed.get()
            if item is END:
                self.closed = True  # and every later watch ends at once: the test is over
                return
            yield cast("dict[str, Any]", item)


def source(
    events: ScriptedEvents, disrupted: threading.Event, *, retry_s: float = 5.0
) -> KarpenterSource:
    return KarpenterSource(
        cast("Kube", events),
        NODE,
        disrupted=disrupted.is_set,
        node_uid=lambda: UID,
        retry_s=retry_s,
        ready_s=2.0,
    )


def test_while_the_node_is_not_being_removed_nothing_is_asked() -> None:
    events = ScriptedEvents([event()])
    with source(events, threading.Event()) as karpenter:
        assert karpenter.poll(NOW, ON_SPOT) is None
        assert karpenter.poll(NOW, ON_SPOT) is None
    assert (events.lists, events.watches) == (0, [])


def test_a_record_made_before_the_taint_answers_the_poll_that_sees_the_node_disrupted() -> None:
    events, disrupted = ScriptedEvents([event()]), threading.Event()
    disrupted.set()
    with source(events, disrupted) as karpenter:
        signal = karpenter.poll(NOW, ON_SPOT)
        events.pushed.put(END)

    assert signal is not None
    assert (signal.source, signal.kind) == (Source.NODE_EVENT, Kind.INTERRUPTION)
    assert events.lists == 1


def test_a_record_made_after_the_taint_comes_through_the_watch() -> None:
    consolidating = event(
        "DisruptionTerminating", kind="Normal", message="Disrupting Node: Underutilized"
    )
    events, disrupted = ScriptedEvents([consolidating]), threading.Event()
    disrupted.set()
    with source(events, disrupted) as karpenter:
        assert karpenter.poll(NOW, ON_SPOT) is None
        wait_for(lambda: events.watches == ["100"], 5, "a watch from the list's version")

        events.pushed.put({"type": "ADDED", "object": event("TerminatingOnInterruption")})

        signal = wait_for(lambda: karpenter.poll(NOW, ON_SPOT), 5, "the record")
        events.pushed.put(END)
    assert signal.detail.startswith("Event TerminatingOnInterruption")


def test_a_refused_list_is_asked_again_after_a_pause() -> None:
    events, disrupted = ScriptedEvents([event()], refusals=1), threading.Event()
    disrupted.set()
    with source(events, disrupted, retry_s=0.05) as karpenter:
        assert karpenter.poll(NOW, ON_SPOT) is None  # refused: the RBAC is not there yet

        signal = wait_for(lambda: karpenter.poll(NOW, ON_SPOT), 5, "the record, listed again")
        events.pushed.put(END)
    assert signal.kind is Kind.INTERRUPTION
    assert events.lists == 2


def test_on_fargate_the_source_says_nothing() -> None:
    events, disrupted = ScriptedEvents([event()]), threading.Event()
    disrupted.set()
    with source(events, disrupted) as karpenter:
        fargate = PollContext(on_fargate=True, wanted=frozenset(Kind))
        assert karpenter.poll(NOW, fargate) is None
    assert events.lists == 0
