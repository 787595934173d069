"""The health verdict: pods of the current template, Ready, on the expected compute."""

from __future__ import annotations

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

    def replica_set(revision: str, template_hash: str) -> dict[str, object]:
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
