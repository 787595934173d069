"""Which pods of an opted-in Deployment run without the sidecar, and the Event that says so.

A pod counts as missing its sidecar when selection would inject it now (the same
:func:`~webhook.core.selection.decide` admission runs) but it has none: the webhook was down or
too slow when it was created, or it predates the opt-in. The Event's name is derived from the
Deployment and the pods' UIDs, so two webhook replicas that find the same pods write one Event.
:mod:`webhook.reporter` lists the pods and posts the Event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from spot_common.contract import bounded_name
from webhook.core.owners import DeploymentFacts
from webhook.core.selection import Inject, SelectionConfig, controller_ref, decide

REASON: Final = "SidecarMissing"
COMPONENT: Final = "spot-failover-webhook"
_NAMES_SHOWN: Final = 10
_DONE_PHASES: Final = frozenset({"Succeeded", "Failed"})


@dataclasses.dataclass(frozen=True, slots=True)
class MissingPod:
    name: str
    uid: str


def missing_pods(
    pods: Iterable[Mapping[str, Any]],
    deployment: DeploymentFacts,
    deployment_of: Callable[[str, str], str | None],
    selection: SelectionConfig,
) -> list[MissingPod]:
    """The live pods of ``deployment`` that selection would inject but that lack the sidecar.

    ``deployment_of(namespace, replicaset)`` says which Deployment controls a ReplicaSet; pods
    whose ReplicaSet is unknown are left for the next check.
    """
    found = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        ref = controller_ref(pod)
        if meta.get("deletionTimestamp") or status.get("phase") in _DONE_PHASES or ref is None:
            continue
        if (
            not ref.is_replicaset
            or deployment_of(deployment.namespace, ref.name) != deployment.name
        ):
            continue
        decision = decide(pod, deployment.owner(), selection, namespace=deployment.namespace)
        if isinstance(decision, Inject):
            found.append(MissingPod(str(meta.get("name", "")), str(meta.get("uid", ""))))
    return found


def event(
    deployment: DeploymentFacts, pods: list[MissingPod], now: dt.datetime, instance: str
) -> dict[str, Any]:
    """The Warning Event on ``deployment`` for ``pods`` (core/v1: ``kubectl describe`` shows it)."""
    names = sorted(pod.name for pod in pods)
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else ""
    count = f"{len(names)} pod{'s' if len(names) != 1 else ''}"
    verbs = ("runs", "takes") if len(names) == 1 else ("run", "take")
    message = (
        f"{count} of this Deployment {verbs[0]} without the spot-failover sidecar and "
        f"{verbs[1]} no part in "
        f"spot failover: {shown}{more}. The injector was unavailable or too slow when they were "
        "created, or they predate the opt-in. Run `kubectl rollout restart deployment/"
        f"{deployment.name} -n {deployment.namespace}` to recreate them with the sidecar."
    )
    digest = hashlib.sha256(",".join(sorted(pod.uid for pod in pods)).encode()).hexdigest()[:16]
    timestamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": bounded_name(f"{deployment.name}.spot-failover-missing-{digest}"),
            "namespace": deployment.namespace,
        },
        "involvedObject": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": deployment.name,
            "namespace": deployment.namespace,
            "uid": deployment.uid,
        },
        "reason": REASON,
        "message": message[:1024],
        "type": "Warning",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
    }
