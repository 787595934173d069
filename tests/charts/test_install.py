"""helm install, upgrade and uninstall of the chart on the local control plane.

No image runs here (kwok plays the kubelets), so the chart's webhook Deployment is scaled to 0
and its programs run as local processes, exactly as its pods would run them (tests/charts/
installed.py): the webhook with the Deployment's args and environment as helm left them, as the
chart's ServiceAccount, called by the API server through the chart's webhook configuration
pointed at it (``webhook.url``, ``certificates.mode=provided``); the certificate Job's program
as the chart's certgen ServiceAccount. What this does not exercise: the Service and the pods'
network (the API server calls 127.0.0.1), the images, and cert-manager (not installed here;
that mode is checked by rendering).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, exists
from devtools.controlplane.waiting import wait_for
from devtools.webhook_tls import make_tls
from spot_common import contract
from webhook.core import rbac
from webhook.core.certificates import service_hosts

from .helm import (
    CHART,
    RELEASE,
    chart_metadata,
    documents,
    helm,
    kinds_and_names,
    render,
    set_flags,
)
from .installed import ChartWebhook, clear_shipped_definitions, run_certgen, still_there

pytestmark = pytest.mark.cluster

SIDECAR_IMAGE = "registry.example/spot-failover-sidecar"
NO_PODS = {"webhook.replicas": 0}


@pytest.fixture
def release_namespace(cluster: LocalCluster, kube: Kube) -> Iterator[str]:
    """Where the release goes; the chart's cluster-wide objects made room for, and all of it
    removed afterwards (also when the test failed half-way)."""
    namespace = f"sf-{uuid.uuid4().hex[:8]}"
    clear_shipped_definitions(kube, kinds_and_names(render()))
    yield namespace
    helm("uninstall", RELEASE, "-n", namespace, kubeconfig=cluster.kubeconfig, check=False)
    kube.delete_namespace(namespace)


@pytest.fixture
def app_namespace(kube: Kube) -> Iterator[str]:
    name = f"app-{uuid.uuid4().hex[:8]}"
    kube.create_namespace(name)
    yield name
    kube.delete_namespace(name)


def install(cluster: LocalCluster, namespace: str, values: Mapping[str, object]) -> None:
    helm(
        "install",
        RELEASE,
        str(CHART),
        "-n",
        namespace,
        "--create-namespace",
        *set_flags(values),
        kubeconfig=cluster.kubeconfig,
    )


def upgrade(cluster: LocalCluster, namespace: str, values: Mapping[str, object]) -> None:
    helm(
        "upgrade",
        RELEASE,
        str(CHART),
        "-n",
        namespace,
        "--reuse-values",
        *set_flags(values),
        kubeconfig=cluster.kubeconfig,
    )


def release_objects(cluster: LocalCluster, namespace: str) -> list[dict[str, Any]]:
    """What the release holds, as helm recorded it."""
    manifest = helm("get", "manifest", RELEASE, "-n", namespace, kubeconfig=cluster.kubeconfig)
    objects = documents(manifest.stdout)
    for obj in objects:
        obj["metadata"].setdefault("namespace", namespace)
    return objects


def opted_in_deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": {contract.ENABLED: "true"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example/web:1"}]},
            },
        },
    }


def sidecars(kube: Kube, namespace: str) -> list[dict[str, Any]]:
    """The injected sidecar container of each pod of the namespace that is not being deleted."""
    found = []
    for pod in kube.core.list_namespaced_pod(namespace).items:
        if pod.metadata.deletion_timestamp is not None:
            continue
        spec = kube.api.sanitize_for_serialization(pod.spec)
        every = [*spec.get("initContainers", []), *spec["containers"]]
        found += [c for c in every if c["name"] == contract.SIDECAR_CONTAINER]
    return found


def sidecar_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def pods_injected_with(kube: Kube, namespace: str, poll_interval: str) -> bool:
    found = sidecars(kube, namespace)
    return len(found) == 2 and all(
        sidecar_env(c).get("SPOT_FAILOVER_POLL_INTERVAL_S") == poll_interval for c in found
    )


def managed_rbac(kube: Kube, namespace: str) -> list[str]:
    roles = kube.rbac.list_namespaced_role(namespace, label_selector=rbac.MANAGED_SELECTOR)
    bindings = kube.rbac.list_namespaced_role_binding(
        namespace, label_selector=rbac.MANAGED_SELECTOR
    )
    nodes = kube.rbac.list_cluster_role_binding(label_selector=rbac.MANAGED_SELECTOR)
    node_events = kube.rbac.list_namespaced_role_binding(
        contract.NODE_EVENTS_NAMESPACE, label_selector=rbac.MANAGED_SELECTOR
    )
    return [
        *(f"Role/{r.metadata.name}" for r in roles.items),
        *(f"RoleBinding/{b.metadata.name}" for b in bindings.items),
        *(
            f"ClusterRoleBinding/{b.metadata.name}"
            for b in nodes.items
            if (b.metadata.labels or {}).get(rbac.NAMESPACE_LABEL) == namespace
        ),
        *(
            f"RoleBinding/{b.metadata.namespace}/{b.metadata.name}"
            for b in node_events.items
            if (b.metadata.labels or {}).get(rbac.NAMESPACE_LABEL) == namespace
        ),
    ]


def webhook_ca_bundle(kube: Kube) -> str | None:
    configuration = kube.dynamic.resources.get(
        api_version="admissionregistration.k8s.io/v1", kind="MutatingWebhookConfiguration"
    ).get(name="spot-failover")
    (hook,) = configuration.to_dict()["webhooks"]
    bundle: str | None = hook["clientConfig"].get("caBundle")
    return bundle


def test_installed_with_helm_the_real_webhook_injects_upgrades_and_uninstalls_leaving_nothing(
    cluster: LocalCluster, kube: Kube, release_namespace: str, app_namespace: str, tmp_path: Path
) -> None:
    tls = make_tls(tmp_path / "tls")
    webhook = ChartWebhook(cluster, kube, release_namespace, tls, tmp_path / "webhook")
    install(
        cluster,
        release_namespace,
        {
            **NO_PODS,
            "webhook.url": webhook.url,
            "certificates.mode": "provided",
            "certificates.caBundle": base64.b64encode(tls.ca_pem).decode(),
            "sidecar.image.repository": SIDECAR_IMAGE,
            "sidecar.settings.poll_interval_s": 1,
        },
    )
    installed = release_objects(cluster, release_namespace)
    webhook.start()
    try:
        webhook.wait_until_called(app_namespace)
        kube.apps.create_namespaced_deployment(app_namespace, opted_in_deployment("web"))

        wait_for(lambda: pods_injected_with(kube, app_namespace, "1"), 60, "2 injected pods")
        (sidecar, _) = sidecars(kube, app_namespace)
        assert sidecar["image"] == f"{SIDECAR_IMAGE}:{chart_metadata()['appVersion']}"
        wait_for(lambda: len(managed_rbac(kube, app_namespace)) == 4, 60, "the sidecars' RBAC")
        assert exists(
            lambda: kube.coordination.read_namespaced_lease("spot-failover-web", app_namespace)
        )

        # An upgrade changes a sidecar setting: the webhook rolls out with the new environment,
        # and the pods created after it carry the new value.
        upgrade(cluster, release_namespace, {"sidecar.settings.poll_interval_s": 3})
        webhook.stop()
        webhook.start()
        kube.apps.patch_namespaced_deployment(
            "web",
            app_namespace,
            {"spec": {"template": {"metadata": {"annotations": {"restarted": "1"}}}}},
        )
        wait_for(lambda: pods_injected_with(kube, app_namespace, "3"), 60, "re-injected pods")
        history = helm(
            "history", RELEASE, "-n", release_namespace, "-o", "json", kubeconfig=cluster.kubeconfig
        )
        assert [entry["revision"] for entry in json.loads(history.stdout)] == [1, 2]

        # Opting out before the uninstall: the webhook takes the sidecars' rights back.
        kube.apps.patch_namespaced_deployment(
            "web", app_namespace, {"metadata": {"annotations": {contract.ENABLED: "false"}}}
        )
        wait_for(lambda: not managed_rbac(kube, app_namespace), 60, "the sidecars' RBAC gone")
    except BaseException:
        print(webhook.log()[-5000:])
        raise
    finally:
        webhook.stop()

    helm("uninstall", RELEASE, "-n", release_namespace, kubeconfig=cluster.kubeconfig)

    wait_for(lambda: not still_there(kube, installed), 60, "the release's objects to go")
    releases = kube.core.list_namespaced_secret(release_namespace, label_selector="owner=helm")
    assert releases.items == []
    assert managed_rbac(kube, app_namespace) == []
    # What stays, and why: the Lease belongs to its Deployment (deleted with it), and the pods
    # keep the sidecar they were created with until they are replaced.
    lease = kube.coordination.read_namespaced_lease("spot-failover-web", app_namespace)
    assert [(o.kind, o.name) for o in lease.metadata.owner_references] == [("Deployment", "web")]
    assert len(sidecars(kube, app_namespace)) == 2


def test_with_the_certificate_job_an_upgrade_keeps_its_ca_bundle_and_replaces_the_job(
    cluster: LocalCluster, kube: Kube, release_namespace: str, tmp_path: Path
) -> None:
    install(cluster, release_namespace, NO_PODS)
    (job,) = [o for o in release_objects(cluster, release_namespace) if o["kind"] == "Job"]

    certgen = run_certgen(cluster, kube, release_namespace, job, tmp_path)

    assert certgen.popen.returncode == 0, certgen.tail()
    ca = kube.core.read_namespaced_secret("spot-failover-webhook-ca", release_namespace)
    assert webhook_ca_bundle(kube) == ca.data["ca.crt"]
    serving = kube.core.read_namespaced_secret("spot-failover-webhook-tls", release_namespace)
    certificate = x509.load_pem_x509_certificate(base64.b64decode(serving.data["tls.crt"]))
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert set(service_hosts("spot-failover-webhook", release_namespace)) <= set(
        names.value.get_values_for_type(x509.DNSName)
    )

    # A new image changes the Job's (immutable) pod template: the upgrade replaces the Job,
    # and leaves the caBundle the Job wrote where it is.
    upgrade(cluster, release_namespace, {"image.tag": "0.1.1"})

    (new_job,) = [o for o in release_objects(cluster, release_namespace) if o["kind"] == "Job"]
    assert new_job["metadata"]["name"] != job["metadata"]["name"]
    wait_for(lambda: not still_there(kube, [job]), 60, "the old Job to go")
    assert still_there(kube, [new_job]) == [f"Job/{new_job['metadata']['name']}"]
    assert webhook_ca_bundle(kube) == ca.data["ca.crt"]

    installed = release_objects(cluster, release_namespace)
    helm("uninstall", RELEASE, "-n", release_namespace, kubeconfig=cluster.kubeconfig)

    wait_for(lambda: not still_there(kube, installed), 60, "the release's objects to go")
    left = kube.core.list_namespaced_secret(
        release_namespace, label_selector=f"{contract.COMPONENT_LABEL}={contract.COMPONENT_VALUE}"
    )
    # The Job made these two, not helm: they stay until the namespace goes.
    assert sorted(s.metadata.name for s in left.items) == [
        "spot-failover-webhook-ca",
        "spot-failover-webhook-tls",
    ]
