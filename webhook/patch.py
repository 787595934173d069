"""The JSON patch (RFC 6902) an AdmissionResponse carries, derived from two versions of a pod.

Admission webhooks answer with a patch against the object the API server sent, not with the
object itself. Hand-written patch operations drift from what the code meant to change (and get
the escaping of keys like ``spot-failover/injected`` or parents that do not exist yet wrong), so
the webhook edits a copy (:func:`webhook.injection.inject`) and derives the operations here.
The diff is python-json-patch's, which the kopf dependency brings along; this module pins the
typing and guarantees the result shares nothing with its inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch


def json_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Operations that turn ``before`` into ``after``; empty when they are equal.

    Applied to ``before`` they yield exactly ``after``. Keys are escaped as RFC 6901 requires
    (``/`` as ``~1``, ``~`` as ``~0``); a missing parent is added whole, with its contents.
    """
    operations = jsonpatch.make_patch(dict(before), dict(after)).patch
    return [dict(op) for op in copy.deepcopy(operations)]
