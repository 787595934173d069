"""Deployments as the API returns them, with annotations exactly as the sidecar writes them.

The values come from the sidecar's own serialisers (``format_time``, ``dump_history``,
``Notice.to_json``, ``to_fargate``), so the command is tested on what it will really read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sidecar.core.annotations import Notice
from sidecar.core.fargate import to_fargate
from sidecar.core.history import HistoryEntry, dump_history
from sidecar.core.signals import Kind, Source
from sidecar.core.times import format_time
from spot_common import contract
from spot_common.contract import ComputeType, State

NOW = datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)
NODE = "ip-10-0-1-17.ec2.internal"
FARGATE_LABELS = {"spot-failover/fargate": "true"}


def deployment(
    name: str = "web", namespace: str = "shop", annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A Deployment with exactly ``annotations`` (none: not opted in)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "resourceVersion": "7"}
    if annotations is not None:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {"replicas": 3, "template": spot_template()},
    }


def opted_in(name: str = "web", namespace: str = "shop", **extra: str) -> dict[str, Any]:
    """An opted-in Deployment with ``extra`` annotations (``spot-failover/`` prefix added)."""
    annotations = {contract.ENABLED: "true"}
    annotations.update({contract.PREFIX + key.replace("_", "-"): v for key, v in extra.items()})
    return deployment(name, namespace, annotations)


def spot_template() -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "containers": [{"name": "web", "image": "nginx:1.27"}],
            "nodeSelector": {"eks.amazonaws.com/capacityType": "SPOT"},
            "tolerations": [{"key": "karpenter.sh/capacity-type", "operator": "Exists"}],
        },
    }


def notice(node: str = NODE, kind: Kind = Kind.INTERRUPTION) -> Notice:
    return Notice(
        node=node,
        source=str(Source.IMDS_INSTANCE_ACTION),
        kind=kind,
        action="terminate" if kind is Kind.INTERRUPTION else None,
        time=NOW + timedelta(minutes=2),
    )


def saved_scheduling() -> str:
    """What a real move of :func:`spot_template` to Fargate saves."""
    _, saved = to_fargate(spot_template(), FARGATE_LABELS, None)
    return saved.to_json()


def entry(
    from_state: State, to_state: State, at: datetime, reason: str = "", by: str = "web-1"
) -> HistoryEntry:
    return HistoryEntry(at, from_state, to_state, reason or f"{from_state} to {to_state}", by)


def moved(
    state: State,
    *,
    since: datetime,
    message: str = "",
    history: Sequence[HistoryEntry] = (),
    name: str = "web",
    namespace: str = "shop",
    **extra: str,
) -> dict[str, Any]:
    """A Deployment the sidecar has put in ``state`` at ``since``, as one transition writes it."""
    on_fargate = state in {State.MIGRATING, State.ON_FARGATE}
    annotations = {
        contract.ENABLED: "true",
        contract.STATE: str(state),
        contract.COMPUTE_TYPE: str(ComputeType.FARGATE if on_fargate else ComputeType.SPOT),
        contract.LAST_TRANSITION: format_time(since),
        contract.MESSAGE: message or f"now {state}",
        contract.HISTORY: dump_history(history),
    }
    if on_fargate or state is State.FAILING_BACK:
        annotations[contract.SAVED_SCHEDULING] = saved_scheduling()
        annotations[contract.NOTICE] = notice().to_json()
    annotations.update({contract.PREFIX + key.replace("_", "-"): v for key, v in extra.items()})
    return deployment(name, namespace, annotations)
