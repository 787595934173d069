"""The chart installed on the local control plane, with its programs run as local processes.

No image runs here: kwok plays the kubelets, so a pod is Running without a container. What a
pod of the chart would run is run here as a process instead, as exactly that pod would run it:

* the webhook: ``python -m webhook`` (the image's entry point) with the args and environment of
  the webhook container of the Deployment *as helm left it in the cluster*, authenticated as the
  chart's ServiceAccount (a TokenRequest token), so the chart's ClusterRole, bindings and
  admission policies are what govern it. What a pod gets from the cluster instead is wired here:
  it serves on 127.0.0.1 with a throwaway CA's certificate (the chart's webhook configuration is
  pointed at it with ``webhook.url`` and ``certificates.mode=provided``), and reads its token from
  a kubeconfig;
* the certificate Job's program: ``python -m webhook bootstrap-certs`` with the Job's args and
  ``POD_NAMESPACE`` (its downward-API variable), as the chart's certgen ServiceAccount.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import requests
from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.processes import ManagedProcess, free_port
from devtools.controlplane.waiting import wait_for
from devtools.metrics_scrape import scrape
from devtools.webhook_tls import HOST, Tls
from webhook.server import PATH
from webhook.settings import env_name

WEBHOOK_ACCOUNT: Final = "spot-failover-webhook"
CERTGEN_ACCOUNT: Final = "spot-failover-webhook-certgen"
WIRED: Final = (
    "listen_address",
    "port",
    "health_port",
    "tls_cert_file",
    "tls_key_file",
    "kubeconfig",
)
_DROPPED_ENV: Final = ("SPOT_FAILOVER_", "KUBECONFIG", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def base_env() -> dict[str, str]:
    """Ours (the project's Python), minus anything that would point a program elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_DROPPED_ENV)}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


def token_kubeconfig(
    cluster: LocalCluster, kube: Kube, namespace: str, account: str, path: Path
) -> Path:
    token = kube.core.create_namespaced_service_account_token(
        account, namespace, {"spec": {"audiences": [], "expirationSeconds": 3600}}
    ).status.token
    return cluster.kubeconfig_for_token(token, path)


def container(pod_spec: Mapping[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in pod_spec["containers"] if c["name"] == name]
    return dict(found)


class ChartWebhook:
    """The webhook process of the chart's Deployment; see the module doc."""

    def __init__(
        self, cluster: LocalCluster, kube: Kube, namespace: str, tls: Tls, work_dir: Path
    ) -> None:
        self.cluster = cluster
        self.kube = kube
        self.namespace = namespace
        self.tls = tls
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.health_port = free_port()
        self.url = f"https://{HOST}:{self.port}{PATH}"
        self.process: ManagedProcess | None = None

    def start(self) -> None:
        """Start as the Deployment now says (again after an upgrade: as a rollout would)."""
        live = self.kube.apps.read_namespaced_deployment("spot-failover-webhook", self.namespace)
        spec = self.kube.api.sanitize_for_serialization(live.spec.template.spec)
        webhook = container(spec, "webhook")
        env = {item["name"]: item["value"] for item in webhook.get("env", [])}
        wired = {env_name(field) for field in WIRED}
        assert not wired & env.keys(), "the chart sets what a pod gets from its wiring"
        kubeconfig = token_kubeconfig(
            self.cluster, self.kube, self.namespace, WEBHOOK_ACCOUNT, self.work_dir / "kubeconfig"
        )
        wiring = {
            "listen_address": HOST,
            "port": str(self.port),
            "health_port": str(self.health_port),
            "tls_cert_file": str(self.tls.serving.cert),
            "tls_key_file": str(self.tls.serving.key),
            "kubeconfig": str(kubeconfig),
        }
        self.process = ManagedProcess(
            "webhook",
            [sys.executable, "-m", "webhook", *webhook["args"]],
            self.work_dir / "logs",
            env={**base_env(), **env, **{env_name(k): v for k, v in wiring.items()}},
            ports=(self.port, self.health_port),
        )
        self._wait_ready()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(grace_s=30)
            self.process = None

    def _wait_ready(self) -> None:
        with requests.Session() as session:
            session.trust_env = False

            def ready() -> bool:
                assert self.process is not None
                assert self.process.alive(), self.process.tail()
                try:
                    url = f"http://{HOST}:{self.health_port}/readyz"
                    return session.get(url, timeout=2).status_code == 200
                except requests.ConnectionError:
                    return False

            wait_for(ready, 60, "the webhook process to be ready")

    def wait_until_called(self, namespace: str) -> None:
        """Dry-run a bare pod until the webhook counts it: the API server calls it now."""
        metric = "spot_failover_webhook_skipped_total"
        metrics = f"http://{HOST}:{self.health_port}/metrics"
        probe = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"probe-{uuid.uuid4().hex[:6]}"},
            "spec": {"containers": [{"name": "probe", "image": "registry.example/probe:1"}]},
        }

        def called() -> bool:
            before = scrape(metrics).value(metric, reason="bare_pod")
            self.kube.core.create_namespaced_pod(namespace, probe, dry_run="All")
            return scrape(metrics).value(metric, reason="bare_pod") > before

        wait_for(called, 30, "the API server to call the webhook process")

    def log(self) -> str:
        path = self.work_dir / "logs" / "webhook.log"
        return path.read_text() if path.exists() else ""


def run_certgen(
    cluster: LocalCluster, kube: Kube, namespace: str, job: Mapping[str, Any], work_dir: Path
) -> ManagedProcess:
    """Run the certificate Job's program to its end, as its pod would; return the process."""
    spec = job["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == CERTGEN_ACCOUNT
    certgen = container(spec, "certgen")
    env: dict[str, str] = {}
    for item in certgen.get("env", []):
        field = item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        assert field == "metadata.namespace", item  # the only downward-API variable it has
        env[item["name"]] = namespace
    kubeconfig = token_kubeconfig(
        cluster, kube, namespace, CERTGEN_ACCOUNT, work_dir / "certgen-kubeconfig"
    )
    process = ManagedProcess(
        "certgen",
        [sys.executable, "-m", "webhook", *certgen["args"], "--kubeconfig", str(kubeconfig)],
        work_dir / "logs",
        env={**base_env(), **env},
    )
    try:
        process.popen.wait(timeout=60)
    finally:
        process.stop()
    return process


def still_there(kube: Kube, objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """Which of ``objects`` exist (kind/name); empty: all gone."""
    left = []
    for obj in objects:
        resource = kube.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        metadata = obj["metadata"]
        try:
            resource.get(
                name=metadata["name"],
                namespace=metadata.get("namespace") if resource.namespaced else None,
            )
        except ApiException as error:
            if error.status == 404:
                continue
            raise
        left.append(f"{obj['kind']}/{metadata['name']}")
    return left


SHIPPED_CLUSTER_OBJECTS: Final = (
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
)


def clear_shipped_definitions(kube: Kube, names: Iterable[tuple[str, str]]) -> None:
    """Delete the cluster-scoped objects of these (kind, name)s that helm does not own.

    Other tests of the same session apply deploy/'s shared definitions (ClusterRoles,
    admission policies) under their shipped names and leave them for the next; a cluster that
    meets spot-failover for the first time has none, and helm refuses to adopt objects it did
    not create.
    """
    wanted = set(names)
    for api_version, kind in SHIPPED_CLUSTER_OBJECTS:
        resource = kube.dynamic.resources.get(api_version=api_version, kind=kind)
        for item in resource.get().items:
            name = item.metadata.name
            annotations = dict(item.metadata.annotations or {})
            if (kind, name) in wanted and "meta.helm.sh/release-name" not in annotations:
                resource.delete(name=name)
