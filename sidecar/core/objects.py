"""Strict, typed reads of Kubernetes objects in their JSON form.

The core takes objects exactly as the API returns them (``json.loads`` of the body: camelCase
keys, absent fields omitted). Python sees those as ``Any``; these accessors turn a lookup into a
typed value or a :class:`~sidecar.core.errors.MalformedObjectError` naming the dotted path, so a
surprising object is reported where it was read instead of failing later with a ``KeyError``.

A field that is absent reads as the given default; a field that is present with the wrong JSON
type is always an error (``null`` counts as absent, as it does for the API server).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeAlias

from sidecar.core.errors import MalformedObjectError

JSONObject: TypeAlias = Mapping[str, Any]
"""A JSON object as :func:`json.loads` returns it (read-only view)."""

_EMPTY: JSONObject = MappingProxyType({})
"""Returned for absent objects; read-only so no caller can fill it in by mistake."""


def child(obj: JSONObject, key: str, where: str) -> JSONObject:
    """The object at ``obj[key]``, or an empty mapping when absent."""
    value = obj.get(key)
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise MalformedObjectError(_join(where, key), f"expected an object, found {_kind(value)}")
    return value


def items(obj: JSONObject, key: str, where: str) -> Sequence[JSONObject]:
    """The list of objects at ``obj[key]``, or an empty list when absent."""
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedObjectError(_join(where, key), f"expected a list, found {_kind(value)}")
    for index, element in enumerate(value):
        if not isinstance(element, Mapping):
            raise MalformedObjectError(
                f"{_join(where, key)}[{index}]", f"expected an object, found {_kind(element)}"
            )
    return value


def string_map(obj: JSONObject, key: str, where: str) -> Mapping[str, str]:
    """A map of strings (labels, annotations, nodeSelector), or an empty mapping when absent."""
    value = child(obj, key, where)
    for name, element in value.items():
        if not isinstance(element, str):
            raise MalformedObjectError(
                f"{_join(where, key)}[{name}]", f"expected a string, found {_kind(element)}"
            )
    return value


def integer(obj: JSONObject, key: str, where: str, default: int | None = 0) -> int | None:
    """An integer field; ``default`` when absent. JSON booleans are not integers."""
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedObjectError(_join(where, key), f"expected an integer, found {_kind(value)}")
    return value


def text(obj: JSONObject, key: str, where: str, default: str | None = None) -> str | None:
    """A string field; ``default`` when absent."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise MalformedObjectError(_join(where, key), f"expected a string, found {_kind(value)}")
    return value


def flag(obj: JSONObject, key: str, where: str) -> bool:
    """A boolean field; ``False`` when absent."""
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise MalformedObjectError(_join(where, key), f"expected a boolean, found {_kind(value)}")
    return value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return names.get(type(value), type(value).__name__)
