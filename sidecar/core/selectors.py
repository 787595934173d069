"""Label selectors (``metav1.LabelSelector``): what one selects, and the query of a Deployment's.

:func:`matches` tells whether a selector selects a set of labels (``matchLabels`` and
``matchExpressions``, as the API server applies them); :func:`deployment_query` gives the
Deployment's ``spec.selector.matchLabels`` as the ``labelSelector`` of a list request.
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


def deployment_query(deployment: JSONObject) -> str:
    """``spec.selector.matchLabels`` as a label selector string (``key=value,...``, sorted)."""
    spec = objects.child(deployment, "spec", "")
    selector = objects.child(spec, "selector", "spec")
    labels = objects.string_map(selector, "matchLabels", "spec.selector")
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
