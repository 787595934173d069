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

Which pods are missing the sidecar, and the Event, are :mod:`webhook.core.missing_sidecars`'s;
two webhook replicas that find the same pods write one Event (the second gets "already exists").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from spot_common.api_errors import ApiError
from webhook.adapters.kube import Kube
from webhook.core.missing_sidecars import MissingPod, event, missing_pods
from webhook.core.owners import DeploymentFacts, OwnerCache
from webhook.core.selection import SelectionConfig
from webhook.metrics import Metrics

log = logging.getLogger(__name__)


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
