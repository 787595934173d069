"""Label selectors select as the API server does: every matchLabels pair and every expression,
and a Deployment's matchLabels become the query of its pods and ReplicaSets."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.core.errors import MalformedObjectError
from sidecar.core.selectors import deployment_query, matches
from tests.sidecar.core.builders import deployment

LABELS = {"app": "web", "tier": "front"}


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
