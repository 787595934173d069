"""Karpenter's record of a spot interruption, read from the Events about a Node: only its
Warning Events SpotInterrupted and TerminatingOnInterruption about this very Node count."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sidecar.core import node_events
from sidecar.core.signals import Kind, Source

NOW = datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)
NODE, UID = "ip-10-0-1-17.ec2.internal", "uid-now"


def event(
    reason: str = "SpotInterrupted",
    *,
    kind: str = "Warning",
    about: str = "Node",
    name: str = NODE,
    uid: str | None = UID,
    first: str = "2026-01-02T15:04:00Z",
    message: str = "Spot interruption warning was triggered",
) -> dict[str, Any]:
    involved = {"apiVersion": "v1", "kind": about, "name": name}
    if uid is not None:
        involved["uid"] = uid
    return {
        "metadata": {"name": f"{name}.{reason}", "namespace": "default"},
        "involvedObject": involved,
        "type": kind,
        "reason": reason,
        "message": message,
        "source": {"component": "karpenter"},
        "firstTimestamp": first,
    }


def test_karpenter_s_spot_interruption_warning_is_an_interruption_of_the_node() -> None:
    signal = node_events.interruption([event()], NODE, UID, NOW)

    assert signal is not None
    assert (signal.node, signal.source, signal.kind) == (NODE, Source.NODE_EVENT, Kind.INTERRUPTION)
    assert signal.detail == (
        "Event SpotInterrupted from karpenter: Spot interruption warning was triggered"
    )


def test_the_earliest_record_is_the_one_reported() -> None:
    later = event("SpotInterrupted", first="2026-01-02T15:04:03Z")
    earlier = event(
        "TerminatingOnInterruption",
        first="2026-01-02T15:04:01Z",
        message="Interruption triggered termination for the Node",
    )

    signal = node_events.interruption([later, earlier], NODE, UID, NOW)

    assert signal is not None
    assert signal.detail.startswith("Event TerminatingOnInterruption")


@pytest.mark.parametrize(
    "other",
    [
        event("DisruptionTerminating", kind="Normal", message="Disrupting Node: Underutilized"),
        event("SpotRebalanceRecommendation"),
        event("SpotInterrupted", kind="Normal"),
        event("SpotInterrupted", about="NodeClaim"),
        event("SpotInterrupted", name="ip-10-0-1-18.ec2.internal"),
        event("SpotInterrupted", uid="uid-of-an-earlier-instance-of-that-name"),
        {"involvedObject": "not an object", "type": "Warning", "reason": "SpotInterrupted"},
    ],
    ids=[
        "a consolidation",
        "a rebalance recommendation",
        "a Normal event",
        "about the NodeClaim",
        "about another node",
        "about an earlier node of the same name",
        "malformed",
    ],
)
def test_nothing_else_records_an_interruption(other: dict[str, Any]) -> None:
    assert node_events.interruption([other], NODE, UID, NOW) is None


def test_an_event_without_a_uid_or_before_the_node_is_read_is_taken_by_name() -> None:
    assert node_events.interruption([event(uid=None)], NODE, UID, NOW) is not None
    assert node_events.interruption([event()], NODE, None, NOW) is not None


def test_the_api_server_is_asked_only_for_the_warning_events_about_this_node() -> None:
    assert node_events.field_selector(NODE) == (
        f"involvedObject.kind=Node,involvedObject.name={NODE},type=Warning"
    )
