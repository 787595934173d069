"""What a move adds to the sidecar's rights, and nothing more, with a real pod-bound token.

A move sets the fast strategy while saving the user's, gives it back, and marks the doomed
node's pods with the lowest deletion cost. The sidecar's identity may do exactly that: along
user → move → user's again for ``spec.strategy`` (the shipped policy compares the saved form),
and on pods only that one annotation, only on its own account's pods. Single changes beyond
that (a pod's labels, spec or image, another account's pods, an arbitrary strategy) are attempts
of the list in devtools/security/attempts.py, made in tests/webhook/test_escalation.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from devtools.controlplane.kube import Kube
from devtools.controlplane.waiting import wait_for
from devtools.security.identities import by_policy
from spot_common import contract

from .test_rbac import Sidecar, account, sidecar

pytestmark = pytest.mark.cluster

__all__ = ["account", "sidecar"]  # fixtures, shared with the RBAC tests

FAST = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}}
DEFAULTS_SAVED = "RollingUpdate:1:0"
"""The saved form of the test Deployment's own strategy (maxSurge 1, maxUnavailable 0)."""
COST = contract.POD_DELETION_COST


def strategy_patch(strategy: dict[str, Any], saved: str | None) -> dict[str, Any]:
    return {
        "metadata": {"annotations": {contract.SAVED_STRATEGY: saved}},
        "spec": {"strategy": strategy},
    }


def rolling(surge: int | str, unavailable: int | str) -> dict[str, Any]:
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }


def refused_by_policy(attempt: Callable[[], object]) -> ApiException:
    """The policy's refusal of ``attempt`` (retried while the new policy is not in force yet)."""

    def refused() -> ApiException | None:
        try:
            attempt()
        except ApiException as error:
            return error if by_policy(error) else None
        return None

    return wait_for(refused, 20, "the admission policy to refuse the change")


def test_the_sidecar_may_set_the_moves_strategy_and_give_the_saved_one_back(
    sidecar: Sidecar,
) -> None:
    before = sidecar.read()["spec"]["strategy"]

    sidecar.patch(strategy_patch(FAST, DEFAULTS_SAVED))
    moved = sidecar.read()
    assert moved["spec"]["strategy"] == FAST
    assert moved["metadata"]["annotations"][contract.SAVED_STRATEGY] == DEFAULTS_SAVED

    sidecar.patch(strategy_patch(before, None))
    assert sidecar.read()["spec"]["strategy"] == before


@pytest.mark.parametrize(
    "change",
    [  # an arbitrary one, every pod down at once, Recreate: devtools/security/attempts.py
        pytest.param(
            strategy_patch(FAST, "RollingUpdate:100%:100%"), id="the move's saving another"
        ),
        pytest.param(strategy_patch(FAST, None), id="the move's saving nothing"),
        pytest.param(strategy_patch(rolling("100%", 1), None), id="the quota fit with no quota"),
    ],
)
def test_the_sidecar_may_not_set_any_other_strategy(
    sidecar: Sidecar, change: dict[str, Any]
) -> None:
    error = refused_by_policy(lambda: sidecar.patch(change, dry_run=True))
    assert "spec.strategy" in str(error.body)


def test_mid_move_the_saved_strategy_cannot_be_swapped_nor_another_one_restored(
    sidecar: Sidecar,
) -> None:
    sidecar.patch(strategy_patch(FAST, DEFAULTS_SAVED))

    swap = {"metadata": {"annotations": {contract.SAVED_STRATEGY: "RollingUpdate:100%:100%"}}}
    refused_by_policy(lambda: sidecar.patch(swap, dry_run=True))
    other = strategy_patch(rolling("25%", "25%"), None)
    refused_by_policy(lambda: sidecar.patch(other, dry_run=True))
    sidecar.patch(strategy_patch(rolling(1, 0), None))  # exactly what was saved


# --- pods -------------------------------------------------------------------------------------


def own_pod(kube: Kube, sidecar: Sidecar) -> str:
    pods = kube.core.list_namespaced_pod(sidecar.namespace, label_selector=f"app={sidecar.name}")
    return str(pods.items[0].metadata.name)


def annotations_of(kube: Kube, namespace: str, pod: str) -> dict[str, str]:
    return dict(kube.core.read_namespaced_pod(pod, namespace).metadata.annotations or {})


def test_the_sidecar_may_give_its_pods_the_doomed_deletion_cost_and_take_it_away(
    kube: Kube, sidecar: Sidecar
) -> None:
    core, pod = client.CoreV1Api(sidecar.api), own_pod(kube, sidecar)

    def cost(value: str | None) -> None:
        core.patch_namespaced_pod(
            pod, sidecar.namespace, {"metadata": {"annotations": {COST: value}}}
        )

    wait_for(lambda: _allowed(lambda: cost(contract.DOOMED_POD_DELETION_COST)), 20, "the grant")
    assert annotations_of(kube, sidecar.namespace, pod)[COST] == contract.DOOMED_POD_DELETION_COST
    cost(None)
    assert COST not in annotations_of(kube, sidecar.namespace, pod)


def _allowed(attempt: Callable[[], object]) -> bool:
    try:
        attempt()
    except ApiException as error:
        if error.status == 403:
            return False  # the Role or the policy binding is not in force yet
        raise
    return True


def test_a_deletion_cost_someone_else_set_stays(kube: Kube, sidecar: Sidecar) -> None:
    core, pod = client.CoreV1Api(sidecar.api), own_pod(kube, sidecar)
    kube.core.patch_namespaced_pod(
        pod, sidecar.namespace, {"metadata": {"annotations": {COST: "100"}}}
    )
    for value in (None, contract.DOOMED_POD_DELETION_COST):
        change = {"metadata": {"annotations": {COST: value}}}

        def attempt(change: dict[str, Any] = change) -> object:
            return core.patch_namespaced_pod(pod, sidecar.namespace, change, dry_run="All")

        refused_by_policy(attempt)
