"""Undoing a move to Fargate as a three-way merge, so that nothing written since the move is lost.

A move changes a few fields of the pod template (:func:`sidecar.core.fargate.to_fargate`) and
saves their values from before it (:class:`~sidecar.core.saved_scheduling.SavedScheduling`). By
the time the move is undone (a rollback, a failback) someone may have written some of those
fields again: the user with kubectl, or a GitOps controller putting Git's values back. So
:func:`merge` decides each field the move owns from three values:

* *saved*: the field before the move, from the saved scheduling;
* *base*: what the move left there. A move only removes nodeSelector entries, tolerations, the
  node affinity and the annotation ``eks.amazonaws.com/compute-type: ec2``, so their base is
  "absent"; a label it set has the value it set as base, which the saved scheduling records
  (:attr:`~sidecar.core.saved_scheduling.LabelChange.after`). Nothing else needs recording;
* *live*: the field in the template now.

``live == base``: nobody wrote the field since the move, and the saved value comes back.
``live != base``: it was written since, and stays as it is; when it also differs from the saved
value, :attr:`Restored.kept` names it, and the state machine says so (the Event
``KeptUserEdit`` and the status message). One field is:

* one key of ``metadata.labels``, ``metadata.annotations`` or ``spec.nodeSelector``;
* ``spec.affinity.nodeAffinity``, as a whole;
* the tolerations of one taint key, all of them: a move removes every toleration of an EC2 key,
  so any toleration of that key found later was written since, and the saved ones would
  contradict it.

Fields the move does not own (containers, other labels and tolerations, ...) are never touched.
With ``add_ec2_annotation`` the template also gets ``eks.amazonaws.com/compute-type: ec2``, which
keeps the new pods off Fargate where a profile selects the whole namespace, unless it has that
annotation already: a value there is not one spot-failover wrote, and it stays.

The laws (tests/sidecar/core/test_restore.py): without edits the merge gives the template from
before the move exactly, and keeps nothing; every field written since the move keeps the value
written; every other field it owns gets its saved value; merging the result again changes
nothing and gives the same answer. All functions are pure.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sidecar.core import objects
from sidecar.core.errors import MalformedObjectError
from sidecar.core.fargate import COMPUTE_TYPE_KEY, EC2_COMPUTE_TYPE, copy_template
from sidecar.core.objects import JSONObject
from sidecar.core.saved_scheduling import RemovedToleration, SavedScheduling

LABELS: Final = "spec.template.metadata.labels"
ANNOTATIONS: Final = "spec.template.metadata.annotations"
NODE_SELECTOR: Final = "spec.template.spec.nodeSelector"
NODE_AFFINITY: Final = "spec.template.spec.affinity.nodeAffinity"
TOLERATIONS: Final = "spec.template.spec.tolerations"
"""The fields a move owns, named from the Deployment as ``kubectl explain`` names them."""


@dataclasses.dataclass(frozen=True)
class Restored:
    """The pod template back on spot, and the fields in which what was written since stayed."""

    template: dict[str, Any]
    kept: tuple[str, ...] = ()
    """Names of the fields written since the move with a value other than the saved one, which
    they keep: ``spec.template.spec.nodeSelector[<key>]``, ``...tolerations[key=<key>]``,
    ``...affinity.nodeAffinity``, ``spec.template.metadata.labels[<key>]``, ... in that form."""


def merge(live: JSONObject, saved: SavedScheduling, add_ec2_annotation: bool) -> Restored:
    """``live`` with every field the move owns and nobody wrote since put back as ``saved``
    has it. ``live`` itself is not modified.

    ``merge(*to_fargate(t, ...), False) == Restored(t, ())`` for every template ``t``.
    """
    new = copy_template(live)
    kept = [
        *_labels(new, saved),
        *_annotations(new, saved.annotations, add_ec2_annotation),
        *_node_selector(new, saved.node_selector),
        *_node_affinity(new, saved.node_affinity),
        *_tolerations(new, saved.tolerations),
    ]
    return Restored(new, tuple(kept))


def _labels(template: dict[str, Any], saved: SavedScheduling) -> list[str]:
    """A label still at the value the move set gets its old value back (or goes); the maps the
    move created go again if they are empty."""
    metadata = objects.child(template, "metadata", "")
    labels = objects.string_map(metadata, "labels", "metadata")
    kept: list[str] = []
    for key, change in sorted(saved.labels.items()):
        value = labels.get(key)
        if value != change.after:  # written since the move: theirs
            if value != change.before:
                kept.append(f"{LABELS}[{key}]")
        elif change.before is None:
            del template["metadata"]["labels"][key]
        else:
            template["metadata"]["labels"][key] = change.before
    if "metadata.labels" in saved.created and metadata.get("labels") == {}:
        del template["metadata"]["labels"]
    if "metadata" in saved.created and template.get("metadata") == {}:
        del template["metadata"]
    return kept


def _annotations(
    template: dict[str, Any], removed: Mapping[str, str], add_ec2_annotation: bool
) -> list[str]:
    """Removed annotations come back where the key is absent still; the EC2 one is added where
    the template has none."""
    current = objects.string_map(objects.child(template, "metadata", ""), "annotations", "metadata")
    wanted = dict(removed)
    if add_ec2_annotation:
        wanted.setdefault(COMPUTE_TYPE_KEY, EC2_COMPUTE_TYPE)
    kept = [
        f"{ANNOTATIONS}[{key}]"
        for key, value in sorted(removed.items())
        if key in current and current[key] != value
    ]
    back = {key: value for key, value in wanted.items() if key not in current}
    if back:
        _ensure_map(_ensure_map(template, "metadata"), "annotations").update(back)
    return kept


def _node_selector(template: dict[str, Any], removed: Mapping[str, str]) -> list[str]:
    current = objects.string_map(objects.child(template, "spec", ""), "nodeSelector", "spec")
    kept = [
        f"{NODE_SELECTOR}[{key}]"
        for key, value in sorted(removed.items())
        if key in current and current[key] != value
    ]
    back = {key: value for key, value in removed.items() if key not in current}
    if back:
        _ensure_map(_ensure_map(template, "spec"), "nodeSelector").update(back)
    return kept


def _node_affinity(template: dict[str, Any], removed: Mapping[str, Any] | None) -> list[str]:
    if removed is None:
        return []
    affinity = objects.child(objects.child(template, "spec", ""), "affinity", "spec")
    if affinity.get("nodeAffinity") is not None:
        current = objects.child(affinity, "nodeAffinity", "spec.affinity")
        return [NODE_AFFINITY] if current != removed else []
    affinity = _ensure_map(_ensure_map(template, "spec"), "affinity")
    affinity["nodeAffinity"] = copy.deepcopy(dict(removed))
    return []


def _tolerations(template: dict[str, Any], removed: Sequence[RemovedToleration]) -> list[str]:
    """The removed tolerations of every taint key that has none now, back at their old index."""
    if not removed:
        return []
    spec = _ensure_map(template, "spec")
    tolerations = list(objects.items(spec, "tolerations", "spec"))
    theirs: dict[str | None, list[JSONObject]] = {}
    for index, toleration in enumerate(tolerations):
        theirs.setdefault(_key(toleration, f"spec.tolerations[{index}]"), []).append(toleration)
    ours: dict[str | None, list[JSONObject]] = {}
    back: list[RemovedToleration] = []
    for entry in removed:
        key = _key(entry.toleration, "the saved tolerations")
        ours.setdefault(key, []).append(entry.toleration)
        if key not in theirs:
            back.append(entry)
    kept = [
        f"{TOLERATIONS}[key={key}]"
        for key in sorted(ours, key=str)
        if key in theirs and not _same_elements(theirs[key], ours[key])
    ]
    for entry in back:  # by ascending original index: each lands where it was
        position = min(entry.index, len(tolerations))
        tolerations.insert(position, copy.deepcopy(dict(entry.toleration)))
    if back:
        spec["tolerations"] = tolerations
    return kept


def _key(toleration: JSONObject, where: str) -> str | None:
    return objects.text(toleration, "key", where)


def _same_elements(left: Sequence[JSONObject], right: Sequence[JSONObject]) -> bool:
    """Whether two lists hold the same elements as often, in any order."""
    return len(left) == len(right) and all(left.count(x) == right.count(x) for x in left)


def _ensure_map(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """``parent[key]``, created as an empty object if absent."""
    if parent.get(key) is None:
        parent[key] = {}
    value = parent[key]
    if not isinstance(value, dict):
        raise MalformedObjectError(key, "expected a JSON object")
    return value
