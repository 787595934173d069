"""Which pods get the sidecar: one table row per skip reason, then the precedence between them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from spot_common import contract
from webhook.core.selection import (
    ControllerRef,
    DeploymentOwner,
    Inject,
    LookupFailed,
    NoController,
    OtherOwner,
    OwnerResolution,
    SelectionConfig,
    Skip,
    SkipReason,
    controller_ref,
    decide,
    skip_before_lookup,
)

from .pods import OPTED_IN, OWNER, deployment_pod, replicaset_ref

DEFAULT = SelectionConfig()


def pod_with(
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    namespace: str = "shop",
    owner_refs: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    pod = deployment_pod(**spec)
    pod["metadata"]["namespace"] = namespace
    if labels is not None:
        pod["metadata"]["labels"] = labels
    if annotations is not None:
        pod["metadata"]["annotations"] = annotations
    if owner_refs is not None:
        pod["metadata"]["ownerReferences"] = owner_refs
    return pod


SIDECAR = {"name": contract.SIDECAR_CONTAINER, "image": "x"}
APP = {"name": "app", "image": "x"}

SKIPS = [
    pytest.param(
        pod_with(labels={contract.COMPONENT_LABEL: contract.COMPONENT_VALUE}),
        OWNER,
        SkipReason.INJECTOR_POD,
        id="the injector's own pods are skipped",
    ),
    pytest.param(
        pod_with(namespace="kube-system"),
        OWNER,
        SkipReason.EXCLUDED_NAMESPACE,
        id="pods in kube-system are skipped by default",
    ),
    pytest.param(
        pod_with(containers=[APP, SIDECAR]),
        OWNER,
        SkipReason.ALREADY_INJECTED,
        id="a pod with the sidecar among its containers is skipped",
    ),
    pytest.param(
        pod_with(initContainers=[SIDECAR]),
        OWNER,
        SkipReason.ALREADY_INJECTED,
        id="a pod with the sidecar among its init containers is skipped",
    ),
    pytest.param(
        pod_with(annotations={contract.ENABLED: "false"}),
        OWNER,
        SkipReason.POD_OPTED_OUT,
        id="a pod template saying enabled false wins over its opted-in Deployment",
    ),
    pytest.param(
        pod_with(owner_refs=[]),
        OWNER,
        SkipReason.BARE_POD,
        id="a bare pod is skipped whatever the lookup says",
    ),
    pytest.param(
        pod_with(owner_refs=[{**replicaset_ref(), "controller": False}]),
        OWNER,
        SkipReason.BARE_POD,
        id="an owner that is not the controller does not count",
    ),
    pytest.param(
        pod_with(owner_refs=[{**replicaset_ref(), "kind": "StatefulSet"}]),
        OWNER,
        SkipReason.NOT_A_DEPLOYMENT,
        id="a StatefulSet pod is skipped without a lookup",
    ),
    pytest.param(
        pod_with(owner_refs=[{**replicaset_ref(), "apiVersion": "example.com/v1"}]),
        OWNER,
        SkipReason.NOT_A_DEPLOYMENT,
        id="a ReplicaSet of another API group is not a Deployment's",
    ),
    pytest.param(
        pod_with(),
        NoController(),
        SkipReason.BARE_POD,
        id="a pod of a ReplicaSet without controller is skipped",
    ),
    pytest.param(
        pod_with(),
        OtherOwner("Rollout", "web"),
        SkipReason.NOT_A_DEPLOYMENT,
        id="a pod of a ReplicaSet owned by something else is skipped",
    ),
    pytest.param(
        pod_with(),
        LookupFailed("timeout"),
        SkipReason.OWNER_LOOKUP_FAILED,
        id="a failed owner lookup fails open without the sidecar",
    ),
    pytest.param(
        pod_with(),
        DeploymentOwner("web", {}),
        SkipReason.NOT_OPTED_IN,
        id="a Deployment without the annotation is not opted in",
    ),
    pytest.param(
        pod_with(),
        DeploymentOwner("web", {contract.ENABLED: "True"}),
        SkipReason.NOT_OPTED_IN,
        id="only the exact string true opts in",
    ),
    pytest.param(
        pod_with(),
        DeploymentOwner("web", {contract.ENABLED: "false"}),
        SkipReason.NOT_OPTED_IN,
        id="a Deployment saying enabled false is not opted in",
    ),
    pytest.param(
        pod_with(annotations={contract.ENABLED: "true"}),
        DeploymentOwner("web", {}),
        SkipReason.NOT_OPTED_IN,
        id="a pod-level true alone does not opt in",
    ),
    pytest.param(
        pod_with(os={"name": "windows"}),
        OWNER,
        SkipReason.WINDOWS_POD,
        id="a Windows pod of an opted-in Deployment is skipped",
    ),
    pytest.param(
        pod_with(nodeSelector={"kubernetes.io/os": "windows"}),
        OWNER,
        SkipReason.WINDOWS_POD,
        id="a pod selecting Windows nodes is skipped",
    ),
]


@pytest.mark.parametrize(("pod", "owner", "reason"), SKIPS)
def test_pod_is_skipped_for_the_right_reason(
    pod: dict[str, Any], owner: OwnerResolution, reason: SkipReason
) -> None:
    decision = decide(pod, owner, DEFAULT)
    assert isinstance(decision, Skip)
    assert decision.reason is reason


def test_every_skip_reason_has_a_row_in_the_table() -> None:
    covered = {param.values[2] for param in SKIPS}
    assert covered == set(SkipReason)


def test_skip_reasons_are_stable_snake_case_metric_labels() -> None:
    for reason in SkipReason:
        assert reason.value == reason.name.lower()


INJECTED = [
    pytest.param(pod_with(), id="a pod of an opted-in Deployment gets the sidecar"),
    pytest.param(
        pod_with(hostNetwork=True),
        id="a hostNetwork pod gets the sidecar so it can report that Fargate cannot run it",
    ),
    pytest.param(
        pod_with(nodeSelector={"kubernetes.io/os": "linux"}, os={"name": "linux"}),
        id="a pod that targets Linux explicitly gets the sidecar",
    ),
    pytest.param(
        pod_with(annotations={contract.ENABLED: "true"}),
        id="a pod saying enabled true agrees with its Deployment",
    ),
    pytest.param(pod_with(annotations={}, labels={}), id="a pod without labels or annotations"),
]


@pytest.mark.parametrize("pod", INJECTED)
def test_pod_is_injected(pod: dict[str, Any]) -> None:
    owner = DeploymentOwner("web", {**OPTED_IN, contract.SIDECAR_IMAGE: "x:1"})
    assert decide(pod, owner, DEFAULT) == Inject("web", owner.annotations)


def test_the_request_namespace_wins_over_the_pods_missing_namespace() -> None:
    pod = pod_with()
    del pod["metadata"]["namespace"]
    assert decide(pod, OWNER, DEFAULT, namespace="kube-system") == Skip(
        SkipReason.EXCLUDED_NAMESPACE, "namespace kube-system"
    )
    assert isinstance(decide(pod, OWNER, DEFAULT), Inject)


def test_excluded_namespaces_are_configurable() -> None:
    config = SelectionConfig(excluded_namespaces=frozenset({"shop"}))
    assert decide(pod_with(), OWNER, config) == Skip(
        SkipReason.EXCLUDED_NAMESPACE, "namespace shop"
    )
    assert isinstance(decide(pod_with(namespace="kube-system"), OWNER, config), Inject)


def test_the_injectors_own_pods_are_skipped_before_anything_else() -> None:
    pod = pod_with(
        labels={contract.COMPONENT_LABEL: contract.COMPONENT_VALUE},
        namespace="kube-system",
        containers=[SIDECAR],
        owner_refs=[],
    )
    assert decide(pod, LookupFailed("x"), DEFAULT) == Skip(SkipReason.INJECTOR_POD)


def test_an_injected_pod_is_recognised_before_its_owner_is_looked_at() -> None:
    pod = pod_with(containers=[APP, SIDECAR], owner_refs=[])
    assert skip_before_lookup(pod, DEFAULT) == Skip(SkipReason.ALREADY_INJECTED)


def test_the_pods_own_opt_out_needs_no_lookup() -> None:
    pod = pod_with(annotations={contract.ENABLED: "false"})
    skip = skip_before_lookup(pod, DEFAULT)
    assert skip is not None
    assert skip.reason is SkipReason.POD_OPTED_OUT


def test_a_replicaset_pod_needs_a_lookup() -> None:
    assert skip_before_lookup(pod_with(), DEFAULT) is None


def test_an_opted_out_windows_deployment_counts_as_not_opted_in() -> None:
    pod = pod_with(os={"name": "windows"})
    decision = decide(pod, DeploymentOwner("web", {}), DEFAULT)
    assert isinstance(decision, Skip)
    assert decision.reason is SkipReason.NOT_OPTED_IN


def test_a_near_miss_opt_in_value_is_explained_in_the_detail() -> None:
    decision = decide(pod_with(), DeploymentOwner("web", {contract.ENABLED: " TRUE "}), DEFAULT)
    assert isinstance(decision, Skip)
    assert 'only the exact string "true" opts in' in decision.detail


def test_the_skip_detail_names_the_other_owner() -> None:
    decision = decide(pod_with(), OtherOwner("Rollout", "web"), DEFAULT)
    assert decision == Skip(SkipReason.NOT_A_DEPLOYMENT, "owned by Rollout web")


def test_decide_does_not_mutate_its_input() -> None:
    pod = pod_with()
    before = copy.deepcopy(pod)
    decide(pod, OWNER, DEFAULT)
    assert pod == before


def test_the_inject_decision_keeps_a_read_only_copy_of_the_annotations() -> None:
    annotations = dict(OPTED_IN)
    decision = decide(pod_with(), DeploymentOwner("web", annotations), DEFAULT)
    annotations["later"] = "edit"
    assert isinstance(decision, Inject)
    assert "later" not in decision.deployment_annotations
    with pytest.raises(TypeError):
        decision.deployment_annotations["x"] = "y"  # type: ignore[index]


def test_controller_ref_reads_the_controlling_owner_reference() -> None:
    refs = [{"apiVersion": "v1", "kind": "Node", "name": "n"}, replicaset_ref("web-1")]
    ref = controller_ref({"metadata": {"ownerReferences": refs}})
    assert ref == ControllerRef("apps/v1", "ReplicaSet", "web-1", replicaset_ref()["uid"])
    assert ref.is_replicaset


def test_controller_ref_of_an_object_without_owners_is_none() -> None:
    assert controller_ref({"metadata": {}}) is None
    assert controller_ref({}) is None
