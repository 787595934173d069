"""The move survives what happens in real clusters: many sidecars at once, a leader that dies
with its node, an API server that restarts, a user who edits the Deployment mid-move, and a
rollout that Fargate refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.controlplane import audit
from devtools.controlplane.waiting import wait_for
from devtools.scenario import Scenario, mounting, no_memory_request
from sidecar.core.times import parse_time
from spot_common import contract
from spot_common.contract import State

pytestmark = pytest.mark.cluster

REFUSAL_TO_ROLLBACK_S = 15
"""From the write that starts a move to the rollback, when Fargate refuses the first new pod
(the simulator refuses at once; the sidecar looks every tick)."""


def _transitions(annotations: dict[str, str]) -> list[tuple[str, str, str]]:
    history = json.loads(annotations.get(contract.HISTORY, "[]"))
    return [(entry["from"], entry["to"], entry["by"]) for entry in history]


def _slow_rollout(body: dict[str, Any]) -> None:
    """New pods count as available only after 4 s, so a move lasts long enough to disturb."""
    body["spec"]["minReadySeconds"] = 4


def _holder(failover: Scenario, name: str) -> str:
    lease = failover.kube.coordination.read_namespaced_lease(
        contract.lease_name(name), failover.namespace
    )
    return str(lease.spec.holder_identity or "")


@pytest.mark.parametrize("replicas", [10, 50])
def test_many_sidecars_seeing_one_notice_make_exactly_one_move(
    failover: Scenario, replicas: int
) -> None:
    failover.create("fleet", replicas=replicas)

    failover.imds.set_notice(failover.busiest_spot_node("fleet"))

    annotations = failover.wait_state("fleet", State.ON_FARGATE, timeout_s=120)
    moves = [(a, b) for a, b, _ in _transitions(annotations)]
    assert moves == [("Watching", "Migrating"), ("Migrating", "OnFargate")]
    writes = [
        r.code
        for r in audit.read(failover.cluster.audit_log)
        if r.pod is not None
        and r.verb == "update"
        and r.uri.startswith(f"/apis/apps/v1/namespaces/{failover.namespace}/deployments/fleet")
    ]
    # Two writes went through; any other lost a race to a status update (409) and was decided
    # again, which is what the conditional write is for; none was a second mover. A rollout that
    # starts every replacement at once ends with status updates in quick succession.
    assert [code for code in writes if code != 409] == [200, 200]
    assert writes.count(409) <= 3


@pytest.mark.parametrize("step", [State.MIGRATING, State.FAILING_BACK])
def test_a_leader_killed_mid_move_is_replaced_and_no_transition_repeats(
    failover: Scenario, step: State
) -> None:
    annotations = {contract.FAILBACK_AFTER: "2s"} if step is State.FAILING_BACK else {}
    failover.create("web", replicas=3, annotations=annotations, tweak=_slow_rollout)
    node = failover.busiest_spot_node("web")
    failover.imds.set_notice(node)
    if step is State.FAILING_BACK:
        failover.wait_state("web", State.ON_FARGATE, timeout_s=90)
        failover.imds.clear_notice(node)  # reclaimed: the pods coming back must not move again

    failover.wait_state("web", step, timeout_s=90)
    leader = wait_for(lambda: _holder(failover, "web"), 10, "a lease holder")
    failover.runner.kill(leader)

    settled = State.ON_FARGATE if step is State.MIGRATING else State.WATCHING
    done = failover.wait_state("web", settled, timeout_s=90)
    history = _transitions(done)
    finishing = [entry for entry in history if entry[0] == step]
    assert len(finishing) == 1
    assert finishing[0][2] != leader
    assert len(history) == len({(a, b) for a, b, _ in history})


def test_the_move_completes_across_an_api_server_restart(failover: Scenario) -> None:
    failover.create("web", replicas=3, tweak=_slow_rollout)
    failover.imds.set_notice(failover.busiest_spot_node("web"))
    failover.wait_state("web", State.MIGRATING)

    failover.cluster.restart_apiserver(down_s=2)

    done = failover.wait_state("web", State.ON_FARGATE, timeout_s=90)
    assert [(a, b) for a, b, _ in _transitions(done)] == [
        ("Watching", "Migrating"),
        ("Migrating", "OnFargate"),
    ]


def test_a_users_edit_mid_move_survives(failover: Scenario) -> None:
    failover.create("web", replicas=3, tweak=_slow_rollout)
    failover.imds.set_notice(failover.busiest_spot_node("web"))
    failover.wait_state("web", State.MIGRATING)

    failover.kube.apps.patch_namespaced_deployment(
        "web",
        failover.namespace,
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "app", "image": "registry.example/app:2.0"}]}
                }
            }
        },
    )

    failover.wait_state("web", State.ON_FARGATE, timeout_s=90)
    containers = failover.read("web")["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers if c["name"] == "app"] == ["registry.example/app:2.0"]


def test_a_pod_fargate_refuses_rolls_the_move_back_within_seconds(failover: Scenario) -> None:
    """A namespace whose LimitRange gives containers without a memory request 130 GiB: the
    template is fine, the pods admission makes from it are beyond the largest Fargate size, so
    only Fargate's scheduler refuses them. The refused pod ends the move with Fargate's words,
    long before the rollout timeout (120 s here) or the progress deadline (600 s)."""
    original = failover.create("big", replicas=1, tweak=no_memory_request)
    failover.add_default_memory_request("130Gi")
    failover.imds.set_notice(failover.busiest_spot_node("big"))

    annotations = failover.wait_state("big", State.ROLLED_BACK, timeout_s=60)

    message = annotations[contract.MESSAGE]
    assert "Fargate refused pod big-" in message
    assert "Pod not supported on Fargate: pod resource requests exceed" in message
    history = json.loads(annotations[contract.HISTORY])
    assert [entry["to"] for entry in history[-2:]] == ["Migrating", "RolledBack"]
    moved, rolled_back = (parse_time(entry["time"]) for entry in history[-2:])
    assert moved is not None
    assert rolled_back is not None
    assert (rolled_back - moved).total_seconds() < REFUSAL_TO_ROLLBACK_S
    events = [e for e in failover.events("big") if e["reason"] == "RolledBack"]
    assert [e["type"] for e in events] == ["Warning"]
    assert "Pod not supported on Fargate" in events[0]["message"]
    assert failover.read("big")["spec"]["template"] == original["spec"]["template"]


def test_a_claim_bound_to_ebs_is_refused_before_anything_is_patched(failover: Scenario) -> None:
    """The claim says nothing of EBS itself: its volume does. The leader reads the claim and
    the volume with its own token, and refuses the move up front."""
    failover.add_ebs_claim("data")
    original = failover.create("pinned", replicas=1, tweak=mounting("data"))
    failover.imds.set_notice(failover.busiest_spot_node("pinned"))

    annotations = failover.wait_state("pinned", State.FAILED, timeout_s=60)

    assert (
        "persistentVolumeClaim.claimName 'data' is bound to an EBS volume"
        in annotations[contract.MESSAGE]
    )
    assert failover.read("pinned")["spec"]["template"] == original["spec"]["template"]
    assert [entry["to"] for entry in json.loads(annotations[contract.HISTORY])] == ["Failed"]


def test_paused_and_opted_out_deployments_are_never_written(failover: Scenario) -> None:
    failover.create("control", replicas=3)
    failover.create("paused", replicas=3, annotations={contract.PAUSED: "true"})
    node = failover.busiest_spot_node("paused")
    failover.create("control2", replicas=3)

    failover.imds.set_notice(node)
    failover.wait_state("control", State.ON_FARGATE)
    failover.wait_state("control2", State.ON_FARGATE)

    paused = failover.annotations("paused")
    assert contract.STATE not in paused
    assert contract.HISTORY not in paused
