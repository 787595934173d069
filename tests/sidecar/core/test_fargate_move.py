"""Moving a template to Fargate changes only scheduling fields, and the undo is exact."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sidecar.core.fargate import (
    COMPUTE_TYPE_KEY,
    DEFAULT_EC2_KEYS,
    FARGATE_PROFILE_LABEL,
    restore,
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


@given(
    strategies.templates,
    strategies.fargate_labels,
    strategies.profiles,
    strategies.ec2_keys,
)
def test_restoring_a_move_gives_back_the_template_exactly(
    template: dict[str, Any],
    labels: dict[str, str],
    profile: str | None,
    ec2_keys: frozenset[str],
) -> None:
    original = copy.deepcopy(template)
    moved, saved = to_fargate(template, labels, profile, ec2_keys)
    assert template == original, "to_fargate must not modify its input"
    assert restore(moved, saved, add_ec2_annotation=False) == template


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
    restored = restore(moved, SavedScheduling(), add_ec2_annotation=True)
    assert without_scheduling(restored) == without_scheduling(template)


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


@given(
    strategies.templates,
    st.sampled_from(["nginx:1.28", "app:3"]),
    st.dictionaries(st.sampled_from(["team", "version"]), st.sampled_from(["a", "b"]), max_size=2),
)
def test_edits_made_while_on_fargate_survive_the_restore(
    template: dict[str, Any], image: str, new_labels: dict[str, str]
) -> None:
    moved, saved = to_fargate(template, FARGATE_LABELS, "p1", DEFAULT_EC2_KEYS)
    moved["spec"]["containers"][0]["image"] = image
    moved["spec"]["containers"][0]["env"] = [{"name": "EDITED", "value": "yes"}]
    moved.setdefault("metadata", {}).setdefault("labels", {}).update(new_labels)

    restored = restore(moved, saved, add_ec2_annotation=False)

    assert restored["spec"]["containers"][0]["image"] == image
    assert restored["spec"]["containers"][0]["env"] == [{"name": "EDITED", "value": "yes"}]
    assert new_labels.items() <= restored.get("metadata", {}).get("labels", {}).items()
    for field in ("nodeSelector", "tolerations", "affinity"):
        assert restored["spec"].get(field) == template["spec"].get(field)


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


def test_a_label_someone_changed_on_fargate_is_not_taken_away() -> None:
    moved, saved = to_fargate(spot_template(), FARGATE_LABELS, None, DEFAULT_EC2_KEYS)
    moved["metadata"]["labels"]["spot-failover/fargate"] = "pinned-by-user"
    restored = restore(moved, saved, add_ec2_annotation=False)
    assert restored["metadata"]["labels"]["spot-failover/fargate"] == "pinned-by-user"


def test_a_label_that_had_another_value_gets_it_back() -> None:
    template = spot_template()
    template["metadata"]["labels"]["spot-failover/fargate"] = "false"
    moved, saved = to_fargate(template, FARGATE_LABELS, None, DEFAULT_EC2_KEYS)
    assert moved["metadata"]["labels"]["spot-failover/fargate"] == "true"
    assert restore(moved, saved, False)["metadata"]["labels"]["spot-failover/fargate"] == "false"


def test_the_ec2_annotation_is_dropped_on_the_move_and_can_be_added_on_the_way_back() -> None:
    template = spot_template()
    moved, saved = to_fargate(template, FARGATE_LABELS, None, DEFAULT_EC2_KEYS)
    restored = restore(moved, saved, add_ec2_annotation=True)
    assert restored["metadata"]["annotations"][COMPUTE_TYPE_KEY] == "ec2"
    again, saved_again = to_fargate(restored, FARGATE_LABELS, None, DEFAULT_EC2_KEYS)
    assert COMPUTE_TYPE_KEY not in again["metadata"]["annotations"]
    assert saved_again.annotations == {COMPUTE_TYPE_KEY: "ec2"}


def test_a_toleration_someone_re_added_is_not_duplicated() -> None:
    moved, saved = to_fargate(spot_template(), FARGATE_LABELS, None, DEFAULT_EC2_KEYS)
    moved["spec"]["tolerations"].append({"key": "karpenter.sh/capacity-type", "operator": "Exists"})
    restored = restore(moved, saved, add_ec2_annotation=False)
    assert (
        restored["spec"]["tolerations"].count(
            {"key": "karpenter.sh/capacity-type", "operator": "Exists"}
        )
        == 1
    )
