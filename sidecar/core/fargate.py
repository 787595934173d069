"""Moving a pod template to EKS Fargate and back.

A pod lands on Fargate only if, when it is created, it matches a Fargate profile (namespace plus
labels), and nothing in its spec contradicts Fargate (:mod:`sidecar.core.fargate_checks` says
what does, before anything is patched). So a move is a change to the Deployment's pod template,
and this module owns that change:

* :func:`to_fargate` adds the profile's labels and removes the EC2-only scheduling constraints,
  returning a :class:`~sidecar.core.saved_scheduling.SavedScheduling` of what it changed;
* :func:`sidecar.core.restore.merge` undoes it, as a three-way merge that keeps whatever was
  written since the move.

Only ``metadata.labels``, one ``metadata.annotations`` entry, ``spec.nodeSelector``,
``spec.affinity.nodeAffinity`` and ``spec.tolerations`` of the template ever change; containers
are never touched, and the Deployment's replicas, strategy and selector are not in the template
at all, so the rollout that follows stays within the strategy's ``maxUnavailable``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from sidecar.core import objects
from sidecar.core.errors import MalformedObjectError
from sidecar.core.objects import JSONObject
from sidecar.core.saved_scheduling import Container, LabelChange, RemovedToleration, SavedScheduling

FARGATE_PROFILE_LABEL: Final = "eks.amazonaws.com/fargate-profile"
"""Pod label that picks one Fargate profile when several match."""

COMPUTE_TYPE_KEY: Final = "eks.amazonaws.com/compute-type"
"""Node label (``fargate`` on Fargate nodes), Fargate taint key, and pod-template annotation
whose value ``ec2`` keeps pods off Fargate where a profile selects the whole namespace."""

EC2_COMPUTE_TYPE: Final = "ec2"

DEFAULT_EC2_KEYS: Final = frozenset(
    {
        "eks.amazonaws.com/capacityType",
        "karpenter.sh/capacity-type",
        "eks.amazonaws.com/nodegroup",
        "karpenter.sh/nodepool",
        "node.kubernetes.io/instance-type",
        "eks.amazonaws.com/compute-type",
        "node.kubernetes.io/lifecycle",
    }
)
"""Node-label and taint keys that tie pods to EC2 capacity; removed from the template on a move."""


def to_fargate(
    template: JSONObject,
    fargate_labels: Mapping[str, str],
    profile_name: str | None,
    ec2_keys: frozenset[str] = DEFAULT_EC2_KEYS,
) -> tuple[dict[str, Any], SavedScheduling]:
    """A copy of ``template`` whose pods match the Fargate profile, and what was changed.

    Adds ``fargate_labels`` (and ``eks.amazonaws.com/fargate-profile: <profile_name>`` if
    given) to the pod labels; removes the template annotation ``eks.amazonaws.com/compute-type``
    if it is ``ec2``; removes ``nodeSelector`` entries and tolerations whose key is in
    ``ec2_keys``; removes ``affinity.nodeAffinity`` (Fargate ignores affinity, but kube-scheduler
    would keep honouring it for any pod that misses the profile). Everything else is kept.
    ``template`` itself is not modified.
    """
    new = copy_template(template)
    wanted = dict(fargate_labels)
    if profile_name:
        wanted[FARGATE_PROFILE_LABEL] = profile_name
    labels_before = objects.string_map(objects.child(new, "metadata", ""), "labels", "metadata")
    changes = {key: value for key, value in wanted.items() if labels_before.get(key) != value}
    created: set[Container] = set()
    saved_labels: dict[str, LabelChange] = {}
    if changes:
        if new.get("metadata") is None:
            new["metadata"] = {}
            created.add("metadata")
        labels = new["metadata"].get("labels")
        if labels is None:
            labels = new["metadata"]["labels"] = {}
            created.add("metadata.labels")
        for key, value in changes.items():
            saved_labels[key] = LabelChange(before=labels.get(key), after=value)
            labels[key] = value

    saved_annotations: dict[str, str] = {}
    metadata = objects.child(new, "metadata", "")
    annotations = objects.string_map(metadata, "annotations", "metadata")
    if annotations.get(COMPUTE_TYPE_KEY) == EC2_COMPUTE_TYPE:
        saved_annotations[COMPUTE_TYPE_KEY] = new["metadata"]["annotations"].pop(COMPUTE_TYPE_KEY)

    spec = objects.child(new, "spec", "")
    selector = objects.string_map(spec, "nodeSelector", "spec")
    saved_selector = {key: value for key, value in selector.items() if key in ec2_keys}
    for key in saved_selector:
        del new["spec"]["nodeSelector"][key]

    affinity = objects.child(spec, "affinity", "spec")
    node_affinity = objects.child(affinity, "nodeAffinity", "spec.affinity")
    saved_affinity = None
    if affinity.get("nodeAffinity") is not None:
        saved_affinity = node_affinity
        del new["spec"]["affinity"]["nodeAffinity"]

    removed: list[RemovedToleration] = []
    kept: list[JSONObject] = []
    for index, toleration in enumerate(objects.items(spec, "tolerations", "spec")):
        taint_key = objects.text(toleration, "key", f"spec.tolerations[{index}]")
        if taint_key is not None and taint_key in ec2_keys:
            removed.append(RemovedToleration(index=index, toleration=toleration))
        else:
            kept.append(toleration)
    if removed:
        new["spec"]["tolerations"] = kept

    return new, SavedScheduling(
        labels=saved_labels,
        annotations=saved_annotations,
        node_selector=saved_selector,
        node_affinity=saved_affinity,
        tolerations=tuple(removed),
        created=frozenset(created),
    )


def copy_template(template: JSONObject) -> dict[str, Any]:
    """A deep copy of a pod template, to change; :class:`MalformedObjectError` if it is not an
    object."""
    copied = copy.deepcopy(template)
    if not isinstance(copied, dict):
        raise MalformedObjectError("spec.template", "expected a JSON object")
    return copied
