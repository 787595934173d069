"""The JSON patch a mutating review answers with: derived from two pods, never written by hand.

An admission webhook does not send back the pod it wants; it sends a JSON patch (RFC 6902)
against the object the API server sent. :func:`derive` makes it with python-json-patch: the
difference between the admitted pod's view (:mod:`webhook.core.pod_view`) and what injection
(:mod:`webhook.core.injection`) made of that view. What python-json-patch is handed is cut down
to what injection changed, on the two sides alike:

* only the parts of a pod injection can change are compared (:data:`CHANGEABLE`): the
  ``annotations`` of ``metadata`` (injection adds one) and the three lists of ``spec`` it extends
  (``initContainers``, ``containers``, ``volumes``), with whatever ``metadata`` or ``spec`` is
  when it is not an object. Injection copies everything else as it came;
* of those, the ones equal on both sides are left out: injection copies what it does not change
  (the same values, so ``==`` is JSON's equality there);
* the items of those lists are compared whole, each as its JSON text with sorted keys (equal
  for items equal in JSON), and the operations get the items back. Injection adds items and
  changes none, so an item is on both sides as it was or on one side only, and comparing it
  member by member would find nothing more: python-json-patch would serialise, copy and match
  every member of every item, the sidecar's most of all.

The difference is also taken without python-json-patch's search for moves
(``optimization=False``): it pairs each removed value with an equal added one, and injection
removes nothing. The operations are those of the whole pods' difference, in the same order;
``tests/webhook/core/test_pod_view.py`` checks that against the whole pods, over generated pods,
and the golden files pin them. Before these cuts, the difference cost more instructions than
all the rest of a review (BENCHMARKS.md, Admission).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import jsonpatch
import orjson

CHANGEABLE: Final = {
    "metadata": frozenset({"annotations"}),
    "spec": frozenset({"initContainers", "containers", "volumes"}),
}
"""The members of a pod's ``metadata`` and ``spec`` injection adds to or adds."""

_exact_text = json.JSONEncoder(sort_keys=True).encode


def _text(item: object) -> str:
    """``item``'s JSON with sorted keys: orjson's, or json's for what orjson does not write
    (integers beyond 64 bits, keys that are not strings). orjson writes NaN and infinities as
    ``null``; a pod has none, as JSON has none (orjson refuses them in a review)."""
    try:
        return orjson.dumps(item, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return _exact_text(item)


class Item(str):
    """A list item as python-json-patch compares it: its JSON text; ``item`` is the item."""

    __slots__ = ("item",)
    item: object

    def __new__(cls, item: object) -> Item:
        token = super().__new__(cls, _text(item))
        token.item = item
        return token

    def __deepcopy__(self, memo: dict[int, object]) -> Item:
        """python-json-patch copies the values of its operations: this one stays the item's."""
        return self


def derive(admitted: Mapping[str, Any], injected: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The operations that turn ``admitted`` into ``injected``, ``injected`` being what injection
    made of ``admitted``; empty when injection changed nothing. Their values are ``injected``'s
    own, not copies."""
    before, after = compared(admitted, injected)
    operations = jsonpatch.JsonPatch.from_diff(before, after, optimization=False).patch
    for operation in operations:
        if "value" in operation:
            operation["value"] = _items_back(operation["value"])
    return operations


def compared(
    admitted: Mapping[str, Any], injected: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What of the two pods python-json-patch compares (see above), sharing their values."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, names in CHANGEABLE.items():
        old, new = admitted.get(key, _ABSENT), injected.get(key, _ABSENT)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            before[key], after[key] = _members(old, new, names)
        else:
            _keep(before, key, old)
            _keep(after, key, new)
    return _in_order(before, admitted), _in_order(after, injected)


_ABSENT: Final = object()


def _members(
    old: Mapping[str, Any], new: Mapping[str, Any], names: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Of the members ``names``, those that differ, on each side in its own order (the order
    the operations follow)."""
    before = {k: _items(v) for k, v in old.items() if k in names and new.get(k, _ABSENT) != v}
    after = {k: _items(v) for k, v in new.items() if k in names and old.get(k, _ABSENT) != v}
    return before, after


def _items(value: object) -> object:
    return [Item(item) for item in value] if isinstance(value, list) else value


def _keep(part: dict[str, Any], key: str, value: object) -> None:
    if value is not _ABSENT:
        part[key] = value


def _in_order(part: dict[str, Any], whole: Mapping[str, Any]) -> dict[str, Any]:
    """``part`` with its members in ``whole``'s order, which the operations follow."""
    return {key: part[key] for key in whole if key in part}


def _items_back(value: object) -> object:
    if isinstance(value, Item):
        return value.item
    if isinstance(value, list):
        return [_items_back(item) for item in value]
    if isinstance(value, dict):
        return {key: _items_back(member) for key, member in value.items()}
    return value
