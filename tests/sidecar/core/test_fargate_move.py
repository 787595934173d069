"""Moving a template to Fargate changes only scheduling fields, and saves what it changed.

The way back is tests/sidecar/core/test_restore.py."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hypothesis import given

from sidecar.core.fargate import (
    COMPUTE_TYPE_KEY,
    DEFAULT_EC2_KEYS,
    FARGATE_PROFILE_LABEL,
    to_fargate,
)
from sidecar.core.saved_scheduling import SavedScheduling
from tests.sidecar.core import strategies
from tests.sidecar.core.builders import FARGATE_LABELS, spot_template


def without_scheduling(template: Mapping[str, Any]) -> dict[str, Any]:
    """``template`` minus every field a move may change (emptied maps count as absent)."""
    stripped = copy.deepcopy(dict(template))
    metadata = stripped.get("metadata", {})
    metadata.pop("labels", None)
    metadata.get("annotations", {}).pop(COMPUTE_TYPE_KEY, None)
    for parent, key in ((metadata, "annotations"), (stripped, "metadata")):
        if parent.get(key) == {}:
            del parent[key]
    spec = stripped["spec"]
    spec.pop("nodeSelector", None)
    spec.pop("tolerations", None)
    spec.get("affinity", {}).pop("nodeAffinity", None)
    return stripped


@given(strategies.templates, strategies.fargate_labels, strategies.profiles, strategies.ec2_keys)
def test_a_move_changes_only_scheduling_fields(
    template: dict[str, Any],
    labels: dict[str, str],
    profile: str | None,
    ec2_keys: frozenset[str],
) -> None:
    moved, _ = to_fargate(template, labels, profile, ec2_keys)
    assert without_scheduling(moved) == without_scheduling(template)
    assert moved["spec"]["containers"] == template["spec"]["containers"]


@given(strategies.templates, strategies.fargate_labels, strategies.profiles, strategies.ec2_keys)
def test_a_moved_template_matches_the_profile_and_has_no_ec2_constraints(
    template: dict[str, Any],
    labels: dict[str, str],
    profile: str | None,
    ec2_keys: frozenset[str],
) -> None:
    moved, _ = to_fargate(template, labels, profile, ec2_keys)
    pod_labels = moved.get("metadata", {}).get("labels", {})
    wanted = dict(labels) | ({FARGATE_PROFILE_LABEL: profile} if profile else {})
    assert wanted.items() <= pod_labels.items()
    spec = moved["spec"]
    assert not set(spec.get("nodeSelector", {})) & ec2_keys
    assert not {t["key"] for t in spec.get("tolerations", [])} & ec2_keys
    assert "nodeAffinity" not in spec.get("affinity", {})
    assert moved.get("metadata", {}).get("annotations", {}).get(COMPUTE_TYPE_KEY) != "ec2"


@given(strategies.templates, strategies.fargate_labels, strategies.profiles, strategies.ec2_keys)
def test_moving_twice_changes_nothing_the_second_time(
    template: dict[str, Any],
    labels: dict[str, str],
    profile: str | None,
    ec2_keys: frozenset[str],
) -> None:
    once, _ = to_fargate(template, labels, profile, ec2_keys)
    twice, saved = to_fargate(once, labels, profile, ec2_keys)
    assert twice == once
    assert saved == SavedScheduling()


@given(strategies.templates, strategies.fargate_labels, strategies.profiles)
def test_the_saved_scheduling_survives_its_json_form(
    template: dict[str, Any], labels: dict[str, str], profile: str | None
) -> None:
    _, saved = to_fargate(template, labels, profile, DEFAULT_EC2_KEYS)
    assert SavedScheduling.from_json(saved.to_json()) == saved


def test_the_example_move_adds_the_labels_and_drops_exactly_the_spot_pins() -> None:
    moved, saved = to_fargate(spot_template(), FARGATE_LABELS, "web-profile", DEFAULT_EC2_KEYS)
    assert moved["metadata"]["labels"] == {
        "app": "web",
        "spot-failover/fargate": "true",
        FARGATE_PROFILE_LABEL: "web-profile",
    }
    assert moved["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert moved["spec"]["affinity"] == {
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}
    }
    assert moved["spec"]["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}
    ]
    assert saved.node_selector == {"karpenter.sh/capacity-type": "spot"}
    assert [removed.index for removed in saved.tolerations] == [1]
