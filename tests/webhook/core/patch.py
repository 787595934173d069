"""The JSON patch (RFC 6902) an AdmissionResponse carries, derived as kopf derives it.

Admission webhooks answer with a patch against the object the API server sent, not with the
object itself. The webhook never writes that patch: kopf is handed the view of the admitted pod
(:mod:`webhook.core.pod_view`), its mutate handler hands kopf that view injected
(:mod:`webhook.operator`), and kopf diffs the two with python-json-patch (``JsonPatch.from_diff``).
The tests derive the patch of the whole pod the same way (:func:`json_patch`), to pin it in the
golden files and to check, with an applier of their own, that it turns the admitted pod into the
injected one; :func:`kopf_patch` is kopf's own derivation, which the tests compare with it. This
module pins the typing and guarantees the result shares nothing with its inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, cast

import jsonpatch
import kopf

from webhook.operator import replace_with


def json_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Operations that turn ``before`` into ``after``; empty when they are equal.

    Applied to ``before`` they yield exactly ``after``. Keys are escaped as RFC 6901 requires
    (``/`` as ``~1``, ``~`` as ``~0``); a missing parent is added whole, with its contents.
    """
    operations = jsonpatch.make_patch(dict(before), dict(after)).patch
    return [dict(op) for op in copy.deepcopy(operations)]


def kopf_patch(admitted: Mapping[str, Any], injected: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The operations kopf sends when the handler hands it ``injected`` for ``admitted``."""
    body = kopf.Body(cast(kopf.RawBody, admitted))
    operations = kopf.Patch(fns=[replace_with(dict(injected))]).as_json_patch(body)
    return [dict(op) for op in operations]
