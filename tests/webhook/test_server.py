"""The admission server's answers over real HTTPS, without a cluster: the patch of an opted-in
pod turns the whole admitted pod into the injected one, and a review that cannot be answered
allows the pod unchanged, with a warning and a count."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp

from devtools.controlplane.processes import free_port
from devtools.webhook_tls import HOST, make_tls
from webhook.admission import INTERNAL_ERROR_WARNING, Admission
from webhook.core.injection import inject
from webhook.core.owners import OwnerCache
from webhook.core.selection import SelectionConfig
from webhook.lookup import OwnerLookup
from webhook.metrics import Metrics
from webhook.server import PATH, AdmissionServer
from webhook.tls import ReloadingCertificate

from .core import applier
from .core.pods import CONFIG, OPTED_IN, deployment_pod, replicaset_ref
from .reviews import valid_review

NAMESPACE = "shop"


def warm_cache() -> OwnerCache:
    """The owner cache as the watches leave it for the ReplicaSet of ``deployment_pod``."""
    cache = OwnerCache()
    replicaset = replicaset_ref()
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": True}
    cache.replicaset_event(
        "ADDED",
        {
            "metadata": {
                "name": replicaset["name"],
                "namespace": NAMESPACE,
                "uid": replicaset["uid"],
                "ownerReferences": [deployment],
            }
        },
    )
    cache.deployment_event(
        "ADDED", {"metadata": {"name": "web", "namespace": NAMESPACE, "annotations": OPTED_IN}}
    )
    return cache


class Unanswerable:
    """Stands in for admission: every pod makes it fail."""

    async def admit(self, *_: Any) -> Any:
        raise RuntimeError("admission exploded")


def post(tmp_path: Path, admission: Any, metrics: Metrics, review: dict[str, Any]) -> Any:
    """Serve ``admission`` on a free port, post ``review`` over HTTPS, return the decoded answer."""
    tls = make_tls(tmp_path / "tls")
    certificate = ReloadingCertificate(tls.serving.cert, tls.serving.key)
    server = AdmissionServer(HOST, free_port(), certificate, metrics, admission)
    context = ssl.create_default_context(cafile=str(tls.ca.cert))

    async def exchange() -> Any:
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                url = f"https://{HOST}:{server.port}{PATH}"
                async with session.post(url, json=review, ssl=context) as answer:
                    assert answer.status == 200
                    return await answer.json()
        finally:
            await server.stop()

    return asyncio.run(exchange())


def test_an_opted_in_pods_patch_turns_the_whole_pod_into_the_injected_one(
    tmp_path: Path,
) -> None:
    pod = deployment_pod(
        volumes=[{"name": "kube-api-access-x1", "projected": {"sources": []}}],
        tolerations=[{"key": "spot", "operator": "Exists"}],
    )
    review = valid_review(NAMESPACE)
    review["request"]["object"] = pod
    metrics = Metrics()
    lookup = OwnerLookup(warm_cache(), None, 1.0)  # type: ignore[arg-type]  # never asked
    admission = Admission(SelectionConfig(), CONFIG, lookup, metrics)

    response = post(tmp_path, admission, metrics, review)["response"]

    assert response["uid"] == review["request"]["uid"]
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(response["patch"]))
    assert applier.apply(pod, patch) == inject(pod, "web", OPTED_IN, CONFIG).pod
    assert metrics.registry.get_sample_value("spot_failover_webhook_injected_total") == 1


def test_a_review_that_cannot_be_answered_allows_the_pod_unchanged_with_a_warning(
    tmp_path: Path,
) -> None:
    metrics = Metrics()
    review = valid_review(NAMESPACE)

    response = post(tmp_path, Unanswerable(), metrics, review)["response"]

    assert response == {
        "uid": review["request"]["uid"],
        "allowed": True,
        "warnings": [INTERNAL_ERROR_WARNING],
    }
    errors = {"component": "admission"}
    assert metrics.registry.get_sample_value("spot_failover_webhook_errors_total", errors) == 1
    answered = {"code": "200"}
    requests = "spot_failover_webhook_admission_requests_total"
    assert metrics.registry.get_sample_value(requests, answered) == 1
