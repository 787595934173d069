"""Label selectors select as the API server does: every matchLabels pair and every expression,
and a Deployment's matchLabels become the query of its pods and ReplicaSets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.core.errors import MalformedObjectError
from sidecar.core.selectors import deployment_query, matches, query
from tests.sidecar.core.builders import deployment

LABELS = {"app": "web", "tier": "front"}
KEYS = st.sampled_from(["app", "tier", "zone"])
VALUES = st.sampled_from(["web", "front", "back"])


def label_sets() -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(KEYS, VALUES, max_size=3)


def selectors_of() -> st.SearchStrategy[dict[str, Any]]:
    listed = st.fixed_dictionaries(
        {
            "key": KEYS,
            "operator": st.sampled_from(["In", "NotIn"]),
            "values": st.lists(VALUES, min_size=1, max_size=3),
        }
    )
    existence = st.fixed_dictionaries(
        {"key": KEYS, "operator": st.sampled_from(["Exists", "DoesNotExist"])}
    )
    return st.fixed_dictionaries(
        {
            "matchLabels": st.dictionaries(KEYS, VALUES, max_size=2),
            "matchExpressions": st.lists(listed | existence, max_size=3),
        }
    )


_REQUIREMENT = re.compile(
    r"\s*(!?)([\w.\-/]+)\s*(?:(=|\s+in\s+|\s+notin\s+)\s*(\([^)]*\)|[\w.\-]+))?\s*(?:,|$)"
)


def parse_and_match(text: str, labels: dict[str, str]) -> bool:
    """The API server's label selector grammar, as far as :func:`query` writes it."""
    position = 0
    while position < len(text):
        found = _REQUIREMENT.match(text, position)
        assert found is not None, text[position:]
        position = found.end()
        negated, key, operator, operand = found.groups()
        if operator is None:
            ok = (key not in labels) if negated else (key in labels)
        elif operator == "=":
            ok = labels.get(key) == operand
        else:
            values = set(operand.strip("()").split(","))
            ok = (
                labels.get(key) in values
                if operator.strip() == "in"
                else labels.get(key) not in values
            )
        if not ok:
            return False
    return True


def expression(operator: str, *values: str, key: str = "tier") -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, True),
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "web", "tier": "back"}}, False),
        ({"matchLabels": {"team": "x"}}, False),
        (expression("In", "front", "back"), True),
        (expression("In", "back"), False),
        (expression("In", "front", key="zone"), False),
        (expression("NotIn", "back"), True),
        (expression("NotIn", "front"), False),
        (expression("NotIn", "front", key="zone"), True),
        (expression("Exists"), True),
        (expression("Exists", key="zone"), False),
        (expression("DoesNotExist", key="zone"), True),
        (expression("DoesNotExist"), False),
        ({"matchLabels": {"app": "web"}, **expression("In", "back")}, False),
    ],
    ids=[
        "empty selects everything",
        "matching pair",
        "one pair differs",
        "missing key",
        "In, value listed",
        "In, value not listed",
        "In, key absent",
        "NotIn, value not listed",
        "NotIn, value listed",
        "NotIn, key absent",
        "Exists, present",
        "Exists, absent",
        "DoesNotExist, absent",
        "DoesNotExist, present",
        "labels match but an expression does not",
    ],
)
def test_a_selector_selects_labels_as_the_api_server_does(
    selector: dict[str, Any], expected: bool
) -> None:
    assert matches(selector, LABELS, "spec.selector") is expected


def test_an_unknown_operator_is_malformed_naming_its_path() -> None:
    with pytest.raises(MalformedObjectError, match=r"spec\.selector\.matchExpressions\[0\]"):
        matches(expression("Near", "front"), LABELS, "spec.selector")


def test_a_deployments_match_labels_become_a_sorted_query() -> None:
    body = deployment()
    body["spec"]["selector"]["matchLabels"] = {"tier": "front", "app": "web"}

    assert deployment_query(body) == "app=web,tier=front"


def test_the_query_carries_the_whole_selector() -> None:
    body = deployment()
    body["spec"]["selector"] = {
        "matchLabels": {"tier": "front", "app": "web"},
        "matchExpressions": [
            {"key": "track", "operator": "In", "values": ["stable", "beta"]},
            {"key": "canary", "operator": "NotIn", "values": ["true"]},
            {"key": "team", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }

    assert deployment_query(body) == (
        "app=web,tier=front,track in (stable,beta),canary notin (true),team,!legacy"
    )


@given(labels=label_sets(), selector=selectors_of())
def test_the_query_selects_what_the_selector_selects(
    labels: dict[str, str], selector: dict[str, Any]
) -> None:
    """Read back with the API server's grammar (a small parser here), the query selects exactly
    the label sets :func:`matches` selects."""
    assert parse_and_match(query(selector, "spec.selector"), labels) == matches(
        selector, labels, "spec.selector"
    )
