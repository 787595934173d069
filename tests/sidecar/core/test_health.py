"""The health verdict: pods of the current template, Ready, on the expected compute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sidecar.core import health
from sidecar.core.health import Healthy, NotYet, Unhealthy, pods_verdict
from spot_common.contract import ComputeType
from tests.sidecar.core.builders import deployment, pod

NODES = {
    "fargate-ip-10-0-9-1": {"eks.amazonaws.com/compute-type": "fargate"},
    "fargate-ip-10-0-9-2": {"eks.amazonaws.com/compute-type": "fargate"},
    "ip-10-0-1-17": {"karpenter.sh/capacity-type": "spot"},
}
F1, F2, SPOT = "fargate-ip-10-0-9-1", "fargate-ip-10-0-9-2", "ip-10-0-1-17"


def test_enough_ready_pods_on_fargate_are_healthy() -> None:
    pods = [pod("a", node=F1), pod("b", node=F2)]
    verdict = pods_verdict(pods, NODES, expected=ComputeType.FARGATE, replicas=2)
    assert isinstance(verdict, Healthy)


def test_a_new_pod_on_a_spot_node_when_fargate_was_expected_is_unhealthy() -> None:
    pods = [pod("a", node=F1), pod("b", node=SPOT)]
    verdict = pods_verdict(pods, NODES, expected=ComputeType.FARGATE, replicas=2)
    assert isinstance(verdict, Unhealthy)
    assert "pod b" in verdict.reason
    assert SPOT in verdict.reason


def test_a_new_pod_on_fargate_when_failing_back_is_unhealthy() -> None:
    verdict = pods_verdict([pod("a", node=F1)], NODES, expected=ComputeType.SPOT, replicas=1)
    assert isinstance(verdict, Unhealthy)


def test_pending_and_unready_pods_are_not_yet_healthy_and_say_why() -> None:
    pods = [
        pod("a", node=F1),
        pod("b", node=None, ready=False),
        pod("c", node=F2, ready=False, waiting="ImagePullBackOff"),
    ]
    verdict = pods_verdict(pods, NODES, expected=ComputeType.FARGATE, replicas=3)
    assert isinstance(verdict, NotYet)
    assert "1 of 3" in verdict.reason
    assert "pod b is not scheduled yet" in verdict.reason
    assert "ImagePullBackOff" in verdict.reason


def test_old_and_terminating_pods_do_not_count() -> None:
    pods = [
        pod("old", node=SPOT, template_hash="old111"),
        pod("going", node=SPOT, terminating=True),
        pod("new", node=F1),
    ]
    verdict = pods_verdict(
        pods, NODES, expected=ComputeType.FARGATE, replicas=1, template_hash="abc123"
    )
    assert isinstance(verdict, Healthy)


def test_a_pod_on_an_unknown_node_is_not_judged_yet() -> None:
    verdict = pods_verdict([pod("a", node="x")], NODES, expected=ComputeType.FARGATE, replicas=1)
    assert isinstance(verdict, NotYet)


def test_zero_replicas_are_trivially_healthy() -> None:
    assert isinstance(pods_verdict([], NODES, expected=ComputeType.SPOT, replicas=0), Healthy)


def test_a_failing_health_url_delays_but_never_fails_the_move() -> None:
    ok = Healthy("2 pods Ready")
    assert health.with_http_check(ok, ok=None) is ok
    assert isinstance(health.with_http_check(ok, ok=True), Healthy)
    delayed = health.with_http_check(ok, ok=False, detail="503")
    assert isinstance(delayed, NotYet)
    assert "503" in delayed.reason
    bad = Unhealthy("misplaced")
    assert health.with_http_check(bad, ok=True) is bad


def test_the_current_template_hash_comes_from_the_newest_replica_set() -> None:
    body = deployment()
    body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "4"

    def replica_set(revision: str, template_hash: str) -> dict[str, Any]:
        return {
            "metadata": {
                "annotations": {"deployment.kubernetes.io/revision": revision},
                "labels": {"pod-template-hash": template_hash},
            }
        }

    sets = [replica_set("3", "old111"), replica_set("4", "new222")]
    assert health.current_template_hash(body, sets) == "new222"
    assert health.current_template_hash(body, sets[:1]) is None
    assert health.current_template_hash(deployment(), sets) is None


# --- Fargate's refusal --------------------------------------------------------------------------

REFUSAL = (
    "Pod not supported on Fargate: invalid SecurityContext fields: Capabilities added: NET_ADMIN"
)


def refused(name: str, message: str = REFUSAL) -> dict[str, Any]:
    """A pod fargate-scheduler will not run: Pending, PodScheduled False with its message."""
    found = pod(name, node=None, ready=False)
    found["status"]["conditions"].append(
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    )
    return found


def test_a_pod_fargate_refuses_is_unhealthy_with_fargates_reason() -> None:
    pods = [pod("a", node=F1), refused("b")]
    verdict = pods_verdict(pods, NODES, expected=ComputeType.FARGATE, replicas=2)
    assert isinstance(verdict, Unhealthy)
    assert verdict.reason == f"Fargate refused pod b: {REFUSAL}"


def test_a_refusal_over_a_claim_not_bound_yet_is_waited_on() -> None:
    message = (
        "Pod not supported on Fargate: volumes not supported: data not supported because: "
        "PVC data not bound"
    )
    verdict = pods_verdict([refused("a", message)], NODES, expected=ComputeType.FARGATE, replicas=1)
    assert isinstance(verdict, NotYet)
    assert "PVC data not bound" in verdict.reason


def test_an_unschedulable_pod_is_no_refusal_by_fargate() -> None:
    other = refused("a", "0/3 nodes are available: 3 Insufficient cpu.")
    assert health.fargate_refusal(other) is None
    verdict = pods_verdict([other], NODES, expected=ComputeType.FARGATE, replicas=1)
    assert isinstance(verdict, NotYet)


def test_a_refusal_message_is_read_from_the_pods_scheduled_condition() -> None:
    assert health.fargate_refusal(refused("a")) == REFUSAL
    assert health.fargate_refusal(pod("a", node=F1)) is None


def test_an_early_verdict_is_never_healthy_but_a_failure_is_final() -> None:
    assert isinstance(health.early(Healthy("3 pods Ready")), NotYet)
    bad = Unhealthy("Fargate refused pod b")
    assert health.early(bad) is bad
    slow = NotYet("1 of 3")
    assert health.early(slow) is slow


# --- Whose pods ---------------------------------------------------------------------------------

DEPLOYMENT_UID = "6f1d3c1e-0000-4000-8000-000000000001"


def replica_set(uid: str, revision: str, owner: str = DEPLOYMENT_UID) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"web-{uid}",
            "uid": uid,
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "ownerReferences": [
                {"kind": "Deployment", "name": "web", "uid": owner, "controller": True}
            ],
        }
    }


def owned(found: dict[str, Any], owner: str) -> dict[str, Any]:
    metadata = found["metadata"]
    assert isinstance(metadata, dict)
    metadata["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": f"web-{owner}", "uid": owner, "controller": True}
    ]
    return found


def revised(revision: str) -> dict[str, Any]:
    body = deployment()
    body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = revision
    return body


def names(pods: Sequence[Mapping[str, Any]] | None) -> list[str]:
    assert pods is not None
    return [str(p["metadata"]["name"]) for p in pods]


def test_only_the_pods_of_the_deployments_current_replica_set_count() -> None:
    sets = [replica_set("rs-1", "1"), replica_set("rs-2", "2")]
    pods = [owned(pod("old", node=SPOT), "rs-1"), owned(pod("new", node=F1), "rs-2")]

    assert names(health.current_pods(revised("2"), sets, pods)) == ["new"]


def test_a_look_alike_deployments_pods_do_not_count() -> None:
    """Another Deployment with the same labels, and its ReplicaSet of the same revision."""
    sets = [replica_set("theirs", "2", owner="someone-else"), replica_set("rs-2", "2")]
    pods = [owned(pod("theirs", node=SPOT), "theirs"), owned(pod("mine", node=F1), "rs-2")]

    assert names(health.current_pods(revised("2"), sets, pods)) == ["mine"]


def test_a_pod_without_a_controller_reference_does_not_count() -> None:
    sets = [replica_set("rs-2", "2")]
    orphan = pod("orphan", node=F1)
    adopted_by_none = owned(pod("released", node=F1), "rs-2")
    adopted_by_none["metadata"]["ownerReferences"][0]["controller"] = False

    assert names(health.current_pods(revised("2"), sets, [orphan, adopted_by_none])) == []


def test_the_whole_selector_is_honoured_match_expressions_too() -> None:
    body = revised("2")
    body["spec"]["selector"]["matchExpressions"] = [
        {"key": "track", "operator": "NotIn", "values": ["canary"]}
    ]
    canary = owned(pod("canary", node=F1), "rs-2")
    canary["metadata"]["labels"]["track"] = "canary"
    stable = owned(pod("stable", node=F2), "rs-2")

    assert names(health.current_pods(body, [replica_set("rs-2", "2")], [canary, stable])) == [
        "stable"
    ]


def test_before_the_current_replica_set_exists_there_are_no_current_pods() -> None:
    assert health.current_pods(revised("3"), [replica_set("rs-2", "2")], []) is None
    assert health.current_pods(deployment(), [replica_set("rs-2", "2")], []) is None
