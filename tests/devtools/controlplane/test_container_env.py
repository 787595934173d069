"""The environment a container gets follows the kubelet's rules, without a cluster."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from devtools.controlplane.podspec import EnvError, EnvNotReady, container_env, expand

NODE_ALLOCATABLE = {"cpu": "8", "memory": "32Gi"}


@dataclass
class Objects:
    """Secrets and ConfigMaps of the pod's namespace, as the API would return their data."""

    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)

    def secret(self, namespace: str, name: str) -> Mapping[str, str] | None:
        assert namespace == "shop"
        data = self.secrets.get(name)
        if data is None:
            return None
        return {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}

    def config_map(self, namespace: str, name: str) -> Mapping[str, str] | None:
        assert namespace == "shop"
        return self.config_maps.get(name)

    def node_allocatable(self, node: str) -> Mapping[str, str]:
        assert node == "spot-1"
        return NODE_ALLOCATABLE


def a_pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "uid": "u-1",
            "labels": {"app": "web"},
            "annotations": {"team": "payments"},
        },
        "spec": {"nodeName": "spot-1", "serviceAccountName": "web", "containers": []},
        "status": {"podIP": "10.244.0.7", "hostIP": "10.0.0.1", **status},
    }


def resolve(
    env: list[dict[str, Any]],
    objects: Objects | None = None,
    pod: dict[str, Any] | None = None,
    **container: Any,
) -> dict[str, str]:
    spec = {"name": "spot-failover", "env": env, **container}
    pod = pod or a_pod()
    pod["spec"]["containers"].append(spec)
    return container_env(pod, spec, objects or Objects())


def field_ref(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def resource_ref(name: str, resource: str, divisor: str | None = None) -> dict[str, Any]:
    ref = {"resource": resource, **({"divisor": divisor} if divisor else {})}
    return {"name": name, "valueFrom": {"resourceFieldRef": ref}}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("metadata.name", "web-1"),
        ("metadata.namespace", "shop"),
        ("metadata.uid", "u-1"),
        ("spec.nodeName", "spot-1"),
        ("spec.serviceAccountName", "web"),
        ("status.podIP", "10.244.0.7"),
        ("status.hostIP", "10.0.0.1"),
        ("metadata.labels['app']", "web"),
        ("metadata.annotations['team']", "payments"),
        ("metadata.labels['absent']", ""),
    ],
)
def test_a_field_ref_takes_the_value_of_the_pod_field(path: str, value: str) -> None:
    assert resolve([field_ref("V", path)]) == {"V": value}


def test_a_field_ref_to_an_ip_not_yet_assigned_asks_to_wait() -> None:
    with pytest.raises(EnvNotReady, match=r"status\.podIP"):
        resolve([field_ref("IP", "status.podIP")], pod=a_pod(podIP=None))


def test_a_field_ref_the_kubelet_does_not_allow_in_env_is_refused() -> None:
    with pytest.raises(EnvError, match=r"spec\.hostname"):
        resolve([field_ref("V", "spec.hostname")])


def test_values_expand_references_to_earlier_variables_only() -> None:
    env = resolve(
        [
            field_ref("POD", "metadata.name"),
            {"name": "URL", "value": "http://$(POD):$(PORT)/$$(POD)"},
            {"name": "PORT", "value": "9090"},
        ]
    )

    assert env["URL"] == "http://web-1:$(PORT)/$(POD)"


def test_expanding_leaves_unclosed_and_unknown_references_as_written() -> None:
    assert expand("$(A) $(B $C $$ $", {"A": "a"}) == "a $(B $C $ $"


def test_secret_and_config_map_keys_are_read_and_optional_ones_may_be_missing() -> None:
    objects = Objects(secrets={"creds": {"token": "t0k"}}, config_maps={"cfg": {"mode": "fast"}})
    env = resolve(
        [
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {
                "name": "GONE",
                "valueFrom": {"secretKeyRef": {"name": "x", "key": "y", "optional": True}},
            },
            {
                "name": "NOKEY",
                "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "y", "optional": True}},
            },
        ],
        objects,
    )

    assert env == {"TOKEN": "t0k", "MODE": "fast"}


def test_a_missing_key_that_is_not_optional_names_the_variable_and_the_object() -> None:
    objects = Objects(config_maps={"cfg": {}})
    ref = {"configMapKeyRef": {"name": "cfg", "key": "mode"}}

    with pytest.raises(EnvError, match=r"MODE: key 'mode' of ConfigMap 'cfg' not found"):
        resolve([{"name": "MODE", "valueFrom": ref}], objects)


def test_env_from_comes_first_with_its_prefix_and_env_overrides_it() -> None:
    objects = Objects(secrets={"s": {"A": "from-secret"}}, config_maps={"c": {"B": "from-map"}})
    env = resolve(
        [{"name": "CFG_B", "value": "from-env"}],
        objects,
        envFrom=[
            {"secretRef": {"name": "s"}},
            {"configMapRef": {"name": "c"}, "prefix": "CFG_"},
            {"configMapRef": {"name": "absent", "optional": True}},
        ],
    )

    assert env == {"A": "from-secret", "CFG_B": "from-env"}


def test_env_from_a_missing_object_that_is_not_optional_is_refused() -> None:
    with pytest.raises(EnvError, match="Secret 's' not found"):
        resolve([], envFrom=[{"secretRef": {"name": "s"}}])


def test_resource_refs_round_up_by_the_divisor_and_fall_back_to_node_allocatable() -> None:
    env = resolve(
        [
            resource_ref("CPU_REQUEST", "requests.cpu"),
            resource_ref("CPU_REQUEST_M", "requests.cpu", "1m"),
            resource_ref("MEMORY_LIMIT_MI", "limits.memory", "1Mi"),
            resource_ref("CPU_LIMIT", "limits.cpu"),
        ],
        resources={"requests": {"cpu": "100m"}, "limits": {"memory": "64Mi"}},
    )

    assert env == {
        "CPU_REQUEST": "1",
        "CPU_REQUEST_M": "100",
        "MEMORY_LIMIT_MI": "64",
        "CPU_LIMIT": NODE_ALLOCATABLE["cpu"],
    }
