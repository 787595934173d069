"""The record of exactly what a move to Fargate changed in a pod template, and its JSON form.

Rollback and failback must put the template back as it was, and only the parts we changed:
the user may have edited the image, env or resources while the pods were on Fargate, and those
edits must survive. So :func:`sidecar.core.fargate.to_fargate` returns, with the new template,
a :class:`SavedScheduling` holding the previous value of every field it changed; it is stored
in the Deployment annotation ``spot-failover/saved-scheduling`` (so any sidecar can undo the
move after the one that made it is gone) and read back by :func:`SavedScheduling.from_json`.

"Absent" and "empty" are different values here and in the JSON: a label that did not exist
is saved as ``null``, a label whose value was ``""`` as ``""``; a removed ``nodeAffinity`` of
``{}`` is saved as ``{}``, an untouched one is not saved at all.

The JSON is versioned and parsed strictly: unknown keys, wrong types or a missing version raise
:class:`~sidecar.core.errors.InvalidSavedSchedulingError`, never a half-filled record.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Final, Literal, TypeAlias

from sidecar.core.errors import InvalidSavedSchedulingError
from spot_common.contract import SAVED_SCHEDULING

VERSION: Final = 1
"""Version of the JSON form; bumped if a field changes meaning."""

Container: TypeAlias = Literal["metadata", "metadata.labels"]
"""Maps that :func:`~sidecar.core.fargate.to_fargate` may have to create to add a label."""

CONTAINERS: Final[frozenset[Container]] = frozenset({"metadata", "metadata.labels"})


@dataclasses.dataclass(frozen=True, slots=True)
class LabelChange:
    """A pod label the move set: its value before (``None``: absent) and the value set."""

    before: str | None
    after: str


@dataclasses.dataclass(frozen=True, slots=True)
class RemovedToleration:
    """A toleration the move removed, with its index in the original list."""

    index: int
    toleration: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class SavedScheduling:
    """Exactly the pod-template fields a move to Fargate changed, with their previous values."""

    labels: Mapping[str, LabelChange] = dataclasses.field(default_factory=dict)
    """``metadata.labels`` entries that were added or overwritten."""
    annotations: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """``metadata.annotations`` entries that were removed, with their values."""
    node_selector: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """``spec.nodeSelector`` entries that were removed, with their values."""
    node_affinity: Mapping[str, Any] | None = None
    """The removed ``spec.affinity.nodeAffinity``; ``None`` when it was not there."""
    tolerations: tuple[RemovedToleration, ...] = ()
    """Removed ``spec.tolerations`` entries, by ascending original index."""
    created: frozenset[Container] = frozenset()
    """Maps that did not exist and were created to hold the added labels."""

    def to_json(self) -> str:
        """The annotation value: compact, keys sorted, so equal records give equal text."""
        document: dict[str, Any] = {
            "version": VERSION,
            "labels": {
                key: {"before": change.before, "after": change.after}
                for key, change in self.labels.items()
            },
            "annotations": dict(self.annotations),
            "nodeSelector": dict(self.node_selector),
            "tolerations": [
                {"index": removed.index, "toleration": removed.toleration}
                for removed in self.tolerations
            ],
            "created": sorted(self.created),
        }
        if self.node_affinity is not None:
            document["nodeAffinity"] = self.node_affinity
        return json.dumps(document, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SavedScheduling:
        """Parse the annotation value; :class:`InvalidSavedSchedulingError` if it is not one."""
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise _corrupt(f"not JSON ({error})") from None
        top = _object(document, "the value")
        unknown = set(top) - {*_SECTIONS, "version", "nodeAffinity"}
        if unknown:
            raise _corrupt(f"unknown keys {sorted(unknown)}")
        if top.get("version") != VERSION or isinstance(top.get("version"), bool):
            raise _corrupt(f"version must be {VERSION}, found {top.get('version')!r}")
        missing = [key for key in _SECTIONS if key not in top]
        if missing:
            raise _corrupt(f"missing keys {missing}")
        affinity = top.get("nodeAffinity")
        return cls(
            labels={
                key: _label_change(key, value)
                for key, value in _object(top["labels"], "labels").items()
            },
            annotations=_strings(top["annotations"], "annotations"),
            node_selector=_strings(top["nodeSelector"], "nodeSelector"),
            node_affinity=None if affinity is None else _object(affinity, "nodeAffinity"),
            tolerations=_tolerations(top["tolerations"]),
            created=_created(top["created"]),
        )


_SECTIONS: Final = ("labels", "annotations", "nodeSelector", "tolerations", "created")


def _corrupt(problem: str) -> InvalidSavedSchedulingError:
    return InvalidSavedSchedulingError(SAVED_SCHEDULING, problem)


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _corrupt(f"{what} must be a JSON object")
    return value


def _strings(value: object, what: str) -> dict[str, str]:
    mapping = _object(value, what)
    for key, element in mapping.items():
        if not isinstance(element, str):
            raise _corrupt(f"{what}[{key!r}] must be a string")
    return mapping


def _label_change(key: str, value: object) -> LabelChange:
    change = _object(value, f"labels[{key!r}]")
    if set(change) != {"before", "after"}:
        raise _corrupt(f"labels[{key!r}] must have exactly the keys 'before' and 'after'")
    before, after = change["before"], change["after"]
    if not (before is None or isinstance(before, str)) or not isinstance(after, str):
        raise _corrupt(f"labels[{key!r}]: 'before' must be a string or null, 'after' a string")
    return LabelChange(before=before, after=after)


def _tolerations(value: object) -> tuple[RemovedToleration, ...]:
    if not isinstance(value, list):
        raise _corrupt("tolerations must be a JSON list")
    removed: list[RemovedToleration] = []
    for position, element in enumerate(value):
        entry = _object(element, f"tolerations[{position}]")
        index = entry.get("index")
        if set(entry) != {"index", "toleration"} or not isinstance(index, int):
            raise _corrupt(f"tolerations[{position}] must be {{'index': int, 'toleration': {{}}}}")
        if isinstance(index, bool) or index < 0 or (removed and index <= removed[-1].index):
            raise _corrupt(f"tolerations[{position}].index must be ascending and >= 0")
        toleration = _object(entry["toleration"], f"tolerations[{position}].toleration")
        removed.append(RemovedToleration(index=index, toleration=toleration))
    return tuple(removed)


def _created(value: object) -> frozenset[Container]:
    if not isinstance(value, list) or any(element not in CONTAINERS for element in value):
        raise _corrupt(f"created must be a list drawn from {sorted(CONTAINERS)}")
    return frozenset(value)
