"""What the injected sidecar looks like, and how injection treats the pod around it."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from spot_common import contract
from webhook.core.injection import (
    API_ACCESS_VOLUME,
    METRICS_PORT_NAME,
    SERVICE_ACCOUNT_MOUNT_PATH,
    InvalidPodError,
    inject,
)

from .pods import CONFIG, IMAGE, OPTED_IN, VERSION, deployment_pod

CLASSIC = dataclasses.replace(CONFIG, native_sidecar=False)


def sidecar_of(pod: dict[str, Any]) -> dict[str, Any]:
    spec = pod["spec"]
    found: list[dict[str, Any]] = [
        c
        for c in [*spec.get("initContainers", []), *spec["containers"]]
        if c["name"] == contract.SIDECAR_CONTAINER
    ]
    assert len(found) == 1
    return found[0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_a_native_sidecar_is_the_first_init_container_and_restarts_always() -> None:
    pod = deployment_pod(initContainers=[{"name": "migrate", "image": "x"}])
    result = inject(pod, "web", OPTED_IN, CONFIG).pod
    first, second = result["spec"]["initContainers"]
    assert first["name"] == contract.SIDECAR_CONTAINER
    assert first["restartPolicy"] == "Always"
    assert second == {"name": "migrate", "image": "x"}
    assert result["spec"]["containers"] == pod["spec"]["containers"]


def test_a_classic_sidecar_is_appended_after_the_app_containers() -> None:
    pod = deployment_pod()
    result = inject(pod, "web", OPTED_IN, CLASSIC).pod
    app, sidecar = result["spec"]["containers"]
    assert app == pod["spec"]["containers"][0]
    assert sidecar["name"] == contract.SIDECAR_CONTAINER
    assert "restartPolicy" not in sidecar
    assert "initContainers" not in result["spec"]


def test_the_sidecar_env_is_identity_then_settings_sorted_then_metrics_port() -> None:
    config = dataclasses.replace(CONFIG, extra_env={"SPOT_FAILOVER_Z": "1", "SPOT_FAILOVER_A": "2"})
    env = sidecar_of(inject(deployment_pod(), "web", OPTED_IN, config).pod)["env"]
    assert [e["name"] for e in env] == [
        contract.ENV_POD_NAME,
        contract.ENV_NAMESPACE,
        contract.ENV_NODE_NAME,
        contract.ENV_DEPLOYMENT,
        "SPOT_FAILOVER_A",
        "SPOT_FAILOVER_Z",
        contract.ENV_METRICS_PORT,
    ]
    paths = [e["valueFrom"]["fieldRef"]["fieldPath"] for e in env[:3]]
    assert paths == ["metadata.name", "metadata.namespace", "spec.nodeName"]
    assert env[3]["value"] == "web"
    assert env[-1]["value"] == str(CONFIG.metrics_port)


def test_the_sidecar_runs_hardened() -> None:
    sidecar = sidecar_of(inject(deployment_pod(), "web", OPTED_IN, CONFIG).pod)
    assert sidecar["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_the_sidecar_requests_little_and_has_no_cpu_limit() -> None:
    sidecar = sidecar_of(inject(deployment_pod(), "web", OPTED_IN, CONFIG).pod)
    assert sidecar["resources"] == {
        "requests": {"cpu": "10m", "memory": "48Mi"},
        "limits": {"memory": "128Mi"},
    }


def test_the_sidecar_adds_nothing_fargate_rejects() -> None:
    for host_network in (False, True):
        pod = inject(deployment_pod(hostNetwork=host_network), "web", OPTED_IN, CONFIG).pod
        sidecar = sidecar_of(pod)
        assert "privileged" not in sidecar["securityContext"]
        assert all("hostPort" not in port for port in sidecar.get("ports", []))
        assert all("hostPath" not in volume for volume in pod["spec"]["volumes"])


def test_the_sidecar_gets_its_own_token_mounted_only_into_it() -> None:
    pod = deployment_pod()
    result = inject(pod, "web", OPTED_IN, CONFIG).pod
    (volume,) = result["spec"]["volumes"]
    assert volume["name"] == API_ACCESS_VOLUME
    sources = volume["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sidecar_of(result)["volumeMounts"] == [
        {"name": API_ACCESS_VOLUME, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH, "readOnly": True}
    ]
    assert "volumeMounts" not in result["spec"]["containers"][0]


def test_automount_false_still_keeps_the_token_away_from_the_app() -> None:
    pod = deployment_pod(automountServiceAccountToken=False)
    result = inject(pod, "web", OPTED_IN, CONFIG).pod
    assert result["spec"]["automountServiceAccountToken"] is False
    assert result["spec"]["containers"] == pod["spec"]["containers"]
    assert sidecar_of(result)["volumeMounts"][0]["mountPath"] == SERVICE_ACCOUNT_MOUNT_PATH


def test_a_taken_volume_name_makes_the_sidecar_pick_the_next_free_one() -> None:
    volumes = [{"name": API_ACCESS_VOLUME, "emptyDir": {}}, {"name": f"{API_ACCESS_VOLUME}-2"}]
    result = inject(deployment_pod(volumes=volumes), "web", OPTED_IN, CONFIG).pod
    assert [v["name"] for v in result["spec"]["volumes"]] == [
        API_ACCESS_VOLUME,
        f"{API_ACCESS_VOLUME}-2",
        f"{API_ACCESS_VOLUME}-3",
    ]
    assert sidecar_of(result)["volumeMounts"][0]["name"] == f"{API_ACCESS_VOLUME}-3"


def test_a_valid_image_override_on_the_deployment_replaces_the_image() -> None:
    annotations = {**OPTED_IN, contract.SIDECAR_IMAGE: "mirror.example.com/sf/sidecar:0.1.0"}
    injected = inject(deployment_pod(), "web", annotations, CONFIG)
    assert sidecar_of(injected.pod)["image"] == "mirror.example.com/sf/sidecar:0.1.0"
    assert injected.warnings == ()


@pytest.mark.parametrize("override", ["not an image", "", "UPPER/case:1", "x:tag with space"])
def test_an_invalid_image_override_keeps_the_default_and_warns(override: str) -> None:
    annotations = {**OPTED_IN, contract.SIDECAR_IMAGE: override}
    injected = inject(deployment_pod(), "web", annotations, CONFIG)
    assert sidecar_of(injected.pod)["image"] == IMAGE
    (warning,) = injected.warnings
    assert contract.SIDECAR_IMAGE in warning
    assert IMAGE in warning


def test_a_hostnetwork_pod_gets_no_metrics_port() -> None:
    sidecar = sidecar_of(inject(deployment_pod(hostNetwork=True), "web", OPTED_IN, CONFIG).pod)
    assert "ports" not in sidecar
    assert env_of(sidecar)[contract.ENV_METRICS_PORT] == "0"


def test_the_metrics_port_is_declared_and_named() -> None:
    sidecar = sidecar_of(inject(deployment_pod(), "web", OPTED_IN, CONFIG).pod)
    assert sidecar["ports"] == [
        {"name": METRICS_PORT_NAME, "containerPort": CONFIG.metrics_port, "protocol": "TCP"}
    ]


def test_a_metrics_port_the_app_declares_disables_sidecar_metrics_with_a_warning() -> None:
    app = {"name": "app", "image": "x", "ports": [{"containerPort": CONFIG.metrics_port}]}
    injected = inject(deployment_pod(containers=[app]), "web", OPTED_IN, CONFIG)
    sidecar = sidecar_of(injected.pod)
    assert "ports" not in sidecar
    assert env_of(sidecar)[contract.ENV_METRICS_PORT] == "0"
    assert len(injected.warnings) == 1
    assert "container app declares port 9795" in injected.warnings[0]


def test_a_taken_port_name_leaves_the_metrics_port_unnamed() -> None:
    app = {"name": "app", "image": "x", "ports": [{"name": METRICS_PORT_NAME, "containerPort": 1}]}
    injected = inject(deployment_pod(containers=[app]), "web", OPTED_IN, CONFIG)
    assert sidecar_of(injected.pod)["ports"] == [
        {"containerPort": CONFIG.metrics_port, "protocol": "TCP"}
    ]
    assert len(injected.warnings) == 1


def test_metrics_port_zero_disables_metrics_without_a_warning() -> None:
    config = dataclasses.replace(CONFIG, metrics_port=0)
    injected = inject(deployment_pod(), "web", OPTED_IN, config)
    assert "ports" not in sidecar_of(injected.pod)
    assert injected.warnings == ()


def test_the_injected_annotation_records_the_version_and_keeps_the_others() -> None:
    result = inject(deployment_pod(), "web", OPTED_IN, CONFIG).pod
    assert result["metadata"]["annotations"] == {
        "example.com/team": "checkout",
        contract.INJECTED: VERSION,
    }


def test_a_pod_without_metadata_gets_the_annotation() -> None:
    pod = deployment_pod()
    del pod["metadata"]
    result = inject(pod, "web", OPTED_IN, CONFIG).pod
    assert result["metadata"] == {"annotations": {contract.INJECTED: VERSION}}


def test_null_parents_are_treated_as_missing() -> None:
    pod = deployment_pod(initContainers=None, volumes=None)
    pod["metadata"]["annotations"] = None
    result = inject(pod, "web", OPTED_IN, CONFIG).pod
    assert [c["name"] for c in result["spec"]["initContainers"]] == [contract.SIDECAR_CONTAINER]
    assert result["metadata"]["annotations"] == {contract.INJECTED: VERSION}


def test_an_already_injected_pod_comes_back_unchanged_as_a_copy() -> None:
    once = inject(deployment_pod(), "web", OPTED_IN, CONFIG).pod
    again = inject(once, "other", {}, CLASSIC)
    assert again.pod == once
    assert again.pod is not once
    assert again.warnings == ()


def test_injection_does_not_mutate_its_inputs() -> None:
    pod = deployment_pod(initContainers=[{"name": "i", "image": "x"}], volumes=[])
    annotations = {**OPTED_IN, contract.SIDECAR_IMAGE: "bad image"}
    pod_before, annotations_before = copy.deepcopy(pod), dict(annotations)
    result = inject(pod, "web", annotations, CONFIG).pod
    assert pod == pod_before
    assert annotations == annotations_before
    result["spec"]["containers"][0]["name"] = "edited"
    assert pod == pod_before


def test_a_pod_without_spec_is_refused() -> None:
    with pytest.raises(InvalidPodError, match="no spec"):
        inject({"metadata": {}}, "web", OPTED_IN, CONFIG)


def test_a_pod_with_containers_that_are_not_a_list_is_refused() -> None:
    with pytest.raises(InvalidPodError, match=r"spec\.containers"):
        inject({"spec": {"containers": {}}}, "web", OPTED_IN, CONFIG)


def test_an_empty_deployment_name_is_refused() -> None:
    with pytest.raises(ValueError, match="deployment_name"):
        inject(deployment_pod(), "", OPTED_IN, CONFIG)
