"""Fargate refuses a template for documented reasons, each naming the container or volume."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.core.fargate import incompatibilities
from tests.sidecar.core.builders import spot_template


def with_spec(**fields: Any) -> dict[str, Any]:
    template = spot_template()
    template["spec"].update(fields)
    return template


def test_an_ordinary_spot_template_can_run_on_fargate() -> None:
    assert incompatibilities(spot_template()) == []


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"hostNetwork": True}, ["spec.template.spec.hostNetwork", "host networking"]),
        ({"hostPID": True}, ["spec.template.spec.hostPID"]),
        ({"hostIPC": True}, ["spec.template.spec.hostIPC"]),
        (
            {"containers": [{"name": "agent", "securityContext": {"privileged": True}}]},
            ["'agent'", "containers[0].securityContext.privileged", "privileged"],
        ),
        (
            {
                "containers": [{"name": "web"}],
                "initContainers": [{"name": "sysctl", "securityContext": {"privileged": True}}],
            },
            ["'sysctl'", "initContainers[0].securityContext.privileged"],
        ),
        (
            {"containers": [{"name": "web", "ports": [{"containerPort": 80, "hostPort": 80}]}]},
            ["'web'", "ports[0].hostPort is 80", "host ports"],
        ),
        (
            {"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]},
            ["'logs'", "volumes[0].hostPath"],
        ),
        (
            {"volumes": [{"name": "data", "awsElasticBlockStore": {"volumeID": "vol-1"}}]},
            ["'data'", "volumes[0].awsElasticBlockStore", "EBS"],
        ),
        (
            {"volumes": [{"name": "scratch", "csi": {"driver": "ebs.csi.aws.com"}}]},
            ["'scratch'", "volumes[0].csi.driver", "EBS"],
        ),
        (
            {"containers": [{"name": "train", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
            ["'train'", "resources.limits['nvidia.com/gpu'] is 1", "GPU"],
        ),
        (
            {"containers": [{"name": "infer", "resources": {"requests": {"amd.com/gpu": 2}}}]},
            ["'infer'", "resources.requests['amd.com/gpu'] is 2"],
        ),
        (
            {
                "containers": [
                    {"name": "nx", "resources": {"limits": {"aws.amazon.com/neuroncore": "2"}}}
                ]
            },
            ["'nx'", "aws.amazon.com/neuroncore"],
        ),
    ],
    ids=[
        "host network",
        "host PID",
        "host IPC",
        "privileged container",
        "privileged init container",
        "host port",
        "hostPath volume",
        "inline EBS volume",
        "inline EBS CSI volume",
        "NVIDIA GPU limit",
        "AMD GPU request",
        "Neuron cores",
    ],
)
def test_each_incompatibility_names_the_field_and_the_reason(
    spec: dict[str, Any], words: list[str]
) -> None:
    reasons = incompatibilities(with_spec(**spec))
    assert len(reasons) == 1, reasons
    for word in words:
        assert word in reasons[0]


def test_every_incompatibility_is_reported_not_just_the_first() -> None:
    template = with_spec(
        hostNetwork=True,
        volumes=[{"name": "logs", "hostPath": {"path": "/var/log"}}],
        containers=[{"name": "a", "securityContext": {"privileged": True}}],
    )
    assert len(incompatibilities(template)) == 3


def test_a_zero_gpu_request_is_not_a_gpu() -> None:
    template = with_spec(
        containers=[{"name": "web", "resources": {"limits": {"nvidia.com/gpu": "0"}}}]
    )
    assert incompatibilities(template) == []


def test_unprivileged_containers_and_ordinary_volumes_are_fine() -> None:
    template = with_spec(
        hostNetwork=False,
        containers=[
            {
                "name": "web",
                "securityContext": {"privileged": False, "runAsNonRoot": True},
                "ports": [{"containerPort": 8080}],
            }
        ],
        volumes=[
            {"name": "cache", "emptyDir": {}},
            {"name": "config", "configMap": {"name": "web"}},
            {"name": "files", "csi": {"driver": "efs.csi.aws.com"}},
        ],
    )
    assert incompatibilities(template) == []


def test_a_claim_is_flagged_only_when_the_caller_knows_it_is_ebs() -> None:
    template = with_spec(
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}]
    )
    assert incompatibilities(template) == []
    reasons = incompatibilities(template, ebs_claims={"web-data"})
    assert len(reasons) == 1
    assert "'web-data'" in reasons[0]
    assert "EBS" in reasons[0]
