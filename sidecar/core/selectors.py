"""Label selectors (``metav1.LabelSelector``): what one selects, and the query of a Deployment's.

:func:`matches` tells whether a selector selects a set of labels (``matchLabels`` and
``matchExpressions``, as the API server applies them); :func:`deployment_query` gives the
Deployment's whole ``spec.selector`` as the ``labelSelector`` of a list request.
"""

from __future__ import annotations

from collections.abc import Mapping

from sidecar.core import objects
from sidecar.core.errors import MalformedObjectError
from sidecar.core.objects import JSONObject


def matches(selector: JSONObject, labels: Mapping[str, str], where: str) -> bool:
    """Whether a ``metav1.LabelSelector`` (``matchLabels``/``matchExpressions``) selects labels.

    Used before a move: if the Fargate labels change a label the Deployment's selector relies on,
    the API server would refuse the new template, so the move is refused first.
    """
    for key, value in objects.string_map(selector, "matchLabels", where).items():
        if labels.get(key) != value:
            return False
    for index, expression in enumerate(objects.items(selector, "matchExpressions", where)):
        path = f"{where}.matchExpressions[{index}]"
        name = objects.text(expression, "key", path, "") or ""
        operator = objects.text(expression, "operator", path, "")
        values = [str(v) for v in expression.get("values") or ()]
        present = name in labels
        if operator == "In":
            matched = present and labels[name] in values
        elif operator == "NotIn":
            matched = not present or labels[name] not in values
        elif operator == "Exists":
            matched = present
        elif operator == "DoesNotExist":
            matched = not present
        else:
            raise MalformedObjectError(f"{path}.operator", f"unknown operator {operator!r}")
        if not matched:
            return False
    return True


def query(selector: JSONObject, where: str) -> str:
    """A ``metav1.LabelSelector`` as the ``labelSelector`` of a list request: ``key=value`` for
    each ``matchLabels`` entry (sorted), then each expression in order (``key in (a,b)``,
    ``key notin (a,b)``, ``key``, ``!key``), comma-separated as the API server reads them."""
    parts = [
        f"{k}={v}" for k, v in sorted(objects.string_map(selector, "matchLabels", where).items())
    ]
    for index, expression in enumerate(objects.items(selector, "matchExpressions", where)):
        path = f"{where}.matchExpressions[{index}]"
        key = objects.text(expression, "key", path, "") or ""
        operator = objects.text(expression, "operator", path, "")
        values = ",".join(str(v) for v in expression.get("values") or ())
        if operator in _SET_OPERATORS:
            parts.append(f"{key} {_SET_OPERATORS[operator]} ({values})")
        elif operator in _EXISTENCE:
            parts.append(f"{_EXISTENCE[operator]}{key}")
        else:
            raise MalformedObjectError(f"{path}.operator", f"unknown operator {operator!r}")
    return ",".join(parts)


_SET_OPERATORS = {"In": "in", "NotIn": "notin"}
_EXISTENCE = {"Exists": "", "DoesNotExist": "!"}


def deployment_selector(deployment: JSONObject) -> JSONObject:
    """The Deployment's ``spec.selector``."""
    return objects.child(objects.child(deployment, "spec", ""), "selector", "spec")


def deployment_query(deployment: JSONObject) -> str:
    """The Deployment's whole ``spec.selector`` (``matchLabels`` and ``matchExpressions``) as the
    ``labelSelector`` of a list request (:func:`query`)."""
    return query(deployment_selector(deployment), "spec.selector")
