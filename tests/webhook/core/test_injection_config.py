"""What the webhook may inject, as configured: refused at start-up unless every value is valid."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from spot_common import contract
from webhook.core.injection_config import PullPolicy, Resources, valid_image_reference

from .pods import CONFIG


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image": "not an image"}, "image="),
        ({"version": ""}, "version"),
        ({"metrics_port": 70000}, "metrics_port"),
        ({"metrics_port": -1}, "metrics_port"),
        ({"extra_env": {"OTHER_VAR": "1"}}, "SPOT_FAILOVER_<NAME>"),
        ({"extra_env": {"SPOT_FAILOVER_BAD-NAME": "1"}}, "SPOT_FAILOVER_<NAME>"),
        ({"extra_env": {contract.ENV_DEPLOYMENT: "x"}}, "sets it per pod"),
        ({"image_pull_policy": "Sometimes"}, "Sometimes"),
    ],
)
def test_an_invalid_configuration_is_refused_with_a_message_naming_the_field(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(CONFIG, **changes)


def test_a_non_string_env_value_is_refused() -> None:
    with pytest.raises(TypeError, match="must be a string"):
        dataclasses.replace(CONFIG, extra_env={"SPOT_FAILOVER_X": 1})  # type: ignore[dict-item]


def test_a_resource_that_is_not_a_quantity_is_refused() -> None:
    with pytest.raises(ValueError, match=r"resources\.memory_limit='64 MB'"):
        Resources(memory_limit="64 MB")


def test_resources_with_equal_requests_and_limits_can_keep_a_pod_guaranteed() -> None:
    resources = Resources(cpu_request="50m", memory_request="128Mi", cpu_limit="50m")
    assert resources.as_dict()["limits"] == {"cpu": "50m", "memory": "128Mi"}


def test_the_configuration_is_frozen_and_its_env_read_only() -> None:
    env = {"SPOT_FAILOVER_X": "1"}
    config = dataclasses.replace(CONFIG, extra_env=env)
    env["SPOT_FAILOVER_Y"] = "2"
    assert dict(config.extra_env) == {"SPOT_FAILOVER_X": "1"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.image = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.extra_env["SPOT_FAILOVER_Y"] = "2"  # type: ignore[index]


def test_the_pull_policy_accepts_its_kubernetes_spelling() -> None:
    config = dataclasses.replace(CONFIG, image_pull_policy="Always")  # type: ignore[arg-type]
    assert config.image_pull_policy is PullPolicy.ALWAYS


# --- Image references ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference",
    [
        "busybox",
        "library/busybox:1.36",
        "registry.example.com/team/app:v1.2.3",
        "localhost:5000/app",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/spot-failover/sidecar:0.1.0",
        "ghcr.io/org/app@sha256:" + "0123456789abcdef" * 4,
        "registry.example.com:443/a/b/c:tag@sha256:" + "ab" * 32,
        "[::1]:5000/app:1",
        "app_name__x/y-z:1_2.3-4",
    ],
)
def test_image_references_that_are_valid(reference: str) -> None:
    assert valid_image_reference(reference)


@pytest.mark.parametrize(
    "reference",
    [
        "",
        " busybox",
        "Busybox",
        "app:",
        "app:-tag",
        "app@sha256:short",
        "registry.example.com/",
        "a//b",
        "app:tag:again",
        "app;rm -rf /",
        "x" * 1025,
    ],
)
def test_image_references_that_are_invalid(reference: str) -> None:
    assert not valid_image_reference(reference)


def test_image_validation_stays_fast_on_hostile_input() -> None:
    hostile = "a" + "-a" * 300 + "." + "a-" * 200 + "!"
    started = time.perf_counter()
    assert not valid_image_reference(hostile)
    assert time.perf_counter() - started < 0.5
