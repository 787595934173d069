"""The way back from Fargate is a three-way merge: what nobody wrote since the move is restored
exactly, what someone wrote since stays as written, and the merge names what it kept."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Literal, TypeAlias

from hypothesis import given
from hypothesis import strategies as st

from sidecar.core import restore
from sidecar.core.fargate import COMPUTE_TYPE_KEY, DEFAULT_EC2_KEYS, to_fargate
from sidecar.core.restore import Restored
from sidecar.core.saved_scheduling import SavedScheduling
from tests.sidecar.core import strategies
from tests.sidecar.core.builders import FARGATE_LABELS, spot_template

Kind: TypeAlias = Literal["label", "annotation", "nodeSelector", "nodeAffinity", "tolerations"]
Field: TypeAlias = tuple[Kind, str]
"""One field a move owns: a kind and a key (the taint key for tolerations; ``""`` for the
node affinity, which is one field)."""

NAMES: dict[Kind, str] = {
    "label": "spec.template.metadata.labels[{}]",
    "annotation": "spec.template.metadata.annotations[{}]",
    "nodeSelector": "spec.template.spec.nodeSelector[{}]",
    "nodeAffinity": "spec.template.spec.affinity.nodeAffinity",
    "tolerations": "spec.template.spec.tolerations[key={}]",
}


def name(field: Field) -> str:
    kind, key = field
    return NAMES[kind].format(key)


def owned(saved: SavedScheduling) -> list[Field]:
    """Every field the move that saved ``saved`` changed."""
    fields: list[Field] = [("label", key) for key in saved.labels]
    fields += [("annotation", key) for key in saved.annotations]
    fields += [("nodeSelector", key) for key in saved.node_selector]
    fields += [("nodeAffinity", "")] if saved.node_affinity is not None else []
    fields += [("tolerations", t) for t in sorted({r.toleration["key"] for r in saved.tolerations})]
    return fields


def read(template: dict[str, Any], field: Field) -> Any:
    """The field's value in ``template`` (``None``: absent; tolerations: the list of that key's)."""
    kind, key = field
    metadata, spec = template.get("metadata") or {}, template["spec"]
    if kind == "label":
        return (metadata.get("labels") or {}).get(key)
    if kind == "annotation":
        return (metadata.get("annotations") or {}).get(key)
    if kind == "nodeSelector":
        return (spec.get("nodeSelector") or {}).get(key)
    if kind == "nodeAffinity":
        return (spec.get("affinity") or {}).get("nodeAffinity")
    return [t for t in spec.get("tolerations") or [] if t.get("key") == key]


def write(template: dict[str, Any], field: Field, value: Any) -> None:
    """Someone writes ``value`` into the field (a label's ``None``: they delete it)."""
    kind, key = field
    spec = template["spec"]
    if kind in {"label", "annotation"}:
        metadata = template.setdefault("metadata", {})
        entries = metadata.setdefault("labels" if kind == "label" else "annotations", {})
        entries.pop(key, None) if value is None else entries.update({key: value})
    elif kind == "nodeSelector":
        spec.setdefault("nodeSelector", {})[key] = value
    elif kind == "nodeAffinity":
        spec.setdefault("affinity", {})["nodeAffinity"] = value
    else:
        spec["tolerations"] = [*(spec.get("tolerations") or []), *value]


def same(kind: Kind, left: Any, right: Any) -> bool:
    """Equal as values: the tolerations of a key in any order."""
    if kind != "tolerations":
        return bool(left == right)
    return len(left) == len(right) and all(left.count(t) == right.count(t) for t in left)


def values(field: Field, saved: SavedScheduling) -> st.SearchStrategy[Any]:
    """What someone may write into ``field`` after the move: anything but what the move left
    there (that cannot be told apart from no edit)."""
    kind, key = field
    if kind == "label":
        after = saved.labels[key].after
        return st.sampled_from([*strategies.LABEL_VALUES, None]).filter(lambda v: v != after)
    if kind == "annotation":
        return st.sampled_from(["ec2", "fargate", "true"])
    if kind == "nodeSelector":
        return strategies.label_values
    if kind == "nodeAffinity":
        return strategies.node_affinity
    toleration = strategies.toleration.map(lambda t: {**t, "key": key})
    return st.lists(toleration, min_size=1, max_size=2)


@dataclasses.dataclass(frozen=True)
class Case:
    original: dict[str, Any]
    """The template before the move."""
    saved: SavedScheduling
    live: dict[str, Any]
    """The moved template as someone left it: ``edits`` written into it."""
    edits: dict[Field, Any]

    def untouched(self) -> list[Field]:
        return [field for field in owned(self.saved) if field not in self.edits]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A move of any template, then writes into some of the fields it owns, and into others."""
    original = draw(strategies.templates)
    moved, saved = to_fargate(
        original,
        draw(strategies.fargate_labels),
        draw(strategies.profiles),
        draw(strategies.ec2_keys),
    )
    fields = owned(saved)
    chosen = draw(st.lists(st.sampled_from(fields), unique=True)) if fields else []
    edits = {field: draw(values(field, saved)) for field in chosen}
    live = copy.deepcopy(moved)
    for field, value in edits.items():
        write(live, field, value)
    live["spec"]["containers"][0]["image"] = draw(st.sampled_from(["nginx:1", "app:3"]))
    return Case(original, saved, live, edits)


def not_owned(template: dict[str, Any], case: Case, add_ec2_annotation: bool) -> dict[str, Any]:
    """``template`` without the fields the move owns (the EC2 annotation too, if the restore
    adds it), emptied maps and lists counted as absent."""
    stripped = copy.deepcopy(template)
    metadata, spec = stripped.get("metadata") or {}, stripped["spec"]
    for key in case.saved.labels:
        (metadata.get("labels") or {}).pop(key, None)
    for key in [*case.saved.annotations, *([COMPUTE_TYPE_KEY] if add_ec2_annotation else [])]:
        (metadata.get("annotations") or {}).pop(key, None)
    for key in case.saved.node_selector:
        (spec.get("nodeSelector") or {}).pop(key, None)
    if case.saved.node_affinity is not None:
        (spec.get("affinity") or {}).pop("nodeAffinity", None)
    taints = {key for kind, key in owned(case.saved) if kind == "tolerations"}
    spec["tolerations"] = [t for t in spec.get("tolerations") or [] if t.get("key") not in taints]
    for parent, key in [
        (metadata, "labels"),
        (metadata, "annotations"),
        (stripped, "metadata"),
        (spec, "nodeSelector"),
        (spec, "tolerations"),
    ]:
        if parent.get(key) in ({}, []):
            del parent[key]
    return stripped


# --- The laws -----------------------------------------------------------------------------


@given(strategies.templates, strategies.fargate_labels, strategies.profiles, strategies.ec2_keys)
def test_without_edits_the_restore_gives_the_template_back_exactly_and_keeps_nothing(
    template: dict[str, Any],
    labels: dict[str, str],
    profile: str | None,
    ec2_keys: frozenset[str],
) -> None:
    original = copy.deepcopy(template)
    moved, saved = to_fargate(template, labels, profile, ec2_keys)
    assert restore.merge(moved, saved, add_ec2_annotation=False) == Restored(template, ())
    assert template == original, "neither to_fargate nor merge modifies its input"


@given(cases(), st.booleans())
def test_nothing_written_since_the_move_is_lost(case: Case, add_ec2_annotation: bool) -> None:
    restored = restore.merge(case.live, case.saved, add_ec2_annotation)
    for field, value in case.edits.items():
        assert read(restored.template, field) == value, name(field)


@given(cases(), st.booleans())
def test_every_field_nobody_wrote_since_gets_its_saved_value_back(
    case: Case, add_ec2_annotation: bool
) -> None:
    restored = restore.merge(case.live, case.saved, add_ec2_annotation)
    for field in case.untouched():
        assert read(restored.template, field) == read(case.original, field), name(field)


@given(cases(), st.booleans())
def test_the_restore_names_exactly_the_kept_fields_whose_value_is_not_the_saved_one(
    case: Case, add_ec2_annotation: bool
) -> None:
    restored = restore.merge(case.live, case.saved, add_ec2_annotation)
    differ = [
        name(field)
        for field, value in case.edits.items()
        if not same(field[0], value, read(case.original, field))
    ]
    assert sorted(restored.kept) == sorted(differ)
    assert len(set(restored.kept)) == len(restored.kept), "each field once"


@given(cases(), st.booleans())
def test_fields_the_move_does_not_own_are_left_as_they_are(
    case: Case, add_ec2_annotation: bool
) -> None:
    restored = restore.merge(case.live, case.saved, add_ec2_annotation)
    assert not_owned(restored.template, case, add_ec2_annotation) == not_owned(
        case.live, case, add_ec2_annotation
    )


@given(cases(), st.booleans())
def test_restoring_again_changes_nothing_and_gives_the_same_answer(
    case: Case, add_ec2_annotation: bool
) -> None:
    once = restore.merge(case.live, case.saved, add_ec2_annotation)
    assert restore.merge(once.template, case.saved, add_ec2_annotation) == once


@given(cases())
def test_the_restore_does_not_modify_what_it_reads(case: Case) -> None:
    live = copy.deepcopy(case.live)
    restore.merge(case.live, case.saved, add_ec2_annotation=True)
    assert case.live == live


# --- Examples -----------------------------------------------------------------------------


def moved_example() -> tuple[dict[str, Any], SavedScheduling]:
    return to_fargate(spot_template(), FARGATE_LABELS, None, DEFAULT_EC2_KEYS)


def test_a_toleration_rewritten_on_fargate_stays_and_is_named_while_the_rest_comes_back() -> None:
    moved, saved = moved_example()
    theirs = {"key": "karpenter.sh/capacity-type", "operator": "Equal", "value": "spot"}
    moved["spec"]["tolerations"].append(theirs)

    restored = restore.merge(moved, saved, add_ec2_annotation=False)

    original = spot_template()
    assert restored.template["spec"]["tolerations"] == [original["spec"]["tolerations"][0], theirs]
    assert restored.template["spec"]["nodeSelector"] == original["spec"]["nodeSelector"]
    assert restored.template["spec"]["affinity"] == original["spec"]["affinity"]
    assert restored.template["metadata"] == original["metadata"]
    assert restored.kept == ("spec.template.spec.tolerations[key=karpenter.sh/capacity-type]",)


def test_a_value_put_back_as_it_was_before_the_move_is_restored_without_a_word() -> None:
    moved, saved = moved_example()
    original = spot_template()
    moved["spec"]["nodeSelector"] = dict(original["spec"]["nodeSelector"])  # a GitOps sync
    moved["spec"]["tolerations"] = list(reversed(original["spec"]["tolerations"]))

    restored = restore.merge(moved, saved, add_ec2_annotation=False)

    assert restored.template["spec"]["nodeSelector"] == original["spec"]["nodeSelector"]
    assert restored.template["spec"]["tolerations"] == moved["spec"]["tolerations"]
    assert restored.kept == ()


def test_a_node_selector_and_affinity_written_on_fargate_are_kept_and_named() -> None:
    moved, saved = moved_example()
    moved["spec"]["nodeSelector"]["karpenter.sh/capacity-type"] = "on-demand"
    moved["spec"]["affinity"]["nodeAffinity"] = {
        "preferredDuringSchedulingIgnoredDuringExecution": []
    }

    restored = restore.merge(moved, saved, add_ec2_annotation=False)

    assert restored.template["spec"]["nodeSelector"]["karpenter.sh/capacity-type"] == "on-demand"
    assert restored.template["spec"]["affinity"]["nodeAffinity"] == {
        "preferredDuringSchedulingIgnoredDuringExecution": []
    }
    assert restored.kept == (
        "spec.template.spec.nodeSelector[karpenter.sh/capacity-type]",
        "spec.template.spec.affinity.nodeAffinity",
    )


def test_a_label_someone_changed_on_fargate_is_not_taken_away() -> None:
    moved, saved = moved_example()
    moved["metadata"]["labels"]["spot-failover/fargate"] = "pinned-by-user"
    restored = restore.merge(moved, saved, add_ec2_annotation=False)
    assert restored.template["metadata"]["labels"]["spot-failover/fargate"] == "pinned-by-user"
    assert restored.kept == ("spec.template.metadata.labels[spot-failover/fargate]",)


def test_a_label_someone_removed_on_fargate_that_the_move_added_stays_away_silently() -> None:
    moved, saved = moved_example()
    del moved["metadata"]["labels"]["spot-failover/fargate"]
    restored = restore.merge(moved, saved, add_ec2_annotation=False)
    assert restored == Restored(spot_template(), ())


def test_a_label_that_had_another_value_gets_it_back() -> None:
    template = spot_template()
    template["metadata"]["labels"]["spot-failover/fargate"] = "false"
    moved, saved = to_fargate(template, FARGATE_LABELS, None, DEFAULT_EC2_KEYS)
    assert moved["metadata"]["labels"]["spot-failover/fargate"] == "true"
    restored = restore.merge(moved, saved, add_ec2_annotation=False)
    assert restored.template["metadata"]["labels"]["spot-failover/fargate"] == "false"


def test_the_ec2_annotation_is_dropped_on_the_move_and_can_be_added_on_the_way_back() -> None:
    moved, saved = moved_example()
    restored = restore.merge(moved, saved, add_ec2_annotation=True)
    assert restored.template["metadata"]["annotations"][COMPUTE_TYPE_KEY] == "ec2"
    again, saved_again = to_fargate(restored.template, FARGATE_LABELS, None, DEFAULT_EC2_KEYS)
    assert COMPUTE_TYPE_KEY not in again["metadata"]["annotations"]
    assert saved_again.annotations == {COMPUTE_TYPE_KEY: "ec2"}


def test_the_ec2_annotation_is_added_only_where_the_template_has_none() -> None:
    moved, saved = moved_example()
    moved["metadata"]["annotations"][COMPUTE_TYPE_KEY] = "fargate"
    restored = restore.merge(moved, saved, add_ec2_annotation=True)
    assert restored.template["metadata"]["annotations"][COMPUTE_TYPE_KEY] == "fargate"
    assert restored.kept == (), "the move did not own it: it was not ec2 before"


def test_edits_of_other_fields_made_on_fargate_survive_the_restore() -> None:
    moved, saved = moved_example()
    moved["spec"]["containers"][0]["image"] = "nginx:1.28"
    moved["spec"]["containers"][0]["env"] = [{"name": "EDITED", "value": "yes"}]
    moved["metadata"]["labels"]["team"] = "a"

    restored = restore.merge(moved, saved, add_ec2_annotation=False)

    expected = spot_template()
    expected["spec"]["containers"][0]["image"] = "nginx:1.28"
    expected["spec"]["containers"][0]["env"] = [{"name": "EDITED", "value": "yes"}]
    expected["metadata"]["labels"]["team"] = "a"
    assert restored == Restored(expected, ())
