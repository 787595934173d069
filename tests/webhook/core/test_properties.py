"""Properties over generated pods: idempotence, purity, a patch that applies, a valid result."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from spot_common import contract
from webhook.core.injection import has_sidecar, inject
from webhook.core.injection_config import InjectionConfig
from webhook.core.selection import DeploymentOwner, SelectionConfig, decide

from . import applier
from .patch import json_patch
from .pods import configs, deployment_annotations, pods

EXAMPLES = settings(max_examples=80, deadline=None)


def all_containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = pod["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


@EXAMPLES
@given(pods(), deployment_annotations, configs)
def test_injecting_twice_equals_injecting_once(
    pod: dict[str, Any], annotations: Mapping[str, str], config: InjectionConfig
) -> None:
    once = inject(pod, "web", annotations, config).pod
    twice = inject(once, "web", annotations, config)
    assert twice.pod == once
    assert twice.warnings == ()


@EXAMPLES
@given(pods(), deployment_annotations, configs)
def test_the_json_patch_applies_cleanly_to_the_original_and_yields_the_injected_pod(
    pod: dict[str, Any], annotations: Mapping[str, str], config: InjectionConfig
) -> None:
    injected = inject(pod, "web", annotations, config).pod
    patch = json_patch(pod, injected)
    assert applier.apply(pod, patch) == injected
    assert jsonpatch.apply_patch(pod, patch) == injected
    assert json.loads(json.dumps(patch)) == patch


@EXAMPLES
@given(pods(), deployment_annotations, configs)
def test_the_patch_only_adds_and_replaces_nothing_but_our_annotation(
    pod: dict[str, Any], annotations: Mapping[str, str], config: InjectionConfig
) -> None:
    patch = json_patch(pod, inject(pod, "web", annotations, config).pod)
    for operation in patch:
        if operation["op"] != "add":
            assert operation == {
                "op": "replace",
                "path": "/metadata/annotations/spot-failover~1injected",
                "value": config.version,
            }


@EXAMPLES
@given(pods(), deployment_annotations, configs, st.booleans())
def test_the_input_is_never_mutated(
    pod: dict[str, Any],
    annotations: Mapping[str, str],
    config: InjectionConfig,
    through_selection: bool,
) -> None:
    saved = copy.deepcopy((pod, dict(annotations)))
    if through_selection:
        decide(pod, DeploymentOwner("web", annotations), SelectionConfig())
    injected = inject(pod, "web", annotations, config).pod
    json_patch(pod, injected)
    assert (pod, dict(annotations)) == saved


@EXAMPLES
@given(pods(), deployment_annotations, configs)
def test_injection_is_deterministic_down_to_key_order(
    pod: dict[str, Any], annotations: Mapping[str, str], config: InjectionConfig
) -> None:
    first = inject(pod, "web", annotations, config)
    second = inject(copy.deepcopy(pod), "web", dict(annotations), config)
    assert json.dumps(first.pod) == json.dumps(second.pod)
    assert first.warnings == second.warnings


@EXAMPLES
@given(pods(may_be_injected=False), deployment_annotations, configs)
def test_injection_keeps_the_names_kubernetes_requires_to_be_unique_unique(
    pod: dict[str, Any], annotations: Mapping[str, str], config: InjectionConfig
) -> None:
    result = inject(pod, "web", annotations, config).pod
    containers = all_containers(result)
    assert sum(c["name"] == contract.SIDECAR_CONTAINER for c in containers) == 1
    assert has_sidecar(result)
    names = Counter(c["name"] for c in containers)
    assert max(names.values()) == 1
    volumes = Counter(v["name"] for v in result["spec"]["volumes"])
    assert max(volumes.values()) == 1
    ports = [p for c in containers for p in c.get("ports", [])]
    port_names = Counter(p["name"] for p in ports if "name" in p)
    assert not port_names or max(port_names.values()) == 1
    sidecar = next(c for c in containers if c["name"] == contract.SIDECAR_CONTAINER)
    for port in sidecar.get("ports", []):
        assert [p["containerPort"] for p in ports].count(port["containerPort"]) == 1
    for mount in sidecar["volumeMounts"]:
        assert mount["name"] in volumes
    assert result["metadata"]["annotations"][contract.INJECTED] == config.version
