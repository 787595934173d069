"""Pods, owners and configurations for the webhook core tests, and Hypothesis strategies.

The example pods look like what the API server sends a mutating webhook at CREATE: made by a
ReplicaSet (``generateName``, ``ownerReferences``), after the built-in admission plugins ran
(the ``kube-api-access`` volume is already there).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from spot_common import contract
from webhook.core.injection import API_ACCESS_VOLUME
from webhook.core.injection_config import InjectionConfig
from webhook.core.selection import DeploymentOwner

IMAGE = "registry.example.com/spot-failover/sidecar:0.1.0"
VERSION = "0.1.0"
CONFIG = InjectionConfig(
    image=IMAGE,
    version=VERSION,
    extra_env={"SPOT_FAILOVER_POLL_SECONDS": "2", "SPOT_FAILOVER_LOG_LEVEL": "INFO"},
)
OPTED_IN = {contract.ENABLED: "true"}
OWNER = DeploymentOwner("web", OPTED_IN)


def replicaset_ref(name: str = "web-7d4b9c6f5d") -> dict[str, Any]:
    """The ``ownerReferences`` entry a ReplicaSet puts on its pods."""
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": name,
        "uid": "6a1f1c1e-0000-4000-8000-000000000001",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def deployment_pod(**spec_overrides: Any) -> dict[str, Any]:
    """A small pod of the Deployment ``web`` in namespace ``shop``, as admitted."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-7d4b9c6f5d-",
            "namespace": "shop",
            "labels": {"app": "web", "pod-template-hash": "7d4b9c6f5d"},
            "annotations": {"example.com/team": "checkout"},
            "ownerReferences": [replicaset_ref()],
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example.com/shop/web:2.4.1",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                }
            ],
            "serviceAccountName": "web",
        },
    }
    pod["spec"].update(copy.deepcopy(spec_overrides))
    return pod


# --- Hypothesis strategies -------------------------------------------------------------------

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=8).map(
    lambda s: f"c{s}"
)
_annotation_keys = st.one_of(
    st.sampled_from(
        [
            "example.com/team",
            "a/b/c",
            "tilde~key",
            "~1not-an-escape",
            "x~0y/z",
            contract.ENABLED,
            contract.SIDECAR_IMAGE,
            "kubectl.kubernetes.io/restartedAt",
        ]
    ),
    st.text(min_size=1, max_size=12),
)
_string_maps = st.dictionaries(_annotation_keys, st.text(max_size=12), max_size=4)


@st.composite
def _container(draw: st.DrawFn, name: str, port_names: list[str]) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": draw(st.sampled_from(["busybox", "a/b:1"]))}
    ports = [
        {"name": port_name, "containerPort": draw(st.sampled_from([80, 8080, 9090, 9795]))}
        for port_name in port_names
    ]
    empty_ports: bool = draw(st.booleans())
    if ports or empty_ports:
        container["ports"] = ports
    if draw(st.booleans()):
        container["env"] = [{"name": "X", "value": draw(st.text(max_size=5))}]
    return container


@st.composite
def pods(draw: st.DrawFn, *, may_be_injected: bool = True) -> dict[str, Any]:
    """Valid pods of many shapes: optional parents, collisions with our names, odd keys."""
    n_containers = draw(st.integers(1, 3))
    n_init = draw(st.integers(0, 2))
    names = draw(st.lists(_names, min_size=n_containers + n_init, max_size=5, unique=True))
    port_pool = draw(
        st.lists(st.sampled_from(["http", "metrics", "spot-failover", "grpc"]), unique=True)
    )
    owners = [draw(st.integers(0, len(names) - 1)) for _ in port_pool]

    def build(index: int) -> dict[str, Any]:
        mine = [p for p, owner in zip(port_pool, owners, strict=True) if owner == index]
        return draw(_container(names[index], mine))

    spec: dict[str, Any] = {"containers": [build(i) for i in range(n_containers)]}
    if n_init or draw(st.booleans()):
        init = [build(n_containers + i) for i in range(n_init)]
        for container in init:
            if draw(st.booleans()):
                container["restartPolicy"] = "Always"
        spec["initContainers"] = init
    if may_be_injected and draw(st.integers(0, 9)) == 0:
        key = draw(st.sampled_from(["containers", "initContainers"]))
        spec.setdefault(key, []).append({"name": contract.SIDECAR_CONTAINER, "image": "x"})
    ours = [API_ACCESS_VOLUME, f"{API_ACCESS_VOLUME}-2", "data"]
    volume_names = draw(st.lists(st.sampled_from(ours), unique=True))
    empty_volumes: bool = draw(st.booleans())
    if volume_names or empty_volumes:
        spec["volumes"] = [{"name": name, "emptyDir": {}} for name in volume_names]
    for key in ("hostNetwork", "automountServiceAccountToken"):
        if draw(st.booleans()):
            spec[key] = draw(st.booleans())
    metadata: dict[str, Any] = {"generateName": "web-", "ownerReferences": [replicaset_ref()]}
    for key in ("labels", "annotations"):
        if draw(st.booleans()):
            metadata[key] = draw(_string_maps)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


_env_names = st.from_regex(r"SPOT_FAILOVER_[A-Z]{1,4}", fullmatch=True).filter(
    lambda n: (
        n
        not in {
            contract.ENV_POD_NAME,
            contract.ENV_NAMESPACE,
            contract.ENV_NODE_NAME,
            contract.ENV_DEPLOYMENT,
            contract.ENV_METRICS_PORT,
        }
    )
)
configs = st.builds(
    InjectionConfig,
    image=st.just(IMAGE),
    version=st.sampled_from(["0.1.0", "1.2.3-rc.1"]),
    native_sidecar=st.booleans(),
    metrics_port=st.sampled_from([0, 8080, 9795]),
    extra_env=st.dictionaries(_env_names, st.text(max_size=6), max_size=3),
)
deployment_annotations: st.SearchStrategy[Mapping[str, str]] = st.one_of(
    st.just(OPTED_IN),
    st.sampled_from(
        ["registry.example.com/other:2", "localhost:5000/x@sha256:" + "a" * 64, "Not An Image", ""]
    ).map(lambda image: {**OPTED_IN, contract.SIDECAR_IMAGE: image}),
)
