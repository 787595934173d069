"""One webhook for the cluster tests of this folder, run as its own ServiceAccount.

The webhook's identity is a ServiceAccount named like the shipped one and bound to the shipped
ClusterRole (deploy/base/webhook-rbac.yaml), so every test here also proves that those rights
are enough, escalation checks included. Admission is limited to one namespace; the admission
policies from deploy/ are bound to that namespace only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.waiting import wait_for

from .harness import RunningWebhook, Tls, make_tls, settings, shipped, webhook_configuration

WEBHOOK_ACCOUNT = "spot-failover-webhook"
POLICY_FILES = (
    "base/sidecar-policy.yaml",
    "base/webhook-policy.yaml",
    "base/webhook-rbac-policy.yaml",
    "base/lease-policy.yaml",
    "base/events-policy.yaml",
)
UNSCOPED = frozenset({"spot-failover-webhook-rbac"})
"""Bound cluster-wide as shipped: it matches only the webhook's ServiceAccount, and refusing
RBAC writes in other namespaces (kube-system) is what it is for."""


def _bare_pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
    }


@pytest.fixture(scope="package")
def webhook_tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(Path(tmp_path_factory.mktemp("webhook-tls")))


@pytest.fixture(scope="package")
def shipped_cluster_objects(kube: Kube) -> Iterator[None]:
    """The cluster-scoped objects of deploy/base that tests rely on; bindings come per test."""
    documents = [
        *shipped("base/webhook-rbac.yaml"),
        *shipped("base/sidecar-nodes-clusterrole.yaml"),
        *(doc for path in POLICY_FILES for doc in shipped(path)),
    ]
    kinds = {"ClusterRole", "ValidatingAdmissionPolicy"}
    objects = [doc for doc in documents if doc["kind"] in kinds]
    kube.apply(objects)
    yield
    for doc in objects:
        resource = kube.dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        resource.delete(name=doc["metadata"]["name"])


@pytest.fixture(scope="package")
def webhook_namespace(kube: Kube) -> Iterator[str]:
    name = f"wh-{uuid.uuid4().hex[:10]}"
    kube.create_namespace(name)
    kube.core.create_namespaced_service_account(name, {"metadata": {"name": WEBHOOK_ACCOUNT}})
    yield name
    kube.delete_namespace(name)


@pytest.fixture(scope="package")
def webhook_kubeconfig(
    cluster: LocalCluster,
    kube: Kube,
    webhook_namespace: str,
    shipped_cluster_objects: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """Credentials of the webhook's ServiceAccount, bound to the shipped ClusterRole."""
    binding = f"spot-failover-webhook-test-{webhook_namespace}"
    kube.rbac.create_cluster_role_binding(
        {
            "metadata": {"name": binding},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "spot-failover-webhook",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": WEBHOOK_ACCOUNT, "namespace": webhook_namespace}
            ],
        }
    )
    token = kube.core.create_namespaced_service_account_token(
        WEBHOOK_ACCOUNT, webhook_namespace, {"spec": {"audiences": [], "expirationSeconds": 7200}}
    ).status.token
    path = tmp_path_factory.mktemp("webhook-identity") / "kubeconfig"
    yield cluster.kubeconfig_for_token(token, path)
    kube.rbac.delete_cluster_role_binding(binding)


@pytest.fixture(scope="package")
def policy_bindings(
    kube: Kube, webhook_namespace: str, shipped_cluster_objects: None
) -> Iterator[None]:
    """The shipped admission policies' bindings, limited to the test namespace (but UNSCOPED)."""
    admission = kube.dynamic.resources.get(
        api_version="admissionregistration.k8s.io/v1", kind="ValidatingAdmissionPolicyBinding"
    )
    names = []
    shipped_bindings = [
        doc
        for path in POLICY_FILES
        for doc in shipped(path)
        if doc["kind"] == "ValidatingAdmissionPolicyBinding"
    ]
    for binding in shipped_bindings:
        spec = dict(binding["spec"])
        name = f"{spec['policyName']}-{webhook_namespace}"
        if spec["policyName"] not in UNSCOPED:
            spec["matchResources"] = {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": webhook_namespace}
                }
            }
        admission.create(
            body={
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": name},
                "spec": spec,
            }
        )
        names.append(name)
    yield
    for name in names:
        admission.delete(name=name)


@pytest.fixture(scope="package")
def running_webhook(
    kube: Kube,
    webhook_tls: Tls,
    webhook_namespace: str,
    webhook_kubeconfig: Path,
    policy_bindings: None,
) -> Iterator[RunningWebhook]:
    """The webhook, serving admission for ``webhook_namespace`` through the API server."""
    with (
        RunningWebhook(settings(webhook_tls, webhook_kubeconfig, webhook_namespace)) as running,
        admission_configured(kube, running, webhook_tls, webhook_namespace),
    ):
        yield running


class admission_configured:  # noqa: N801 - used as a context manager, reads as a phrase
    """Register ``running`` with the API server for ``namespace``; wait until it is called.

    The configuration is deleted on exit, whether or not ``running`` still runs.
    """

    def __init__(self, kube: Kube, running: RunningWebhook, tls: Tls, namespace: str) -> None:
        self.kube = kube
        self.running = running
        self.namespace = namespace
        self.manifest = webhook_configuration(
            f"spot-failover-test-{namespace}", namespace, running.url, tls.ca_pem
        )
        self.name = self.manifest["metadata"]["name"]

    def __enter__(self) -> None:
        self.kube.apply([self.manifest])
        wait_until_called(self.kube, self.running, self.namespace)

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.kube.dynamic.resources.get(
                api_version="admissionregistration.k8s.io/v1", kind="MutatingWebhookConfiguration"
            ).delete(name=self.name)
        except ApiException as error:
            if error.status != 404:
                raise


def wait_until_called(kube: Kube, running: RunningWebhook, namespace: str) -> None:
    """Dry-run a bare pod until the webhook counts it: the API server has loaded the config."""
    probe = f"probe-{uuid.uuid4().hex[:6]}"
    metric = "spot_failover_webhook_skipped_total"

    def called() -> bool:
        before = running.metric(metric, reason="bare_pod")
        kube.core.create_namespaced_pod(namespace, _bare_pod(probe), dry_run="All")
        return running.metric(metric, reason="bare_pod") > before

    wait_for(called, 30, "the API server to call the webhook")
