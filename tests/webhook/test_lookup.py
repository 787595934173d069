"""Owner lookups on a cache miss: one per ReplicaSet however many pods ask, within a budget.

The API is stood in for at the adapter boundary (``Kube``), so that slowness and concurrency
can be controlled; the lookups against the real API server run in the cluster tests.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, cast

from spot_common import contract
from spot_common.api_errors import NotFound
from webhook.adapters.kube import Kube
from webhook.core.owners import OwnerCache
from webhook.core.selection import ControllerRef, DeploymentOwner, LookupFailed
from webhook.lookup import OwnerLookup

REF = ControllerRef("apps/v1", "ReplicaSet", "web-1", "rs-uid")


class Adapter:
    """Answers like the API server would, counting calls; optionally held until released."""

    def __init__(self, hold: threading.Event | None = None, missing: bool = False) -> None:
        self.calls: list[str] = []
        self.timeouts: list[float] = []
        self.hold = hold
        self.missing = missing

    def read_replicaset(self, namespace: str, name: str, timeout_s: float) -> dict[str, Any]:
        self.calls.append(f"replicaset {name}")
        self.timeouts.append(timeout_s)
        if self.hold is not None:
            self.hold.wait(timeout=10)
        if self.missing:
            raise NotFound(f"get ReplicaSet {namespace}/{name}", "404", 404)
        owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d"}
        return {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": "rs-uid",
                "ownerReferences": [{**owner, "controller": True}],
            }
        }

    def read_deployment(self, namespace: str, name: str, timeout_s: float) -> dict[str, Any]:
        self.calls.append(f"deployment {name}")
        self.timeouts.append(timeout_s)
        return {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": "d",
                "annotations": {contract.ENABLED: "true"},
            }
        }


def lookup(adapter: Adapter, timeout_s: float = 2.0) -> OwnerLookup:
    return OwnerLookup(OwnerCache(), cast(Kube, adapter), timeout_s)


def test_a_miss_reads_the_replicaset_and_its_deployment() -> None:
    adapter = Adapter()
    owner = asyncio.run(lookup(adapter).resolve("shop", REF))
    assert owner == DeploymentOwner("web", {contract.ENABLED: "true"})
    assert adapter.calls == ["replicaset web-1", "deployment web"]
    assert adapter.timeouts == [2.0, 2.0], "each request is bounded by the lookup's budget"


def test_concurrent_misses_for_one_replicaset_share_one_lookup() -> None:
    adapter = Adapter()

    async def fifty() -> list[Any]:
        owners = lookup(adapter)
        return await asyncio.gather(*(owners.resolve("shop", REF) for _ in range(50)))

    results = asyncio.run(fifty())
    assert {type(result) for result in results} == {DeploymentOwner}
    assert adapter.calls == ["replicaset web-1", "deployment web"]


def test_a_lookup_slower_than_its_budget_gives_up_in_time() -> None:
    release = threading.Event()
    adapter = Adapter(hold=release)

    async def timed() -> tuple[Any, float]:
        started = time.monotonic()
        result = await lookup(adapter, timeout_s=0.2).resolve("shop", REF)
        elapsed = time.monotonic() - started
        release.set()
        return result, elapsed

    result, elapsed = asyncio.run(timed())
    assert isinstance(result, LookupFailed)
    assert "took longer than 0.2s" in result.reason
    assert elapsed < 1.0


def test_a_replicaset_that_does_not_exist_fails_the_lookup_naming_it() -> None:
    result = asyncio.run(lookup(Adapter(missing=True)).resolve("shop", REF))
    assert result == LookupFailed("ReplicaSet shop/web-1 not found")
