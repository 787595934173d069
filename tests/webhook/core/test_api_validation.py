"""The real API server accepts every pod injection produces (server-side dry run).

Golden files pin what injection writes; only the API server can say that it is a valid pod:
a restartable init container with ports, the projected token next to the built-in one, the
admission plugins that run after the webhook. And a pod that meets the ``restricted`` Pod
Security Standard must still meet it with the sidecar.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes.client.rest import ApiException

from devtools.controlplane.kube import Kube
from spot_common import contract
from webhook.core.injection import inject

from .pods import CONFIG, OPTED_IN, deployment_pod
from .test_golden import CASES, GOLDEN, Case

pytestmark = pytest.mark.cluster


@contextlib.contextmanager
def scratch_namespace(kube: Kube, labels: dict[str, str] | None = None) -> Iterator[str]:
    """A namespace with the ServiceAccounts the golden pods name."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.create_namespace(name, labels)
    for account in ("web", "pricing"):
        kube.core.create_namespaced_service_account(name, {"metadata": {"name": account}})
    try:
        yield name
    finally:
        kube.delete_namespace(name)


@pytest.fixture(scope="module")
def plain_namespace(kube: Kube) -> Iterator[str]:
    with scratch_namespace(kube) as name:
        yield name


@pytest.fixture(scope="module")
def restricted_namespace(kube: Kube) -> Iterator[str]:
    """A namespace that enforces the ``restricted`` Pod Security Standard."""
    with scratch_namespace(kube, {"pod-security.kubernetes.io/enforce": "restricted"}) as name:
        yield name


def dry_run_create(kube: Kube, namespace: str, pod: dict[str, Any]) -> Any:
    body = copy.deepcopy(pod)
    body["metadata"]["namespace"] = namespace
    return kube.core.create_namespaced_pod(namespace, body, dry_run="All")


def sidecar_of(pod: Any) -> Any:
    containers = [*(pod.spec.init_containers or []), *pod.spec.containers]
    (sidecar,) = [c for c in containers if c.name == contract.SIDECAR_CONTAINER]
    return sidecar


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_api_server_accepts_every_golden_pod(
    kube: Kube, plain_namespace: str, case: Case
) -> None:
    after = yaml.safe_load((GOLDEN / f"{case.name}.after.yaml").read_text(encoding="utf-8"))
    created = dry_run_create(kube, plain_namespace, after)
    sidecar = sidecar_of(created)
    mounts = [m.mount_path for m in sidecar.volume_mounts]
    assert mounts.count("/var/run/secrets/kubernetes.io/serviceaccount") == 1


def test_a_restricted_pod_stays_admissible_with_the_sidecar(
    kube: Kube, restricted_namespace: str
) -> None:
    app = {
        "name": "app",
        "image": "registry.example.com/shop/web:2.4.1",
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    for native in (True, False):
        config = dataclasses.replace(CONFIG, native_sidecar=native)
        pod = inject(deployment_pod(containers=[app]), "web", OPTED_IN, config).pod
        dry_run_create(kube, restricted_namespace, pod)


def test_the_api_server_would_refuse_a_windows_pod_with_the_sidecar(
    kube: Kube, plain_namespace: str
) -> None:
    """Why selection skips Windows pods instead of injecting them."""
    pod = inject(deployment_pod(os={"name": "windows"}), "web", OPTED_IN, CONFIG).pod
    with pytest.raises(ApiException) as refused:
        dry_run_create(kube, plain_namespace, pod)
    assert refused.value.status == 422
    assert "securityContext" in str(refused.value.body)
