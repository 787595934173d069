"""Which pods get a sidecar process, and how its command line, grace period and ports are
derived from the pod spec, without a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.controlplane.podspec import (
    GRACE_CAP_S,
    MIN_GRACE_S,
    container_argv,
    grace_period_s,
    remap_metrics_port,
    sidecar_container,
)
from spot_common import contract

SIDECAR = {"name": contract.SIDECAR_CONTAINER, "image": "registry.example/sf:1"}
APP = {"name": "app", "image": "registry.example/app:1"}


def a_pod(
    *,
    init: list[dict[str, Any]] | None = None,
    containers: list[dict[str, Any]] | None = None,
    node: str | None = "spot-0",
    **metadata: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"initContainers": init or [], "containers": containers or [APP]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": "p", "uid": "u", **metadata}, "spec": spec, "status": {}}


def test_a_native_sidecar_is_an_init_container_that_restarts_always() -> None:
    native = {**SIDECAR, "restartPolicy": "Always"}

    assert sidecar_container(a_pod(init=[native])) == native
    assert sidecar_container(a_pod(init=[SIDECAR])) is None


def test_a_sidecar_among_the_regular_containers_counts_too() -> None:
    assert sidecar_container(a_pod(containers=[APP, SIDECAR])) == SIDECAR


@pytest.mark.parametrize(
    ("why", "pod"),
    [
        ("no sidecar", a_pod()),
        ("not scheduled", a_pod(containers=[SIDECAR], node=None)),
        ("being deleted", a_pod(containers=[SIDECAR], deletionTimestamp="2030-01-01T00:00:00Z")),
        ("finished", {**a_pod(containers=[SIDECAR]), "status": {"phase": "Succeeded"}}),
    ],
)
def test_pods_that_should_not_run_a_sidecar_now_get_none(why: str, pod: dict[str, Any]) -> None:
    assert sidecar_container(pod) is None, why


def test_the_grace_period_is_the_deletions_else_the_specs_bounded_like_the_kubelets() -> None:
    spec_only = a_pod()
    spec_only["spec"]["terminationGracePeriodSeconds"] = 7
    deleting = a_pod(deletionGracePeriodSeconds=3)

    assert grace_period_s(spec_only) == 7
    assert grace_period_s(deleting) == 3
    assert grace_period_s(a_pod(deletionGracePeriodSeconds=0)) == MIN_GRACE_S
    assert grace_period_s(a_pod(deletionGracePeriodSeconds=3600)) == GRACE_CAP_S
    assert grace_period_s(a_pod()) == 30


def test_the_command_replaces_the_entrypoint_and_args_follow_either() -> None:
    env = {"POD": "web-1"}
    entrypoint = ["python", "-m", "sidecar"]

    assert container_argv({"args": ["--pod=$(POD)"]}, env, entrypoint) == [
        *entrypoint,
        "--pod=web-1",
    ]
    assert container_argv({"command": ["run", "$(POD)"]}, env, entrypoint) == ["run", "web-1"]
    assert container_argv({}, env, lambda container: ["image-of", *container]) == ["image-of"]


@pytest.mark.parametrize(("value", "remapped"), [("9090", True), ("0", False), ("", False)])
def test_only_a_non_zero_metrics_port_gets_a_local_port(value: str, remapped: bool) -> None:
    env = {contract.ENV_METRICS_PORT: value} if value else {}

    local_env, port = remap_metrics_port(env, pick=lambda: 41234)

    assert port == (41234 if remapped else None)
    assert local_env == ({contract.ENV_METRICS_PORT: "41234"} if remapped else env)
