"""Acting as one of spot-failover's identities on the real API server, and what it was told.

An identity is an API client that authenticates with that identity's own token (a TokenRequest
of its ServiceAccount, bound to a pod where the identity is a pod's). An attempt is a call made
with it, in dry run (admission and RBAC decide exactly as for a real write, and nothing is
stored); what it was told is the HTTP status the API server answered, and for a 403 who refused
it: RBAC, or the ValidatingAdmissionPolicy that the body names.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Final

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster

REFUSALS: Final = frozenset({401, 403})
"""Not authenticated, not authorized (by RBAC or admission): any other answer let it through."""
RBAC: Final = "RBAC"
"""Who refused a 403 whose body names no admission policy: the authorizer."""
_POLICY: Final = re.compile(r"ValidatingAdmissionPolicy '([^']+)'")


def api_for(kubeconfig: Path) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


def api_for_token(cluster: LocalCluster, token: str, directory: Path) -> client.ApiClient:
    path = directory / f"kubeconfig-{uuid.uuid4().hex[:6]}"
    return api_for(cluster.kubeconfig_for_token(token, path))


def service_account_token(
    core: client.CoreV1Api, namespace: str, account: str, expiration_s: int = 7200
) -> str:
    """A TokenRequest token of ``account``, bound to nothing (as a Job's or a controller's)."""
    body = {"spec": {"audiences": [], "expirationSeconds": expiration_s}}
    token: str = core.create_namespaced_service_account_token(account, namespace, body).status.token
    return token


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the API server answered one call: its status, and who refused it (403 only)."""

    status: int
    refused_by: str | None = None
    """:data:`RBAC`, or the name of the admission policy that denied the request."""
    message: str = ""

    @property
    def allowed(self) -> bool:
        return 200 <= self.status < 300


def refused_by(error: ApiException) -> str | None:
    """Who refused ``error``: the admission policy its body names, else RBAC (403 only)."""
    if error.status != 403:
        return None
    found = _POLICY.search(str(error.body))
    return found.group(1) if found else RBAC


def answer(call: Callable[[], object]) -> Answer:
    """Make ``call`` and say what the API server answered."""
    try:
        call()
    except ApiException as error:
        return Answer(int(error.status), refused_by(error), str(error.body or error.reason))
    return Answer(200)  # any success


def status(call: Callable[[], object]) -> int:
    """The HTTP status the API server answered ``call`` with."""
    return answer(call).status


def refusal(call: Callable[[], object]) -> ApiException | None:
    try:
        call()
    except ApiException as error:
        return error
    return None


def by_policy(error: ApiException | None) -> bool:
    """Refused (403) by an admission policy, not by RBAC."""
    return error is not None and refused_by(error) not in {None, RBAC}
