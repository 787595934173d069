"""Fargate refuses a template for documented reasons, one named check per rule, each reason
naming the container or volume and the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from devtools.eks import fargate_rules
from sidecar.core.errors import MalformedObjectError
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
    (
        "addedCapabilities",
        {
            "containers": [
                {"name": "proxy", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}
            ]
        },
        ["'proxy'", "containers[0].securityContext.capabilities.add is NET_ADMIN", "capabilities"],
    ),
    (
        "addedCapabilities",
        {
            "containers": [{"name": "web"}],
            "initContainers": [
                {
                    "name": "iptables",
                    "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
                }
            ],
        },
        ["'iptables'", "initContainers[0].securityContext.capabilities.add is NET_ADMIN, NET_RAW"],
    ),
    (
        "hostIPs",
        {
            "containers": [
                {"name": "dns", "ports": [{"containerPort": 53, "hostIP": "169.254.20.10"}]}
            ]
        },
        ["'dns'", "ports[0].hostIP is 169.254.20.10", "host IPs"],
    ),
    (
        "inlineCsiVolumes",
        {"volumes": [{"name": "secrets", "csi": {"driver": "secrets-store.csi.k8s.io"}}]},
        ["'secrets'", "volumes[0].csi.driver is secrets-store.csi.k8s.io", "inline CSI"],
    ),
    (
        "inlineCsiVolumes",
        {"volumes": [{"name": "files", "csi": {"driver": "efs.csi.aws.com"}}]},
        ["'files'", "volumes[0].csi.driver is efs.csi.aws.com"],
    ),
    (
        "platform",
        {"nodeSelector": {"kubernetes.io/arch": "arm64"}},
        ["spec.template.spec.nodeSelector['kubernetes.io/arch'] is arm64", "x86_64"],
    ),
    (
        "platform",
        {"nodeSelector": {"kubernetes.io/os": "windows"}},
        ["nodeSelector['kubernetes.io/os'] is windows", "Windows"],
    ),
    (
        "platform",
        {
            "affinity": {
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
        },
        ["nodeSelectorTerms[0].matchExpressions[0] asks for kubernetes.io/arch In arm64"],
    ),
    (
        "largestSize",
        {"containers": [{"name": "big", "resources": {"requests": {"cpu": "17"}}}]},
        ["containers[*].resources.requests", "17 vCPU", "largest Fargate size (16 vCPU, 120 GB)"],
    ),
    (
        "largestSize",
        {
            "containers": [
                {"name": "a", "resources": {"requests": {"memory": "60Gi"}}},
                {"name": "b", "resources": {"limits": {"memory": "60Gi"}}},
            ]
        },
        ["120.25 GB", "0.25 GB"],
    ),
    (
        "largestSize",
        {
            "containers": [{"name": "web"}],
            "initContainers": [{"name": "warm", "resources": {"requests": {"cpu": "32000m"}}}],
        },
        ["32 vCPU"],
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
    "added capability (mesh proxy)",
    "added capabilities of an init container",
    "host IP",
    "Secrets Store CSI volume",
    "inline EFS CSI volume",
    "pinned to arm64",
    "pinned to Windows",
    "required affinity for arm64",
    "more than 16 vCPU",
    "120 GB plus Fargate's 256 MB",
    "a big init container",
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
            {"name": "files", "persistentVolumeClaim": {"claimName": "efs-files"}},
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


def test_requests_up_to_the_largest_size_with_fargates_share_fit() -> None:
    template = with_spec(
        containers=[{"name": "big", "resources": {"requests": {"cpu": "16", "memory": "119.75Gi"}}}]
    )
    assert incompatibilities(template) == []


def test_a_pod_that_can_run_on_amd64_linux_is_not_pinned() -> None:
    either = {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}
    arm = {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}
    template = with_spec(
        nodeSelector={"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"},
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [either]},
                        {"matchExpressions": [arm]},
                    ]
                }
            }
        },
    )
    assert incompatibilities(template) == []


def test_a_request_that_is_not_a_quantity_names_its_field() -> None:
    template = with_spec(containers=[{"name": "web", "resources": {"requests": {"cpu": "lots"}}}])
    with pytest.raises(MalformedObjectError, match=r"containers\[0\]\.resources\.requests\.cpu"):
        incompatibilities(template)


@pytest.mark.parametrize(("check", "spec", "words"), ROWS, ids=ROW_IDS)
def test_what_the_check_refuses_fargate_refuses_too(
    check: str, spec: dict[str, Any], words: list[str]
) -> None:
    """The simulated fargate-scheduler, written from EKS's behaviour, is the oracle: nothing the
    check refuses up front would have run on Fargate."""
    assert fargate_rules.refusal(admitted(with_spec(**spec))) is not None


def test_a_template_the_checks_let_through_fargate_runs() -> None:
    assert fargate_rules.refusal(admitted(spot_template())) is None


def admitted(template: dict[str, Any]) -> dict[str, Any]:
    """A pod of the template as the API server stores it: a resource with a limit and no
    request is requested at its limit."""
    pod = copy.deepcopy({"metadata": template["metadata"], "spec": template["spec"]})
    for kind in ("initContainers", "containers"):
        for container in pod["spec"].get(kind) or []:
            resources = container.setdefault("resources", {})
            resources["requests"] = {**resources.get("limits", {}), **resources.get("requests", {})}
    return pod
