"""``spot-failover check`` against the local control plane: a healthy install (the real webhook
process with deploy/'s identity and configuration, :mod:`devtools.local_webhook`), then each
broken install it claims to detect, one at a time."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devtools.controlplane import pki
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.waiting import wait_for
from devtools.local_webhook import LocalWebhook
from devtools.scenario import deployment
from devtools.webhook_tls import make_tls
from spot_common import contract
from webhook.core import rbac
from webhook.core.injection import has_sidecar

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]


def admission(kube: Kube) -> client.AdmissionregistrationV1Api:
    return client.AdmissionregistrationV1Api(kube.api)


def check(
    cluster: LocalCluster, namespace: str, configuration: str, home: Path, *extra: str
) -> tuple[int, dict[str, dict[str, Any]]]:
    """Exit code and ``{group/check: result}`` of ``spot-failover check -o json``."""
    result = subprocess.run(
        [
            sys.executable, "-W", "error", "-m", "spot_failover", "check", "-n", namespace,
            "-o", "json", f"--kubeconfig={cluster.kubeconfig}",
            f"--webhook-configuration={configuration}", *extra,
        ],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
             "NO_PROXY": "127.0.0.1,localhost"},
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["success"] == (result.returncode == 0)
    found: dict[str, dict[str, Any]] = {}
    for entry in document["results"]:
        found.setdefault(f"{entry['group']}/{entry['check']}", entry)
        if entry["status"] != "ok":  # the worst of a check's results is the one that counts
            found[f"{entry['group']}/{entry['check']}"] = entry
    return result.returncode, found


def statuses(found: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {key: entry["status"] for key, entry in found.items()}


def opted_in(kube: Kube, namespace: str, name: str, replicas: int, **strategy: Any) -> None:
    body = deployment(name, replicas=replicas)
    body["metadata"]["annotations"] = {contract.ENABLED: "true"}
    body["spec"]["strategy"] = strategy or {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0},
    }
    kube.apps.create_namespaced_deployment(namespace, body)


def injected_pods(kube: Kube, namespace: str, name: str, count: int) -> None:
    def ready() -> bool:
        pods = kube.core.list_namespaced_pod(namespace, label_selector=f"app={name}").items
        return len(pods) == count and all(
            has_sidecar(kube.api.sanitize_for_serialization(pod)) for pod in pods
        )

    wait_for(ready, 60, f"{count} pods of {name} with the sidecar")


@pytest.fixture
def install(
    cluster: LocalCluster, kube: Kube, namespace: str, tmp_path: Path
) -> Iterator[LocalWebhook]:
    """A healthy install and one opted-in Deployment, web, whose 2 pods run the sidecar."""
    with LocalWebhook(cluster, kube, tmp_path / "webhook", namespaces=[namespace]) as webhook:
        opted_in(kube, namespace, "web", replicas=2)
        injected_pods(kube, namespace, "web", 2)
        wait_for(
            lambda: bool(
                kube.rbac.list_namespaced_role(
                    namespace, field_selector=f"metadata.name={rbac.role_name('web')}"
                ).items
            ),
            30,
            "the sidecar's Role",
        )
        yield webhook


HEALTHY = {
    "install/webhook-configuration": "ok",
    "install/service": "unknown",  # the local webhook is called by URL
    "install/certificate": "ok",
    "install/ca-bundle": "ok",
    "install/certificate-names": "ok",
    "install/admission-policy": "ok",
}


def web(namespace: str, **checks: str) -> dict[str, str]:
    wanted = {
        "pods-injected": "ok",
        "rbac": "ok",
        "rollout-strategy": "ok",
        "imds": "ok",
        "fargate-profile": "unknown",  # not knowable from inside the cluster
        **checks,
    }
    return {f"Deployment {namespace}/web/{check}": status for check, status in wanted.items()}


def test_a_healthy_install_passes_and_says_what_it_cannot_know(
    cluster: LocalCluster, install: LocalWebhook, namespace: str, tmp_path: Path
) -> None:
    code, found = check(cluster, namespace, install.configuration_name, tmp_path)

    assert code == 0
    assert statuses(found) == {**HEALTHY, **web(namespace)}
    fargate = found[f"Deployment {namespace}/web/fargate-profile"]
    assert "cannot be known from inside the cluster" in fargate["message"]
    assert "spot-failover/fargate=true" in fargate["hint"]


def test_the_text_output_reads_like_linkerd_check(
    cluster: LocalCluster, install: LocalWebhook, namespace: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spot_failover", "check", "-n", namespace,
         f"--kubeconfig={cluster.kubeconfig}",
         f"--webhook-configuration={install.configuration_name}"],
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "NO_PROXY": "127.0.0.1"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["install", "-------"]
    assert f"√ the MutatingWebhookConfiguration {install.configuration_name} exists" in lines
    assert lines[-1].startswith("Status check results: spot-failover can work as installed")


def test_a_missing_webhook_configuration_fails(
    cluster: LocalCluster, install: LocalWebhook, namespace: str, tmp_path: Path
) -> None:
    code, found = check(cluster, namespace, "spot-failover-nowhere", tmp_path)

    assert code == 1
    assert found["install/webhook-configuration"]["status"] == "fail"
    assert "kubectl apply -k deploy/" in found["install/webhook-configuration"]["hint"]


def test_a_ca_bundle_that_did_not_issue_the_serving_certificate_fails(
    cluster: LocalCluster, kube: Kube, install: LocalWebhook, namespace: str, tmp_path: Path
) -> None:
    stranger = base64.b64encode(make_tls(tmp_path / "stranger").ca_pem).decode()
    name = install.configuration_name
    configuration = admission(kube).read_mutating_webhook_configuration(name)
    patch = [
        {"op": "replace", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": stranger}
        for i in range(len(configuration.webhooks))
    ]
    admission(kube).patch_mutating_webhook_configuration(name, patch)

    code, found = check(cluster, namespace, name, tmp_path)

    assert code == 1
    assert found["install/ca-bundle"]["status"] == "fail"
    assert found["install/certificate"]["status"] == "ok"


def test_an_unbound_admission_policy_fails(
    cluster: LocalCluster, kube: Kube, install: LocalWebhook, namespace: str, tmp_path: Path
) -> None:
    bindings = admission(kube).list_validating_admission_policy_binding().items
    (ours,) = [
        b
        for b in bindings
        if b.spec.policy_name == "spot-failover-sidecar-scope"
        and b.metadata.name.endswith(install.identity.namespace)
    ]
    admission(kube).delete_validating_admission_policy_binding(ours.metadata.name)
    others = [
        b for b in bindings if b.spec.policy_name == "spot-failover-sidecar-scope" and b is not ours
    ]
    assert not others, "another binding of the policy would make the check pass"

    code, found = check(cluster, namespace, install.configuration_name, tmp_path)

    assert code == 1
    policy = found["install/admission-policy"]
    assert policy["status"] == "fail"
    assert "spot-failover-sidecar-scope is not bound" in policy["message"]


def test_missing_sidecar_rbac_fails(
    cluster: LocalCluster, kube: Kube, install: LocalWebhook, namespace: str, tmp_path: Path
) -> None:
    install.stop()  # so that nothing repairs it before the check
    kube.rbac.delete_namespaced_role(rbac.role_name("web"), namespace)

    code, found = check(cluster, namespace, install.configuration_name, tmp_path)

    assert code == 1
    assert found[f"Deployment {namespace}/web/rbac"]["status"] == "fail"
    assert "Role" in found[f"Deployment {namespace}/web/rbac"]["message"]


def test_pods_created_while_the_webhook_was_down_fail_with_their_names(
    cluster: LocalCluster, kube: Kube, install: LocalWebhook, namespace: str, tmp_path: Path
) -> None:
    install.stop()
    kube.apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 3}})
    wait_for(
        lambda: len(kube.core.list_namespaced_pod(namespace, label_selector="app=web").items) == 3,
        60,
        "a third pod",
    )

    code, found = check(cluster, namespace, install.configuration_name, tmp_path)

    assert code == 1
    injected = found[f"Deployment {namespace}/web/pods-injected"]
    assert injected["status"] == "fail"
    assert injected["message"].startswith("1 of 3 pods run without the sidecar: web-")
    assert injected["hint"] == f"kubectl rollout restart deployment/web -n {namespace}"
    assert found["install/certificate"]["status"] == "unknown", "nobody serves at the URL now"


def test_a_rollout_in_batches_and_imds_unreachable_are_warnings(
    cluster: LocalCluster, kube: Kube, install: LocalWebhook, namespace: str, tmp_path: Path
) -> None:
    kube.apps.patch_namespaced_deployment(
        "web", namespace, {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}}
    )
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kube.core.create_namespaced_event(
        namespace,
        {
            "metadata": {"name": f"web.imds-{uuid.uuid4().hex[:6]}"},
            "involvedObject": {"kind": "Deployment", "name": "web", "namespace": namespace,
                               "apiVersion": "apps/v1"},
            "reason": "ImdsUnreachable",
            "message": "IMDS is unreachable from this pod (token request timed out)",
            "type": "Warning",
            "firstTimestamp": now,
            "lastTimestamp": now,
        },
    )  # fmt: skip

    code, found = check(cluster, namespace, install.configuration_name, tmp_path)

    assert code == 0, "warnings do not fail the check"
    assert statuses(found) == {
        **HEALTHY,
        **web(namespace, **{"rollout-strategy": "warn", "imds": "warn"}),
    }
    assert "in 2 batches" in found[f"Deployment {namespace}/web/rollout-strategy"]["message"]


def test_a_service_without_endpoints_and_an_expiring_certificate_fail(
    cluster: LocalCluster, kube: Kube, install: LocalWebhook, namespace: str, tmp_path: Path
) -> None:
    """A configuration that calls a Service, as deploy/'s does, where no replica is Ready and
    the certificate in the Secret expires in five days."""
    tls = install.tls
    assert tls is not None
    host = f"hook.{namespace}.svc"
    leaf = pki.issue(
        tmp_path, tls.ca, tls.ca_key, "expiring", common_name=host, server=True, hosts=(host,),
        validity=dt.timedelta(days=5),
    )  # fmt: skip
    kube.core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "hook-tls"},
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": base64.b64encode(leaf.cert.read_bytes()).decode(),
                "tls.key": base64.b64encode(leaf.key.read_bytes()).decode(),
            },
        },
    )
    kube.core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "hook"},
            "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 443, "targetPort": 9443}]},
        },
    )
    name = f"check-test-{namespace}"
    admission(kube).create_mutating_webhook_configuration(
        {
            "metadata": {"name": name},
            "webhooks": [
                {
                    "name": "check-test.spot-failover.io",
                    "clientConfig": {
                        "service": {"namespace": namespace, "name": "hook", "port": 443},
                        "caBundle": base64.b64encode(tls.ca_pem).decode(),
                    },
                    "rules": [
                        {
                            "operations": ["CREATE"],
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "resources": ["pods"],
                        }
                    ],
                    "objectSelector": {"matchLabels": {"spot-failover-check-test": "never"}},
                    "failurePolicy": "Ignore",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                }
            ],
        }
    )
    try:
        code, found = check(cluster, namespace, name, tmp_path, "--tls-secret=hook-tls")
    finally:
        admission(kube).delete_mutating_webhook_configuration(name)

    assert code == 1
    assert found["install/service"]["status"] == "ok"
    assert found["install/endpoints"]["status"] == "fail"
    assert found["install/certificate"]["status"] == "fail"
    assert "expires in 4 days" in found["install/certificate"]["message"]
    assert found["install/ca-bundle"]["status"] == "ok"
    assert found["install/certificate-names"]["status"] == "ok"
