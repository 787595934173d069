"""Karpenter's record of a spot interruption, read purely from the Events about a Node.

Karpenter taints every node it disrupts with ``karpenter.sh/disrupted``, for a spot interruption
as for a consolidation, so the taint alone does not say which (:mod:`sidecar.core.node_signal`).
What tells them apart is what Karpenter records on the Node when the interruption message
arrives: the Warning Events ``SpotInterrupted`` ("Spot interruption warning was triggered") and
``TerminatingOnInterruption``. Node Events live in the ``default`` namespace
(:data:`spot_common.contract.NODE_EVENTS_NAMESPACE`).

Node names come back: EKS names a node after its instance's private address, and a later
instance may get the same one while the Events of the last one are still kept (an hour by
default). An Event names the Node's uid, so one about another instance of that name is not
this Node's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sidecar.core import objects
from sidecar.core.errors import MalformedObjectError
from sidecar.core.objects import JSONObject
from sidecar.core.signals import Interruption, Kind, Source
from sidecar.core.times import require_utc

INTERRUPTION_REASONS: Final = frozenset({"SpotInterrupted", "TerminatingOnInterruption"})
"""Reasons of Karpenter's Warning Events on a Node whose instance is being reclaimed."""
FIELD_SELECTOR_TEMPLATE: Final = "involvedObject.kind=Node,involvedObject.name={node},type=Warning"
"""The Events that may record an interruption of one Node, as the API server selects them."""


def field_selector(node: str) -> str:
    """The field selector of the Warning Events about Node ``node``."""
    return FIELD_SELECTOR_TEMPLATE.format(node=node)


def records_interruption(event: JSONObject, node: str, node_uid: str | None) -> bool:
    """Whether ``event`` is Karpenter's record of a spot interruption of this Node (named
    ``node``, of uid ``node_uid`` when known; an Event naming no uid is taken by name)."""
    about = objects.child(event, "involvedObject", "event")
    if objects.text(about, "kind", "event.involvedObject") != "Node":
        return False
    if objects.text(about, "name", "event.involvedObject") != node:
        return False
    uid = objects.text(about, "uid", "event.involvedObject")
    if uid and node_uid and uid != node_uid:
        return False
    return (
        objects.text(event, "type", "event") == "Warning"
        and objects.text(event, "reason", "event") in INTERRUPTION_REASONS
    )


def interruption(
    events: Iterable[JSONObject], node: str, node_uid: str | None, now: datetime
) -> Interruption | None:
    """The interruption the Events record for this Node, if any (the earliest such Event).
    An Event of a shape the API would not return is not a record of anything."""
    now = require_utc(now, "now")
    found = [event for event in events if _records(event, node, node_uid)]
    if not found:
        return None
    first = min(found, key=_when)
    reason, message = _string(first, "reason"), _string(first, "message")
    source = first.get("source")
    reporter = _string(first, "reportingComponent") or (
        _string(source, "component") if isinstance(source, dict) else ""
    )
    return Interruption(
        node=node,
        source=Source.NODE_EVENT,
        kind=Kind.INTERRUPTION,
        seen_at=now,
        detail=f"Event {reason} from {reporter or '?'}: {message}".rstrip(": "),
    )


def _records(event: JSONObject, node: str, node_uid: str | None) -> bool:
    try:
        return records_interruption(event, node, node_uid)
    except MalformedObjectError:
        return False


def _when(event: JSONObject) -> tuple[str, str]:
    """When the Event was first recorded (RFC 3339 sorts as text), then its name."""
    metadata = event.get("metadata")
    name = _string(metadata, "name") if isinstance(metadata, dict) else ""
    return _string(event, "firstTimestamp") or _string(event, "eventTime"), name


def _string(obj: JSONObject, key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""
