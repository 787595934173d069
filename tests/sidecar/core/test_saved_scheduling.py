"""The saved-scheduling annotation parses strictly: garbage is a typed error, never a guess."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.core.errors import CorruptStateError, InvalidSavedSchedulingError
from sidecar.core.saved_scheduling import LabelChange, RemovedToleration, SavedScheduling
from spot_common import contract

FULL = SavedScheduling(
    labels={
        "spot-failover/fargate": LabelChange(before=None, after="true"),
        "team": LabelChange(before="", after="web"),
    },
    annotations={"eks.amazonaws.com/compute-type": "ec2"},
    node_selector={"karpenter.sh/capacity-type": "spot"},
    node_affinity={},
    tolerations=(RemovedToleration(1, {"key": "karpenter.sh/capacity-type"}),),
    created=frozenset({"metadata.labels"}),
)


def test_a_full_record_survives_its_json_form() -> None:
    assert SavedScheduling.from_json(FULL.to_json()) == FULL


def test_absent_and_empty_are_different_values() -> None:
    document = json.loads(FULL.to_json())
    assert document["labels"]["spot-failover/fargate"]["before"] is None
    assert document["labels"]["team"]["before"] == ""
    assert document["nodeAffinity"] == {}
    assert "nodeAffinity" not in json.loads(SavedScheduling().to_json())


def test_equal_records_give_equal_text() -> None:
    assert FULL.to_json() == SavedScheduling.from_json(FULL.to_json()).to_json()


def valid() -> dict[str, object]:
    return json.loads(FULL.to_json())  # type: ignore[no-any-return]


def mutated(**changes: object) -> str:
    document = valid()
    for key, value in changes.items():
        if value is ...:
            del document[key]
        else:
            document[key] = value
    return json.dumps(document)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        "null",
        '"a string"',
        mutated(version=2),
        mutated(version=True),
        mutated(version=...),
        mutated(labels=...),
        mutated(extra=1),
        mutated(labels={"a": "b"}),
        mutated(labels={"a": {"before": 1, "after": "x"}}),
        mutated(labels={"a": {"before": None}}),
        mutated(labels={"a": {"before": None, "after": None}}),
        mutated(annotations={"a": 1}),
        mutated(nodeSelector=[]),
        mutated(nodeAffinity=[]),
        mutated(tolerations={}),
        mutated(tolerations=[{"index": "1", "toleration": {}}]),
        mutated(tolerations=[{"index": -1, "toleration": {}}]),
        mutated(tolerations=[{"index": 2, "toleration": {}}, {"index": 1, "toleration": {}}]),
        mutated(tolerations=[{"index": 0, "toleration": "x"}]),
        mutated(created=["spec"]),
        mutated(created="metadata"),
        "[" * 100_000,
    ],
)
def test_malformed_values_raise_the_typed_error(text: str) -> None:
    with pytest.raises(InvalidSavedSchedulingError) as caught:
        SavedScheduling.from_json(text)
    assert caught.value.annotation == contract.SAVED_SCHEDULING
    assert contract.SAVED_SCHEDULING in str(caught.value)


@given(st.text(max_size=200))
def test_any_text_either_parses_or_raises_the_typed_error(text: str) -> None:
    try:
        parsed = SavedScheduling.from_json(text)
    except InvalidSavedSchedulingError:
        return
    assert SavedScheduling.from_json(parsed.to_json()) == parsed


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12))  # fmt: skip
def test_any_json_either_parses_or_raises_the_typed_error(document: object) -> None:
    try:
        parsed = SavedScheduling.from_json(json.dumps(document))
    except InvalidSavedSchedulingError:
        return
    assert SavedScheduling.from_json(parsed.to_json()) == parsed


def test_the_typed_error_is_a_corrupt_state_error() -> None:
    assert issubclass(InvalidSavedSchedulingError, CorruptStateError)
