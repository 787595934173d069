"""Label selectors (``metav1.LabelSelector``): what one selects, and the query of a Deployment's.

:func:`matches` tells whether a selector selects a set of labels (``matchLabels`` and
``matchExpressions``, as the API server applies them); :func:`deployment_query` gives the
Deployment's ``spec.selector.matchLabels`` as the ``labelSelector`` of a list request.
"""

from __future__ import annotations

from sidecar.core import objects
from sidecar.core.objects import JSONObject


def deployment_query(deployment: JSONObject) -> str:
    """``spec.selector.matchLabels`` as a label selector string (``key=value,...``, sorted)."""
    spec = objects.child(deployment, "spec", "")
    selector = objects.child(spec, "selector", "spec")
    labels = objects.string_map(selector, "matchLabels", "spec.selector")
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
