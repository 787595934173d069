"""The sidecar on the real control plane: sidecars as processes with pod-bound tokens, IMDS
played by the simulator, the Deployment moved to Fargate and back."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from devtools.controlplane import audit
from devtools.controlplane.nodes import FARGATE_KEY, MANAGED_CAPACITY_LABEL
from devtools.scenario import SPOT_NODES, Scenario
from spot_common import contract
from spot_common.contract import State

pytestmark = pytest.mark.cluster


def _history(annotations: dict[str, str]) -> list[dict[str, Any]]:
    return list(json.loads(annotations.get(contract.HISTORY, "[]")))


def _transitions(annotations: dict[str, str]) -> list[tuple[str, str]]:
    return [(entry["from"], entry["to"]) for entry in _history(annotations)]


def test_a_notice_moves_the_deployment_to_fargate_with_exactly_one_patch(
    failover: Scenario,
) -> None:
    failover.create("web", replicas=3)
    node = failover.busiest_spot_node("web")

    failover.imds.set_notice(node)

    annotations = failover.wait_state("web", State.ON_FARGATE)
    assert _transitions(annotations) == [("Watching", "Migrating"), ("Migrating", "OnFargate")]
    assert annotations[contract.COMPUTE_TYPE] == "fargate"
    failover.wait_rolled_out("web")
    assert failover.on_fargate("web")
    template = failover.read("web")["spec"]["template"]
    assert template["metadata"]["labels"]["spot-failover/fargate"] == "true"
    sidecar_writes = [
        r
        for r in audit.read(failover.cluster.audit_log)
        if r.pod is not None
        and r.verb == "update"
        and r.uri.startswith(f"/apis/apps/v1/namespaces/{failover.namespace}/deployments/web")
    ]
    codes = [r.code for r in sidecar_writes]
    # Two transitions written; one decided on a copy a status update behind is refused (409),
    # decided again and written.
    assert [code for code in codes if code != 409] == [200, 200]
    assert all(after == 200 for code, after in itertools.pairwise(codes) if code == 409)


def test_a_deployment_fargate_cannot_run_is_refused_and_left_untouched(
    failover: Scenario,
) -> None:
    def host_port(body: dict[str, Any]) -> None:
        body["spec"]["template"]["spec"]["containers"][0]["ports"] = [
            {"containerPort": 8080, "hostPort": 8080}
        ]

    before = failover.create("legacy", replicas=1, tweak=host_port)
    node = failover.busiest_spot_node("legacy")

    failover.imds.set_notice(node)

    annotations = failover.wait_state("legacy", State.FAILED)
    assert "hostPort" in annotations[contract.MESSAGE]
    after = failover.read("legacy")
    assert after["spec"]["template"] == before["spec"]["template"]
    assert FARGATE_KEY not in json.dumps(after["spec"]["template"])


def test_failback_restores_the_original_scheduling_after_the_cooldown(
    failover: Scenario,
) -> None:
    original = failover.create("api", replicas=2, annotations={contract.FAILBACK_AFTER: "3s"})
    node = failover.busiest_spot_node("api")
    failover.imds.set_notice(node)
    failover.wait_state("api", State.ON_FARGATE)
    failover.imds.clear_notice(node)  # reclaimed; otherwise the pods coming back move again

    annotations = failover.wait_state("api", State.WATCHING, timeout_s=90)

    assert _transitions(annotations)[-2:] == [
        ("OnFargate", "FailingBack"),
        ("FailingBack", "Watching"),
    ]
    assert failover.read("api")["spec"]["template"] == original["spec"]["template"]
    failover.wait_rolled_out("api")
    assert failover.nodes_of("api") <= set(SPOT_NODES)


SPOT_TOLERATION = {"key": MANAGED_CAPACITY_LABEL, "operator": "Exists"}
THEIR_TOLERATION = {
    "key": MANAGED_CAPACITY_LABEL,
    "operator": "Equal",
    "value": "SPOT",
    "effect": "NoSchedule",
}


def _spot_affinity(*capacity: str) -> dict[str, Any]:
    term = {
        "matchExpressions": [
            {"key": MANAGED_CAPACITY_LABEL, "operator": "In", "values": list(capacity)}
        ]
    }
    return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}


def _pinned_to_spot(body: dict[str, Any]) -> None:
    spec = body["spec"]["template"]["spec"]
    spec["nodeSelector"] = {MANAGED_CAPACITY_LABEL: "SPOT"}
    spec["tolerations"] = [dict(SPOT_TOLERATION)]
    spec["affinity"] = {"nodeAffinity": _spot_affinity("SPOT")}


def test_failback_keeps_what_the_user_wrote_on_fargate_says_so_and_restores_the_rest(
    failover: Scenario,
) -> None:
    original = failover.create("pinned", replicas=2, tweak=_pinned_to_spot)
    node = failover.busiest_spot_node("pinned")
    failover.imds.set_notice(node)
    failover.wait_state("pinned", State.ON_FARGATE)
    failover.imds.clear_notice(node)
    moved = failover.read("pinned")["spec"]["template"]["spec"]
    assert MANAGED_CAPACITY_LABEL not in json.dumps(moved)

    # While on Fargate, the user (or their GitOps controller) writes two of the moved fields.
    theirs = {
        "tolerations": [THEIR_TOLERATION],
        "affinity": {"nodeAffinity": _spot_affinity("SPOT", "ON_DEMAND")},
    }
    failover.kube.apps.patch_namespaced_deployment(
        "pinned", failover.namespace, {"spec": {"template": {"spec": theirs}}}
    )
    failover.wait_rolled_out("pinned")
    failover.kube.apps.patch_namespaced_deployment(
        "pinned", failover.namespace, {"metadata": {"annotations": {contract.FAILBACK_AFTER: "1s"}}}
    )

    annotations = failover.wait_state("pinned", State.WATCHING, timeout_s=90)

    back = failover.read("pinned")["spec"]["template"]
    expected = json.loads(json.dumps(original["spec"]["template"]))
    expected["spec"]["tolerations"] = [THEIR_TOLERATION]
    expected["spec"]["affinity"]["nodeAffinity"] = _spot_affinity("SPOT", "ON_DEMAND")
    assert back == expected, "theirs kept; the nodeSelector and the labels exactly as before"
    fields = (
        f"spec.template.spec.affinity.nodeAffinity, "
        f"spec.template.spec.tolerations[key={MANAGED_CAPACITY_LABEL}]"
    )
    (kept,) = [e for e in failover.events("pinned") if e["reason"] == "KeptUserEdit"]
    assert kept["type"] == "Normal"
    assert fields in kept["message"]
    failing_back = [e for e in _history(annotations) if e["to"] == "FailingBack"]
    assert fields in failing_back[-1]["reason"]
    failover.wait_rolled_out("pinned")
    assert failover.nodes_of("pinned") <= set(SPOT_NODES)
