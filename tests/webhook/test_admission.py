"""Admission through the real API server: who gets the sidecar, and what happens on errors."""

from __future__ import annotations

import json
import ssl
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests
from cryptography import x509

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.waiting import wait_for
from devtools.scenario import deployment
from spot_common import contract
from webhook.admission import INTERNAL_ERROR_WARNING

from .harness import SIDECAR_IMAGE, RunningWebhook, Tls

pytestmark = pytest.mark.cluster


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_deployment(
    kube: Kube, namespace: str, name: str, annotations: Mapping[str, str], replicas: int = 1
) -> dict[str, Any]:
    body = deployment(name, replicas=replicas)
    body["metadata"]["annotations"] = dict(annotations)
    created: dict[str, Any] = kube.api.sanitize_for_serialization(
        kube.apps.create_namespaced_deployment(namespace, body)
    )
    return created


def pods_of(kube: Kube, namespace: str, name: str, count: int) -> list[dict[str, Any]]:
    """The Deployment's pods, once there are ``count`` of them."""

    def listed() -> list[dict[str, Any]] | None:
        pods = kube.core.list_namespaced_pod(namespace, label_selector=f"app={name}").items
        return (
            [kube.api.sanitize_for_serialization(p) for p in pods] if len(pods) == count else None
        )

    return wait_for(listed, 30, f"{count} pods of {name}")


def sidecars(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = pod["spec"]
    return [
        container
        for container in [*spec.get("initContainers", []), *spec["containers"]]
        if container["name"] == contract.SIDECAR_CONTAINER
    ]


def test_pods_of_an_opted_in_deployment_created_by_the_controller_manager_get_the_sidecar(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook
) -> None:
    name = unique("web")
    create_deployment(kube, webhook_namespace, name, {contract.ENABLED: "true"}, replicas=2)
    for pod in pods_of(kube, webhook_namespace, name, 2):
        (sidecar,) = sidecars(pod)
        assert sidecar["image"] == SIDECAR_IMAGE
        env = {item["name"]: item.get("value") for item in sidecar["env"]}
        assert env[contract.ENV_DEPLOYMENT] == name
        assert pod["metadata"]["annotations"][contract.INJECTED] == "test"


def test_pods_of_a_deployment_that_did_not_opt_in_get_no_sidecar(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook
) -> None:
    name = unique("plain")
    before = running_webhook.metric("spot_failover_webhook_skipped_total", reason="not_opted_in")
    create_deployment(kube, webhook_namespace, name, {contract.ENABLED: "True"})
    (pod,) = pods_of(kube, webhook_namespace, name, 1)
    assert sidecars(pod) == []
    assert contract.INJECTED not in (pod["metadata"].get("annotations") or {})
    after = running_webhook.metric("spot_failover_webhook_skipped_total", reason="not_opted_in")
    assert after == before + 1


def test_a_bare_pod_gets_no_sidecar(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": unique("bare"), "annotations": {contract.ENABLED: "true"}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
    }
    created = kube.core.create_namespaced_pod(webhook_namespace, pod)
    assert [c.name for c in created.spec.containers] == ["app"]
    assert not created.spec.init_containers


@pytest.fixture
def opted_in_replicaset(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook
) -> dict[str, Any]:
    """An opted-in Deployment's ReplicaSet, once the webhook's cache has seen both."""
    name = unique("cached")
    create_deployment(kube, webhook_namespace, name, {contract.ENABLED: "true"})
    (pod,) = pods_of(kube, webhook_namespace, name, 1)
    (owner,) = pod["metadata"]["ownerReferences"]
    cache = running_webhook.webhook.cache
    wait_for(
        lambda: cache.deployment_of(webhook_namespace, owner["name"]) == name,
        10,
        "the webhook to cache the ReplicaSet",
    )
    return owner  # type: ignore[no-any-return]


def dry_run_pod(
    cluster: LocalCluster, namespace: str, owner: Mapping[str, Any]
) -> requests.Response:
    """POST a pod owned by ``owner`` as a server-side dry run; the raw answer keeps the
    API server's ``Warning`` headers, which carry the webhook's warnings."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "dry-", "ownerReferences": [{**owner, "controller": True}]},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
    }
    with cluster.admin_session() as session:
        return session.post(
            f"{cluster.server}/api/v1/namespaces/{namespace}/pods?dryRun=All",
            data=json.dumps(pod),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )


def test_the_warm_path_answers_from_the_cache_with_no_api_call(
    cluster: LocalCluster,
    webhook_namespace: str,
    running_webhook: RunningWebhook,
    opted_in_replicaset: dict[str, Any],
) -> None:
    calls = running_webhook.metric("spot_failover_webhook_admission_api_calls_total")
    answer = dry_run_pod(cluster, webhook_namespace, opted_in_replicaset)
    assert answer.status_code == 201, answer.text
    assert sidecars(answer.json())
    assert running_webhook.metric("spot_failover_webhook_admission_api_calls_total") == calls


@pytest.fixture
def failing_injection(running_webhook: RunningWebhook) -> Iterator[None]:
    admission = running_webhook.webhook.admission
    original = admission.injector

    def broken(*_: Any) -> Any:
        raise RuntimeError("injection exploded")

    admission.injector = broken
    yield
    admission.injector = original


def test_an_internal_error_admits_the_pod_unchanged_with_a_warning(
    cluster: LocalCluster,
    webhook_namespace: str,
    running_webhook: RunningWebhook,
    opted_in_replicaset: dict[str, Any],
    failing_injection: None,
) -> None:
    errors = running_webhook.metric("spot_failover_webhook_errors_total", component="admission")
    answer = dry_run_pod(cluster, webhook_namespace, opted_in_replicaset)
    assert answer.status_code == 201, answer.text
    assert sidecars(answer.json()) == []
    assert INTERNAL_ERROR_WARNING[:60] in answer.headers.get("Warning", "")
    after = running_webhook.metric("spot_failover_webhook_errors_total", component="admission")
    assert after == errors + 1


def test_a_rotated_certificate_is_served_without_a_restart(
    cluster: LocalCluster,
    webhook_namespace: str,
    running_webhook: RunningWebhook,
    opted_in_replicaset: dict[str, Any],
    webhook_tls: Tls,
) -> None:
    def served_serial() -> int:
        pem = ssl.get_server_certificate(("127.0.0.1", running_webhook.settings.port))
        return x509.load_pem_x509_certificate(pem.encode()).serial_number

    assert served_serial() == webhook_tls.serial()
    new_serial = webhook_tls.rotate()
    wait_for(lambda: served_serial() == new_serial, 10, "the new certificate to be served")
    assert running_webhook.metric("spot_failover_webhook_certificate_reloads_total") >= 1
    answer = dry_run_pod(cluster, webhook_namespace, opted_in_replicaset)
    assert sidecars(answer.json()), "the API server still trusts the rotated certificate"
