"""Fargate refuses a template for documented reasons, one named check per rule, each reason
naming the container or volume and the field."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.core.fargate_checks import CHECKS, PodSpec, incompatibilities
from tests.sidecar.core.builders import spot_template


def with_spec(**fields: Any) -> dict[str, Any]:
    template = spot_template()
    template["spec"].update(fields)
    return template


def test_an_ordinary_spot_template_can_run_on_fargate() -> None:
    assert incompatibilities(spot_template()) == []


ROWS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "hostNamespaces",
        {"hostNetwork": True},
        ["spec.template.spec.hostNetwork", "host networking"],
    ),
    ("hostNamespaces", {"hostPID": True}, ["spec.template.spec.hostPID"]),
    ("hostNamespaces", {"hostIPC": True}, ["spec.template.spec.hostIPC"]),
    (
        "privileged",
        {"containers": [{"name": "agent", "securityContext": {"privileged": True}}]},
        ["'agent'", "containers[0].securityContext.privileged", "privileged"],
    ),
    (
        "privileged",
        {
            "containers": [{"name": "web"}],
            "initContainers": [{"name": "sysctl", "securityContext": {"privileged": True}}],
        },
        ["'sysctl'", "initContainers[0].securityContext.privileged"],
    ),
    (
        "hostPorts",
        {"containers": [{"name": "web", "ports": [{"containerPort": 80, "hostPort": 80}]}]},
        ["'web'", "ports[0].hostPort is 80", "host ports"],
    ),
    (
        "hostPathVolumes",
        {"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]},
        ["'logs'", "volumes[0].hostPath"],
    ),
    (
        "ebsVolumes",
        {"volumes": [{"name": "data", "awsElasticBlockStore": {"volumeID": "vol-1"}}]},
        ["'data'", "volumes[0].awsElasticBlockStore", "EBS"],
    ),
    (
        "ebsVolumes",
        {"volumes": [{"name": "scratch", "csi": {"driver": "ebs.csi.aws.com"}}]},
        ["'scratch'", "volumes[0].csi.driver", "EBS"],
    ),
    (
        "accelerators",
        {"containers": [{"name": "train", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
        ["'train'", "resources.limits['nvidia.com/gpu'] is 1", "GPU"],
    ),
    (
        "accelerators",
        {"containers": [{"name": "infer", "resources": {"requests": {"amd.com/gpu": 2}}}]},
        ["'infer'", "resources.requests['amd.com/gpu'] is 2"],
    ),
    (
        "accelerators",
        {
            "containers": [
                {"name": "nx", "resources": {"limits": {"aws.amazon.com/neuroncore": "2"}}}
            ]
        },
        ["'nx'", "aws.amazon.com/neuroncore"],
    ),
]
"""Each check's rows: (check, template spec fields, words its one reason must hold)."""
ROW_IDS = [
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
]


def found_by(
    template: dict[str, Any], ebs_claims: frozenset[str] = frozenset()
) -> dict[str, list[str]]:
    """The reasons of each check that finds any, run alone."""
    pod = PodSpec(template["spec"], "spec.template.spec", ebs_claims)
    return {rule.name: rule.reasons(pod) for rule in CHECKS if rule.reasons(pod)}


def test_every_check_has_a_name_of_its_own_and_rows_of_its_own() -> None:
    names = [rule.name for rule in CHECKS]

    assert len(set(names)) == len(names)
    assert {check for check, _, _ in ROWS} == set(names)


@pytest.mark.parametrize(("check", "spec", "words"), ROWS, ids=ROW_IDS)
def test_each_incompatibility_names_the_field_and_the_reason(
    check: str, spec: dict[str, Any], words: list[str]
) -> None:
    reasons = incompatibilities(with_spec(**spec))
    assert len(reasons) == 1, reasons
    for word in words:
        assert word in reasons[0]
    assert found_by(with_spec(**spec)) == {check: reasons}


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
    assert found_by(template, frozenset({"web-data"})) == {"ebsVolumes": reasons}


def test_the_reasons_come_in_the_order_of_the_checks() -> None:
    template = with_spec(
        containers=[
            {"name": "a", "ports": [{"containerPort": 80, "hostPort": 80}]},
            {"name": "b", "securityContext": {"privileged": True}},
        ],
        hostIPC=True,
    )

    reasons = incompatibilities(template)

    assert [reason.split(":")[0] for reason in reasons] == [
        "spec.template.spec.hostIPC is true",
        "container 'b'",
        "container 'a'",
    ]
