"""A user opts a Deployment out (``spot-failover/enabled: "false"``) while it is moving.

What a careful user expects, and what is asserted here: opting out is a hands-off switch, not
an undo. From that moment spot-failover writes nothing more to the Deployment: no transition,
no template change, no Event of a move. It leaves the Deployment as it finds it — the rollout
that Kubernetes had already started runs to its end, so the pods land where the template
already points (Fargate) — and keeps its annotations as the record of where it stopped (state
``Migrating``, ``saved-scheduling`` to restore by hand), which ``spot-failover status`` shows
with ENABLED false. Pods created from then on get no sidecar, and the webhook withdraws the
sidecars' Role and RoleBinding. The leader lets the Lease go, and the sidecars still running
idle instead of failing: none of them exits with an error (a crash loop in a real pod).
(Whether the Lease is released or just left to expire depends on whether the webhook withdrew
the Role first; either way nobody renews it.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubernetes.client.rest import ApiException

from devtools.controlplane.waiting import wait_for
from devtools.scenario import Scenario, live
from spot_common import contract
from spot_common.contract import State
from webhook.core import rbac
from webhook.core.injection import has_sidecar

from .observe import deployment_path, pod_writes, slow_rollout, status, transitions

pytestmark = pytest.mark.cluster


def role_gone(failover: Scenario, name: str) -> bool:
    try:
        failover.kube.rbac.read_namespaced_role(rbac.role_name(name), failover.namespace)
    except ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def lease_free(failover: Scenario, name: str) -> bool:
    """Released, or expired: nobody renews it (a release may itself be refused once the
    webhook has withdrawn the Role)."""
    spec = failover.kube.coordination.read_namespaced_lease(
        contract.lease_name(name), failover.namespace
    ).spec
    if not spec.holder_identity or spec.renew_time is None:
        return True
    return bool(
        spec.renew_time + timedelta(seconds=spec.lease_duration_seconds) < datetime.now(UTC)
    )


def test_opting_out_mid_move_stops_every_write_and_leaves_the_deployment_as_it_is(
    failover: Scenario, tmp_path: Path
) -> None:
    failover.create("web", replicas=3, tweak=slow_rollout(4))
    failover.imds.set_notice(failover.busiest_spot_node("web"))
    failover.wait_state("web", State.MIGRATING)
    before = failover.read("web")

    opted_out = datetime.now(UTC)
    failover.kube.apps.patch_namespaced_deployment(
        "web", failover.namespace, {"metadata": {"annotations": {contract.ENABLED: "false"}}}
    )

    wait_for(lambda: lease_free(failover, "web"), 30, "the leader to let the Lease go")
    wait_for(lambda: role_gone(failover, "web"), 30, "the webhook to withdraw the sidecar Role")
    failover.wait_rolled_out("web")
    # The move started every replacement at once, before the opt-out: have one more created.
    pods_before = {p["metadata"]["name"] for p in failover.pods("web")}
    victim = min(p["metadata"]["name"] for p in failover.pods("web") if live(p))
    failover.kube.core.delete_namespaced_pod(victim, failover.namespace)
    wait_for(
        lambda: victim not in {p["metadata"]["name"] for p in failover.pods("web")},
        30,
        f"{victim} to be replaced",
    )
    failover.wait_rolled_out("web")
    after = failover.read("web")
    assert after["spec"]["template"] == before["spec"]["template"]
    assert failover.on_fargate("web")
    annotations = after["metadata"]["annotations"]
    assert annotations[contract.STATE] == State.MIGRATING
    assert transitions(annotations) == [("Watching", "Migrating")]
    assert contract.SAVED_SCHEDULING in annotations
    assert pod_writes(failover, opted_out, deployment_path(failover, "web")) == []
    assert [r for r in pod_writes(failover, opted_out, "/events") if r.code < 400] == []
    new_pods = [p for p in failover.pods("web") if p["metadata"]["name"] not in pods_before]
    assert new_pods
    assert not any(has_sidecar(p) for p in new_pods)
    shown = status(failover, tmp_path)["web"]
    assert (shown["state"], shown["enabled"]) == ("Migrating", False)
    assert {pod: code for pod, code in failover.runner.exit_codes().items() if code != 0} == {}
