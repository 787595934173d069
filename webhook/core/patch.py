"""The JSON patch a mutating review answers with: derived from two pods, never written by hand.

An admission webhook does not send back the pod it wants; it sends a JSON patch (RFC 6902)
against the object the API server sent. :func:`derive` makes it with python-json-patch: the
difference between the admitted pod's view (:mod:`webhook.core.pod_view`) and what injection
(:mod:`webhook.core.injection`) made of that view.

Only the parts of a pod injection can change are compared (:data:`CHANGEABLE`): the
``annotations`` of ``metadata`` (injection adds one) and the three lists of ``spec`` it extends
(``initContainers``, ``containers``, ``volumes``), each whole, with whatever ``metadata`` or
``spec`` is when it is not an object. Injection copies everything else as it came, so comparing
it would find nothing, at the cost of serialising every leaf of it: python-json-patch compares
scalars and list items by their JSON. The operations are those of the whole pods' difference,
in the same order; ``tests/webhook/core/test_pod_view.py`` checks that against the whole pod,
over generated pods, and the golden files pin them.

The difference is taken without python-json-patch's search for moves (``optimization=False``):
it pairs each removed value with an equal added one, serialising every value added, and
injection removes nothing, so it would never find one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import jsonpatch

CHANGEABLE: Final = {
    "metadata": frozenset({"annotations"}),
    "spec": frozenset({"initContainers", "containers", "volumes"}),
}
"""The members of a pod's ``metadata`` and ``spec`` injection adds to or adds."""


def derive(admitted: Mapping[str, Any], injected: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The operations that turn ``admitted`` into ``injected``, ``injected`` being what injection
    made of ``admitted``; empty when injection changed nothing. They share nothing with either.
    """
    before, after = changeable(admitted), changeable(injected)
    return jsonpatch.JsonPatch.from_diff(before, after, optimization=False).patch


def changeable(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``pod`` injection can change (see above), sharing its values."""
    return {
        key: _members(value, CHANGEABLE[key]) for key, value in pod.items() if key in CHANGEABLE
    }


def _members(value: object, names: frozenset[str]) -> object:
    if not isinstance(value, Mapping):
        return value
    return {key: member for key, member in value.items() if key in names}
