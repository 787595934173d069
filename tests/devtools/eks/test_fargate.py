"""The EKS Fargate simulator: profiles at admission, ``fargate-scheduler``, a node per pod."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from devtools.controlplane.kube import Kube
from devtools.controlplane.nodes import FARGATE_KEY
from devtools.controlplane.waiting import wait_for
from devtools.eks import EksSimulator, FargateProfile, Selector
from devtools.eks.profiles import PROFILE_LABEL, SCHEDULER_NAME
from devtools.scenario import deployment
from tests.conftest import FARGATE_LABELS

from .eks_pods import events_about, node_labels, on_fargate, pod, read, wait_ready

pytestmark = pytest.mark.cluster


def test_a_pod_matching_the_profile_gets_a_fargate_node_of_its_own_and_becomes_ready(
    kube: Kube, namespace: str
) -> None:
    kube.core.create_namespaced_pod(namespace, pod("a", FARGATE_LABELS))
    kube.core.create_namespaced_pod(namespace, pod("b", FARGATE_LABELS))

    a, b = wait_ready(kube, namespace, "a"), wait_ready(kube, namespace, "b")

    assert a["spec"]["schedulerName"] == SCHEDULER_NAME
    assert a["metadata"]["labels"][PROFILE_LABEL] == namespace
    assert a["metadata"]["annotations"]["CapacityProvisioned"] == "0.25vCPU 0.5GB"
    node = kube.core.read_node(a["spec"]["nodeName"])
    assert node.metadata.name.startswith("fargate-ip-")
    assert node.metadata.name.endswith(".us-east-1.compute.internal")
    assert node.metadata.labels[FARGATE_KEY] == "fargate"
    assert node.metadata.labels["topology.kubernetes.io/zone"] == "us-east-1a"
    assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [
        (FARGATE_KEY, "fargate", "NoSchedule")
    ]
    assert a["spec"]["nodeName"] != b["spec"]["nodeName"]


def test_a_pod_outside_the_profile_or_annotated_ec2_stays_on_ec2(
    kube: Kube, namespace: str
) -> None:
    kept = {"eks.amazonaws.com/compute-type": "ec2"}
    kube.core.create_namespaced_pod(namespace, pod("plain"))
    kube.core.create_namespaced_pod(namespace, pod("kept", FARGATE_LABELS, annotations=kept))

    for name in ("plain", "kept"):
        found = wait_ready(kube, namespace, name)
        assert found["spec"]["schedulerName"] == "default-scheduler"
        assert PROFILE_LABEL not in found["metadata"]["labels"]
        assert node_labels(kube, found["spec"]["nodeName"])["eks.amazonaws.com/capacityType"] == (
            "SPOT"
        )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {
                "containers": [
                    {"name": "app", "image": "x", "securityContext": {"privileged": True}}
                ]
            },
            "Pod not supported on Fargate: invalid SecurityContext fields: Privileged",
        ),
        (
            {
                "containers": [{"name": "app", "image": "x"}],
                "volumes": [{"name": "data", "hostPath": {"path": "/var/data"}}],
            },
            "Pod not supported on Fargate: volumes not supported: data is of an unsupported "
            "volume Type",
        ),
    ],
    ids=["privileged", "host-path"],
)
def test_a_pod_fargate_cannot_run_stays_pending_with_a_failed_scheduling_event(
    kube: Kube, namespace: str, spec: dict[str, Any], message: str
) -> None:
    kube.core.create_namespaced_pod(namespace, pod("refused", FARGATE_LABELS, spec=spec))

    (event,) = wait_for(
        lambda: [e for e in events_about(kube, namespace, "refused") if e["type"] == "Warning"],
        30,
        "the FailedScheduling Event",
    )

    assert event["reason"] == "FailedScheduling"
    assert event["source"]["component"] == "fargate-scheduler"
    assert event["message"] == message
    refused = read(kube, namespace, "refused")
    assert refused["status"]["phase"] == "Pending"
    assert "nodeName" not in refused["spec"]
    (scheduled,) = [c for c in refused["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")


def test_the_profile_label_picks_one_of_several_matching_profiles(
    kube: Kube, namespace: str, eks: EksSimulator
) -> None:
    wide = FargateProfile(
        f"wide-{uuid.uuid4().hex[:6]}",
        (
            Selector("other-*"),
            Selector(namespace, {"tier": "w?b"}),
            Selector(namespace[:-3] + "*", {"pool": "*"}),
        ),
    )
    eks.install_profile(wide)
    try:
        labels = {"tier": "web"}
        kube.core.create_namespaced_pod(namespace, pod("wild", labels))
        kube.core.create_namespaced_pod(namespace, pod("wild-namespace", {"pool": "any"}))
        chosen = {**labels, **FARGATE_LABELS, PROFILE_LABEL: wide.name}
        kube.core.create_namespaced_pod(namespace, pod("chosen", chosen))
        wrong = {**labels, PROFILE_LABEL: namespace}  # that profile wants FARGATE_LABELS
        kube.core.create_namespaced_pod(namespace, pod("mismatched", wrong))

        for name in ("wild", "wild-namespace", "chosen"):
            found = wait_ready(kube, namespace, name)
            assert found["metadata"]["labels"][PROFILE_LABEL] == wide.name
            assert on_fargate(kube, found["spec"]["nodeName"])
        mismatched = wait_ready(kube, namespace, "mismatched")
        assert not on_fargate(kube, mismatched["spec"]["nodeName"])
    finally:
        eks.remove_profile(wide)


def test_a_fargate_node_goes_when_its_pod_goes(kube: Kube, namespace: str) -> None:
    kube.core.create_namespaced_pod(namespace, pod("short-lived", FARGATE_LABELS))
    node = wait_ready(kube, namespace, "short-lived")["spec"]["nodeName"]

    kube.core.delete_namespaced_pod("short-lived", namespace)

    def node_gone() -> bool:
        try:
            kube.core.read_node(node)
        except ApiException as error:
            return bool(error.status == 404)
        return False

    wait_for(node_gone, 60, f"{node} to be deleted")


def test_a_template_matching_the_profile_rolls_out_onto_fargate(kube: Kube, namespace: str) -> None:
    kube.apps.create_namespaced_deployment(namespace, deployment("api", replicas=3))
    kube.apps.patch_namespaced_deployment(
        "api", namespace, {"spec": {"template": {"metadata": {"labels": FARGATE_LABELS}}}}
    )

    def all_on_fargate() -> list[Any] | None:
        pods = kube.core.list_namespaced_pod(namespace, label_selector="app=api").items
        settled = [
            p
            for p in pods
            if p.metadata.deletion_timestamp is None
            and p.spec.node_name
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        ]
        if len(pods) == 3 and len(settled) == 3:
            return settled if all(on_fargate(kube, p.spec.node_name) for p in settled) else None
        return None

    pods = wait_for(all_on_fargate, 90, "three Ready pods on Fargate nodes")
    assert len({p.spec.node_name for p in pods}) == 3
