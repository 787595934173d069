"""The webhook as a local process behind its shipped identity and configuration
(:mod:`devtools.local_webhook`): what the end-to-end scenarios, the demo and the benchmarks use."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from devtools.controlplane import audit
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, exists
from devtools.controlplane.processes import port_is_bound
from devtools.controlplane.waiting import wait_for
from devtools.local_webhook import LocalWebhook
from devtools.scenario import deployment
from spot_common import contract
from webhook.core import rbac
from webhook.core.missing_sidecars import REASON

from .harness import SIDECAR_IMAGE

pytestmark = pytest.mark.cluster

SIDECAR_ENV = {"SPOT_FAILOVER_POLL_INTERVAL_S": "1"}


@pytest.fixture
def app_namespace(kube: Kube) -> Iterator[str]:
    name = f"wh-local-{uuid.uuid4().hex[:8]}"
    kube.create_namespace(name)
    yield name
    kube.delete_namespace(name)


def local_webhook(cluster: LocalCluster, kube: Kube, namespace: str, work: Path) -> LocalWebhook:
    return LocalWebhook(
        cluster,
        kube,
        work,
        namespaces=[namespace],
        sidecar_image=SIDECAR_IMAGE,
        sidecar_env=SIDECAR_ENV,
        sidecar_metrics_port=0,
        settings={"report_interval_s": 1},
    )


def opted_in(kube: Kube, namespace: str, name: str, replicas: int) -> None:
    body = deployment(name, replicas=replicas)
    body["metadata"]["annotations"] = {contract.ENABLED: "true"}
    kube.apps.create_namespaced_deployment(namespace, body)


def pods(kube: Kube, namespace: str, name: str, count: int) -> list[Any]:
    def listed() -> list[Any] | None:
        found = kube.core.list_namespaced_pod(namespace, label_selector=f"app={name}").items
        return list(found) if len(found) == count else None

    return wait_for(listed, 60, f"{count} pods of {name}")


def sidecar_of(pod: Any) -> Any | None:
    containers = [*(pod.spec.init_containers or []), *pod.spec.containers]
    return next((c for c in containers if c.name == contract.SIDECAR_CONTAINER), None)


def test_pods_the_controller_manager_creates_are_injected_by_the_process_acting_as_its_account(
    cluster: LocalCluster, kube: Kube, app_namespace: str, tmp_path: Path
) -> None:
    admission = kube.dynamic.resources.get(
        api_version="admissionregistration.k8s.io/v1", kind="MutatingWebhookConfiguration"
    )
    with local_webhook(cluster, kube, app_namespace, tmp_path) as webhook:
        identity = webhook.identity.namespace
        opted_in(kube, app_namespace, "web", replicas=2)
        for pod in pods(kube, app_namespace, "web", 2):
            sidecar = sidecar_of(pod)
            assert sidecar is not None
            assert sidecar.image == SIDECAR_IMAGE
            env = {item.name: item.value for item in sidecar.env}
            assert env["SPOT_FAILOVER_POLL_INTERVAL_S"] == "1"
            assert env[contract.ENV_METRICS_PORT] == "0"
        assert webhook.metrics().value("spot_failover_webhook_injected_total") == 2
        role = rbac.role_name("web")
        wait_for(
            lambda: exists(lambda: kube.rbac.read_namespaced_role(role, app_namespace)),
            30,
            "the webhook to provision the sidecar's Role",
        )
        writers = {
            r.user
            for r in audit.read(cluster.audit_log)
            if r.verb in {"create", "patch", "update"}
            and f"/namespaces/{app_namespace}/roles/{role}" in r.uri
        }
        assert writers == {webhook.identity.username}
        left_behind = [
            lambda: admission.get(name=webhook.configuration_name),
            lambda: kube.rbac.read_cluster_role_binding(f"spot-failover-webhook.{identity}"),
            lambda: kube.rbac.read_cluster_role_binding(
                rbac.node_binding_name((app_namespace, "default"))
            ),
            lambda: kube.rbac.read_namespaced_role_binding(
                rbac.node_events_binding_name((app_namespace, "default")),
                contract.NODE_EVENTS_NAMESPACE,
            ),
        ]
        # The account's bindings are applied after the Role: wait for them too.
        wait_for(lambda: all(exists(read) for read in left_behind), 30, "the webhook's objects")
        ports = (webhook.port, webhook.health_port)
    assert not any(exists(read) for read in left_behind)
    assert not any(port_is_bound(port) for port in ports)
    assert gone_or_going(kube, identity)


def gone_or_going(kube: Kube, namespace: str) -> bool:
    try:
        found = kube.core.read_namespace(namespace)
    except ApiException as error:
        return bool(error.status == 404)
    return found.metadata.deletion_timestamp is not None


def test_with_the_process_stopped_pods_are_still_created_and_reported_once_it_is_back(
    cluster: LocalCluster, kube: Kube, app_namespace: str, tmp_path: Path
) -> None:
    with local_webhook(cluster, kube, app_namespace, tmp_path) as webhook:
        opted_in(kube, app_namespace, "web", replicas=1)
        (first,) = pods(kube, app_namespace, "web", 1)
        assert sidecar_of(first) is not None

        webhook.stop()
        kube.apps.patch_namespaced_deployment_scale("web", app_namespace, {"spec": {"replicas": 3}})
        missed = {
            pod.metadata.name
            for pod in pods(kube, app_namespace, "web", 3)
            if sidecar_of(pod) is None
        }
        assert len(missed) == 2

        webhook.start()

        def reported() -> list[Any]:
            events = kube.core.list_namespaced_event(
                app_namespace, field_selector=f"involvedObject.name=web,reason={REASON}"
            ).items
            return [e for e in events if all(name in e.message for name in missed)]

        (event,) = wait_for(reported, 30, "the SidecarMissing Event naming both pods")
        assert event.message.startswith("2 pods of this Deployment run without")
        metrics = webhook.metrics()
        assert metrics.value("spot_failover_webhook_uninjected_pods") == 2
        assert metrics.value("spot_failover_webhook_uninjected_pods_reported_total") == 2
    lines = webhook.log_path.read_text().splitlines()
    messages = [json.loads(line)["message"] for line in lines if line.startswith("{")]
    assert messages.count("starting") == messages.count("stopped") == 2


def test_the_webhook_counts_opted_in_deployments_by_failover_state_for_the_alerts(
    cluster: LocalCluster, kube: Kube, app_namespace: str, tmp_path: Path
) -> None:
    with local_webhook(cluster, kube, app_namespace, tmp_path) as webhook:
        opted_in(kube, app_namespace, "web", replicas=1)
        opted_in(kube, app_namespace, "api", replicas=1)
        wait_for(
            lambda: (
                webhook.metrics().value("spot_failover_webhook_deployments", state="Watching") == 2
            ),
            30,
            "both Deployments counted as Watching",
        )
        kube.apps.patch_namespaced_deployment(
            "web",
            app_namespace,
            {
                "metadata": {
                    "annotations": {
                        contract.STATE: "Migrating",
                        contract.LAST_TRANSITION: "2026-01-02T15:00:00Z",
                    }
                }
            },
        )

        def moving() -> bool:
            metrics = webhook.metrics()
            return metrics.value("spot_failover_webhook_deployments", state="Migrating") == 1

        wait_for(moving, 30, "web counted as Migrating")
        metrics = webhook.metrics()
        assert metrics.value("spot_failover_webhook_deployments", state="Watching") == 1
        since = metrics.value(
            "spot_failover_webhook_unsettled_since_timestamp_seconds", state="Migrating"
        )
        assert since == 1767366000.0  # 2026-01-02T15:00:00Z
