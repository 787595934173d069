"""Acting as one of spot-failover's identities on the real API server, and what it was told.

Every attempt is a dry run (admission and RBAC decide exactly as for a real write, and nothing
is stored), and its outcome is the HTTP status the API server answered: 2xx allowed, 403
refused (by RBAC or by an admission policy: :func:`by_policy` tells which).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.waiting import wait_for

RBAC = "rbac.authorization.k8s.io"
MANAGED = {
    "app.kubernetes.io/managed-by": "spot-failover",
    "app.kubernetes.io/component": "sidecar-rbac",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def api_for(kubeconfig: Path) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


def api_for_token(cluster: LocalCluster, token: str, directory: Path) -> client.ApiClient:
    path = directory / f"kubeconfig-{uuid.uuid4().hex[:6]}"
    return api_for(cluster.kubeconfig_for_token(token, path))


def status(call: Callable[[], object]) -> int:
    """The HTTP status the API server answered ``call`` with."""
    try:
        call()
    except ApiException as error:
        return int(error.status)
    return 200  # any success


def refusal(call: Callable[[], object]) -> ApiException | None:
    try:
        call()
    except ApiException as error:
        return error
    return None


def by_policy(error: ApiException | None) -> bool:
    return (
        error is not None and error.status == 403 and "ValidatingAdmissionPolicy" in str(error.body)
    )


def refused_by_policy(call: Callable[[], object], what: str) -> ApiException:
    """Wait (for the policy to be loaded) until ``call`` is refused by an admission policy."""

    def refused() -> ApiException | None:
        error = refusal(call)
        return error if by_policy(error) else None

    return wait_for(refused, 20, f"the admission policy to refuse {what}")


def role_binding(
    name: str, namespace: str, role: dict[str, str], subjects: list[dict[str, str]], **meta: Any
) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "roleRef": {"apiGroup": RBAC, **role},
        "subjects": subjects,
    }


def account(name: str, namespace: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def refused(call: Callable[[], object], what: str) -> ApiException:
    """Wait until ``call`` is refused (403), by RBAC or by an admission policy."""

    def forbidden() -> ApiException | None:
        error = refusal(call)
        return error if error is not None and error.status == 403 else None

    return wait_for(forbidden, 20, f"the API server to refuse {what}")
