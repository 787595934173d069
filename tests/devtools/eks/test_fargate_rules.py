"""What the simulated fargate-scheduler refuses, and how it words it."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.eks.fargate_rules import capacity_provisioned, refusal


def _pod(**spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", [{"name": "app", "image": "x"}])
    return {"metadata": {"name": "p"}, "spec": {"containers": containers, **spec}}


def _container(**fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "x", **fields}


def test_a_plain_pod_is_accepted() -> None:
    assert refusal(_pod()) is None


@pytest.mark.parametrize(
    ("pod", "message"),
    [
        (
            _pod(containers=[_container(securityContext={"privileged": True})]),
            "invalid SecurityContext fields: Privileged",
        ),
        (
            _pod(containers=[_container(securityContext={"capabilities": {"add": ["NET_ADMIN"]}})]),
            "invalid SecurityContext fields: Capabilities added: NET_ADMIN",
        ),
        (_pod(hostNetwork=True), "fields not supported: HostNetwork"),
        (
            _pod(containers=[_container(ports=[{"containerPort": 80, "hostPort": 80}])]),
            "port contains HostIP or HostPort",
        ),
        (
            _pod(volumes=[{"name": "data", "hostPath": {"path": "/d"}}]),
            "volumes not supported: data is of an unsupported volume Type",
        ),
        (
            _pod(volumes=[{"name": "ebs", "awsElasticBlockStore": {"volumeID": "vol-1"}}]),
            "volumes not supported: ebs is of an unsupported volume Type",
        ),
        (
            _pod(volumes=[{"name": "secrets", "csi": {"driver": "secrets-store.csi.k8s.io"}}]),
            "volumes not supported: secrets is of an unsupported volume Type",
        ),
        (
            _pod(nodeSelector={"kubernetes.io/arch": "arm64"}),
            "unsupported node selector: kubernetes.io/arch=arm64",
        ),
        (
            _pod(nodeSelector={"kubernetes.io/os": "windows"}),
            "unsupported node selector: kubernetes.io/os=windows",
        ),
        (
            _pod(
                affinity={
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "kubernetes.io/arch",
                                            "operator": "In",
                                            "values": ["arm64"],
                                        }
                                    ]
                                }
                            ]
                        }
                    }
                }
            ),
            "unsupported node selector: kubernetes.io/arch In arm64",
        ),
        (
            _pod(containers=[_container(ports=[{"containerPort": 53, "hostIP": "10.0.0.1"}])]),
            "port contains HostIP or HostPort",
        ),
        (
            _pod(containers=[_container(resources={"requests": {"memory": "120Gi"}})]),
            "pod resource requests exceed the largest Fargate size (16 vCPU, 120 GB): 0 vCPU, "
            "120.25 GB",
        ),
        (
            _pod(containers=[_container(resources={"limits": {"nvidia.com/gpu": "1"}})]),
            "unsupported resources: nvidia.com/gpu",
        ),
        (
            _pod(containers=[_container(resources={"requests": {"cpu": "17"}})]),
            "pod resource requests exceed the largest Fargate size (16 vCPU, 120 GB): 17 vCPU",
        ),
    ],
    ids=[
        "privileged",
        "capability",
        "host-network",
        "host-port",
        "host-path",
        "ebs-inline",
        "inline-csi",
        "arm64",
        "windows",
        "affinity-arm64",
        "host-ip",
        "memory-with-overhead",
        "gpu",
        "too-big",
    ],
)
def test_what_fargate_cannot_run_is_refused_in_eks_words(pod: dict[str, Any], message: str) -> None:
    found = refusal(pod)

    assert found is not None
    assert found.startswith("Pod not supported on Fargate: " + message)


def test_a_pod_that_may_run_on_amd64_linux_is_accepted() -> None:
    either = {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}
    arm = {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}
    terms = [{"matchExpressions": [either]}, {"matchExpressions": [arm]}]
    pod = _pod(
        nodeSelector={"kubernetes.io/arch": "amd64"},
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
            }
        },
    )

    assert refusal(pod) is None


def test_several_problems_are_listed_in_one_message() -> None:
    pod = _pod(
        containers=[_container(securityContext={"privileged": True})],
        volumes=[{"name": "data", "hostPath": {"path": "/d"}}],
    )

    assert refusal(pod) == (
        "Pod not supported on Fargate: invalid SecurityContext fields: Privileged, "
        "volumes not supported: data is of an unsupported volume Type"
    )


def test_a_claim_the_caller_found_on_ebs_is_refused_and_others_are_not() -> None:
    pod = _pod(volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "orders"}}])

    assert refusal(pod) is None
    assert refusal(pod, ebs_claims={"orders"}) == (
        "Pod not supported on Fargate: volumes not supported: data is of an unsupported volume Type"
    )


def test_daemonset_pods_are_refused() -> None:
    pod = _pod()
    pod["metadata"]["ownerReferences"] = [{"kind": "DaemonSet", "name": "agent"}]

    assert refusal(pod) == "Pod not supported on Fargate: DaemonSet pods are not supported"


@pytest.mark.parametrize(
    ("requests", "size"),
    [
        ({}, "0.25vCPU 0.5GB"),
        ({"cpu": "250m", "memory": "256Mi"}, "0.25vCPU 0.5GB"),
        ({"cpu": "500m", "memory": "512Mi"}, "0.5vCPU 1GB"),
        ({"cpu": "2", "memory": "3Gi"}, "2vCPU 4GB"),
    ],
)
def test_the_capacity_provisioned_is_the_smallest_size_that_fits(
    requests: dict[str, str], size: str
) -> None:
    spec = {"containers": [_container(resources={"requests": requests})]}

    assert capacity_provisioned(spec) == size
