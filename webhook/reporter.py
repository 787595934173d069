"""Reports pods of opted-in Deployments that run without the sidecar.

``failurePolicy: Ignore`` means that while the webhook is down or too slow, pods are created
without the sidecar, silently. Those pods take no part in failover; someone must hear about it.
Every ``report_interval_s`` this module lists the pods of each opted-in Deployment (one LIST per
Deployment, from the API server's watch cache), finds those that selection would have injected
but that have no sidecar, and reports each such pod once: a Warning Event ``SidecarMissing`` on
the Deployment, naming the pods and the fix, and the metrics
``spot_failover_webhook_uninjected_pods`` (now) and ``..._uninjected_pods_reported_total``.

Pods are listed rather than watched: a cluster-wide pod watch would put every pod status change
of the cluster on the same event loop that answers admission reviews.

The Event's name is derived from the Deployment and the pods' UIDs, so two webhook replicas that
find the same pods write one Event (the second gets "already exists").
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from spot_common.api_errors import ApiError
from webhook.kube import Kube
from webhook.metrics import Metrics
from webhook.owners import DeploymentFacts, OwnerCache
from webhook.rbac import bounded_name
from webhook.selection import Inject, SelectionConfig, controller_ref, decide

log = logging.getLogger(__name__)

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


class Reporter:
    def __init__(
        self,
        kube: Kube,
        cache: OwnerCache,
        selection: SelectionConfig,
        metrics: Metrics,
        *,
        instance: str,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.kube = kube
        self.cache = cache
        self.selection = selection
        self.metrics = metrics
        self.instance = instance
        self.now = now
        self._reported: set[str] = set()
        """UIDs of pods already reported; forgotten once the pod is gone."""

    async def check(self) -> int:
        """One round; returns how many pods were newly reported. Never raises ApiError."""
        seen: set[str] = set()
        total = 0
        reported = 0
        for deployment in self.cache.deployments():
            if (
                not deployment.opted_in
                or deployment.namespace in self.selection.excluded_namespaces
            ):
                continue
            try:
                pods = await asyncio.to_thread(
                    self.kube.list_pods, deployment.namespace, deployment.selector
                )
                missing = missing_pods(pods, deployment, self.cache.deployment_of, self.selection)
                total += len(missing)
                seen.update(pod.uid for pod in missing)
                new = [pod for pod in missing if pod.uid not in self._reported]
                if new:
                    await self._report(deployment, new)
                    reported += len(new)
            except ApiError as error:
                self.metrics.errors.labels("reporter").inc()
                log.warning(
                    "could not check a Deployment's pods for the sidecar",
                    extra={
                        "namespace": deployment.namespace,
                        "deployment": deployment.name,
                        "error": str(error),
                    },
                )
                seen |= self._reported  # keep what we knew; nothing to forget on a failed list
        self._reported &= seen
        self.metrics.uninjected_pods.set(total)
        return reported

    async def _report(self, deployment: DeploymentFacts, pods: list[MissingPod]) -> None:
        body = event(deployment, pods, self.now(), self.instance)
        await asyncio.to_thread(self.kube.create_event, deployment.namespace, body)
        self._reported.update(pod.uid for pod in pods)
        self.metrics.uninjected_reported.inc(len(pods))
        log.warning(
            "pods of an opted-in Deployment run without the sidecar",
            extra={
                "namespace": deployment.namespace,
                "deployment": deployment.name,
                "pods": sorted(pod.name for pod in pods),
            },
        )
