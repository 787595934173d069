"""A webhook that is down never stops pods; the pods it missed are reported when it is back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.waiting import wait_for
from devtools.scenario import deployment
from spot_common import contract
from webhook.core.missing_sidecars import REASON

from .conftest import admission_configured, wait_until_called
from .harness import RunningWebhook, Tls, settings

pytestmark = pytest.mark.cluster


@pytest.fixture
def outage_namespace(kube: Kube) -> Iterator[str]:
    name = f"wh-down-{uuid.uuid4().hex[:8]}"
    kube.create_namespace(name)
    yield name
    kube.delete_namespace(name)


def has_sidecar(pod: Any) -> bool:
    containers = [*(pod.spec.init_containers or []), *pod.spec.containers]
    return any(c.name == contract.SIDECAR_CONTAINER for c in containers)


def test_pods_created_while_the_webhook_is_down_are_created_and_then_reported(
    cluster: LocalCluster, kube: Kube, webhook_tls: Tls, outage_namespace: str
) -> None:
    namespace = outage_namespace
    config = settings(webhook_tls, Path(cluster.kubeconfig), namespace)
    name = "web"
    body = deployment(name, replicas=1)
    body["metadata"]["annotations"] = {contract.ENABLED: "true"}

    def pods() -> list[Any]:
        return list(kube.core.list_namespaced_pod(namespace, label_selector=f"app={name}").items)

    first = RunningWebhook(config)
    configured = admission_configured(kube, first, webhook_tls, namespace)
    with first, configured:
        kube.apps.create_namespaced_deployment(namespace, body)
        (injected,) = wait_for(lambda: pods() or None, 30, "the first pod")
        assert has_sidecar(injected)
        first.stop()  # the webhook goes down; its configuration stays

        kube.apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": 2}})
        wait_for(lambda: len(pods()) == 2, 30, "the second pod, created without the webhook")
        (missed,) = [pod for pod in pods() if not has_sidecar(pod)]

        with RunningWebhook(config) as second:
            wait_until_called(kube, second, namespace)

            def reported() -> list[Any]:
                events = kube.core.list_namespaced_event(
                    namespace, field_selector=f"involvedObject.name={name},reason={REASON}"
                ).items
                return [e for e in events if missed.metadata.name in e.message]

            (event,) = wait_for(reported, 30, "the SidecarMissing Event on the Deployment")
            assert event.type == "Warning"
            assert f"kubectl rollout restart deployment/{name}" in event.message
            assert second.metric("spot_failover_webhook_uninjected_pods") == 1
            assert second.metric("spot_failover_webhook_uninjected_pods_reported_total") == 1
