"""A pod's owning Deployment at admission: the cache first, a bounded direct lookup on a miss.

The controller manager creates a ReplicaSet and, milliseconds later, its pods; the webhook's
watch may not have delivered the ReplicaSet yet. On such a miss the owner is read from the API
server directly (the ReplicaSet, then its Deployment if that is not cached either), within
``timeout_s`` for the whole lookup. When time runs out or the API fails, the answer is
:class:`~webhook.core.selection.LookupFailed`, and selection lets the pod through without the
sidecar (the reporter later says so on the Deployment): a slow API server must never slow down
or block pod creation.

Concurrent misses for the same ReplicaSet (a Deployment scaled to 50 creates 50 pods at once)
share one lookup. Results of direct lookups are not written into the cache: the watch delivers
the same objects moments later, and an entry written from the side could outlive a deletion the
watch has already seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from spot_common.api_errors import ApiError, NotFound
from webhook.adapters.kube import Kube
from webhook.core.owners import Miss, OwnerCache, deployment_facts, replicaset_facts
from webhook.core.selection import ControllerRef, LookupFailed, OwnerResolution

log = logging.getLogger(__name__)


class OwnerLookup:
    def __init__(
        self,
        cache: OwnerCache,
        kube: Kube,
        timeout_s: float,
        on_result: Callable[[str], None] | None = None,
    ) -> None:
        self.cache = cache
        self.kube = kube
        self.timeout_s = timeout_s
        self._on_result = on_result
        self._inflight: dict[tuple[str, str], asyncio.Future[OwnerResolution]] = {}

    def _count(self, source: str) -> None:
        if self._on_result is not None:
            self._on_result(source)

    async def resolve(self, namespace: str, ref: ControllerRef) -> OwnerResolution:
        """The owner of a pod controlled by the ReplicaSet ``ref``. Never raises."""
        cached = self.cache.resolve(namespace, ref)
        if not isinstance(cached, Miss):
            self._count("cache")
            return cached
        key = (namespace, ref.name)
        shared = self._inflight.get(key)
        if shared is not None:
            self._count("shared")
            return await asyncio.shield(shared)
        future: asyncio.Future[OwnerResolution] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._bounded(cached)
            future.set_result(result)
        except BaseException as error:  # cancelled: waiters must not hang
            future.set_result(LookupFailed(f"owner lookup interrupted: {type(error).__name__}"))
            raise
        finally:
            del self._inflight[key]
        self._count("api" if not isinstance(result, LookupFailed) else "failed")
        return result

    async def _bounded(self, miss: Miss) -> OwnerResolution:
        try:
            return await asyncio.wait_for(self._direct(miss), self.timeout_s)
        except TimeoutError:
            return LookupFailed(
                f"owner lookup of ReplicaSet {miss.namespace}/{miss.replicaset} took longer than "
                f"{self.timeout_s:g}s"
            )
        except ApiError as error:
            return LookupFailed(f"owner lookup failed: {error}")

    async def _direct(self, miss: Miss) -> OwnerResolution:
        deployment = miss.deployment
        if deployment is None:
            try:
                body = await asyncio.to_thread(
                    self.kube.read_replicaset, miss.namespace, miss.replicaset, self.timeout_s
                )
            except NotFound:
                return LookupFailed(f"ReplicaSet {miss.namespace}/{miss.replicaset} not found")
            replicaset = replicaset_facts(body)
            resolved = self.cache.owner_of(replicaset)
            if not isinstance(resolved, Miss):
                return resolved
            deployment = resolved.deployment or ""
        try:
            body = await asyncio.to_thread(
                self.kube.read_deployment, miss.namespace, deployment, self.timeout_s
            )
        except NotFound:
            return LookupFailed(f"Deployment {miss.namespace}/{deployment} not found")
        return deployment_facts(body).owner()
