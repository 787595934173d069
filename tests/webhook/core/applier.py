"""A minimal RFC 6902 applier, written for the tests independently of the code under test.

It exists so that "the patch applies cleanly" is checked by code that shares nothing with the
library that produced the patch. Strict: any operation RFC 6902 says must fail raises.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any


class PatchConflictError(Exception):
    """An operation does not apply to the document."""


def apply(document: Any, operations: Iterable[Mapping[str, Any]]) -> Any:
    """A new document: ``operations`` applied in order to a copy of ``document``."""
    result = copy.deepcopy(document)
    for operation in operations:
        result = _apply_one(result, operation)
    return result


def parse_pointer(pointer: str) -> list[str]:
    """RFC 6901 reference tokens, unescaped (``~1`` before ``~0``)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchConflictError(f"pointer {pointer!r} does not start with '/'")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _apply_one(document: Any, operation: Mapping[str, Any]) -> Any:
    op = operation["op"]
    path = parse_pointer(operation["path"])
    if op == "add":
        return _add(document, path, copy.deepcopy(operation["value"]))
    if op == "remove":
        _get(document, path)
        return _remove(document, path)
    if op == "replace":
        _get(document, path)
        return _add(_remove(document, path), path, copy.deepcopy(operation["value"]))
    if op in {"move", "copy"}:
        source = parse_pointer(operation["from"])
        value = copy.deepcopy(_get(document, source))
        if op == "move":
            if path[: len(source)] == source and path != source:
                raise PatchConflictError("cannot move a value into one of its children")
            document = _remove(document, source)
        return _add(document, path, value)
    if op == "test":
        if _get(document, path) != operation["value"]:
            raise PatchConflictError(f"test failed at {operation['path']}")
        return document
    raise PatchConflictError(f"unknown operation {op!r}")


def _get(document: Any, path: list[str]) -> Any:
    node = document
    for token in path:
        if isinstance(node, dict):
            if token not in node:
                raise PatchConflictError(f"no member {token!r}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(token, len(node) - 1)]
        else:
            raise PatchConflictError(f"cannot descend into {node!r}")
    return node


def _add(document: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _get(document, path[:-1])
    token = path[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        index = len(parent) if token == "-" else _index(token, len(parent))
        parent.insert(index, value)
    else:
        raise PatchConflictError(f"cannot add into {parent!r}")
    return document


def _remove(document: Any, path: list[str]) -> Any:
    if not path:
        raise PatchConflictError("cannot remove the whole document")
    parent = _get(document, path[:-1])
    token = path[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchConflictError(f"no member {token!r} to remove")
        del parent[token]
    elif isinstance(parent, list):
        del parent[_index(token, len(parent) - 1)]
    else:
        raise PatchConflictError(f"cannot remove from {parent!r}")
    return document


def _index(token: str, highest: int) -> int:
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchConflictError(f"{token!r} is not an array index")
    index = int(token)
    if index > highest:
        raise PatchConflictError(f"index {index} out of range")
    return index
