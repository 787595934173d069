"""The JSON patch (RFC 6902) of two whole pods, as the tests derive it.

Admission webhooks answer with a patch against the object the API server sent, not with the
object itself. The webhook derives it from the view of the admitted pod and what injection made
of it, comparing only what injection can change (:func:`webhook.core.patch.derive`). The tests
derive the patch of the two *whole* pods with python-json-patch (:func:`json_patch`), to pin it
in the golden files, to check with an applier of their own that it turns the admitted pod into
the injected one, and to check that the webhook's derivation gives the same. This module pins
the typing and guarantees the result shares nothing with its inputs.
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
