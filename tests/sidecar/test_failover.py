"""The sidecar on the real control plane: sidecars as processes with pod-bound tokens, IMDS
played by the simulator, the Deployment moved to Fargate and back."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from devtools.controlplane import audit
from devtools.controlplane.nodes import FARGATE_KEY
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
