"""Are the pods of the new template running where they should, and ready?

A complete rollout says the replicas are available; it does not say they landed on the right
compute. If the Fargate labels match no profile, the "moved" pods are scheduled onto EC2 nodes
(or stay Pending) and the move achieved nothing. So before a move counts as done, the leader
lists the pods of the current template and their nodes, and :func:`pods_verdict` judges them:

* :class:`Unhealthy` — a definite misplacement that waiting will not fix: a pod of the new
  template scheduled onto a node of the wrong compute type. The machine rolls back at once.
* :class:`NotYet` — fewer ready, correctly placed pods than replicas. Container errors such as
  ``ImagePullBackOff`` or ``CrashLoopBackOff`` are reported here too, not as Unhealthy: on a
  fresh Fargate node they are often transient, and the overall deadline bounds the wait.
* :class:`Healthy` — at least ``replicas`` such pods are Ready.

A Fargate node carries the label ``eks.amazonaws.com/compute-type=fargate``; any other node
counts as spot (EC2). Node labels are the only placement evidence used: on EKS a pod that
matched a profile also gets ``schedulerName: fargate-scheduler``, which would flag a miss before
scheduling, but nothing sets it outside EKS, so it is not relied on. The optional HTTP check is
run by an adapter and folded in with :func:`with_http_check`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TypeAlias

from sidecar.core import objects
from sidecar.core.fargate import COMPUTE_TYPE_KEY
from sidecar.core.objects import JSONObject
from spot_common.contract import ComputeType

TEMPLATE_HASH_LABEL: Final = "pod-template-hash"
REVISION_ANNOTATION: Final = "deployment.kubernetes.io/revision"
WAITING_PROBLEMS: Final = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
    }
)
"""Container waiting reasons worth quoting in a NotYet (kubectl warns on the same ones)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Healthy:
    """Enough pods of the current template are Ready on the expected compute type."""

    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class NotYet:
    """Not healthy yet, possibly soon; ``reason`` says what is missing."""

    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Unhealthy:
    """Definitely wrong; waiting will not help. ``reason`` names the pod and the problem."""

    reason: str


Verdict: TypeAlias = Healthy | NotYet | Unhealthy


def pods_verdict(
    pods: Iterable[JSONObject],
    node_labels: Mapping[str, Mapping[str, str]],
    *,
    expected: ComputeType,
    replicas: int,
    template_hash: str | None = None,
) -> Verdict:
    """Judge the pods of the current template.

    ``pods`` may include pods of older templates: with ``template_hash`` (see
    :func:`current_template_hash`) only pods labelled with it count; without it, every pod
    passed counts. Terminating pods never count. ``node_labels`` maps node name to labels for
    the nodes the pods run on; a pod on a node missing from it is not judged yet.
    """
    ready = 0
    waiting: list[str] = []
    for index, pod in enumerate(pods):
        where = f"pods[{index}]"
        metadata = objects.child(pod, "metadata", where)
        labels = objects.string_map(metadata, "labels", f"{where}.metadata")
        if template_hash is not None and labels.get(TEMPLATE_HASH_LABEL) != template_hash:
            continue
        if metadata.get("deletionTimestamp") is not None:
            continue
        name = objects.text(metadata, "name", f"{where}.metadata", "?")
        spec = objects.child(pod, "spec", where)
        node = objects.text(spec, "nodeName", f"{where}.spec")
        if node is None or node not in node_labels:
            waiting.append(f"pod {name} is not scheduled yet")
            continue
        actual = (
            ComputeType.FARGATE
            if node_labels[node].get(COMPUTE_TYPE_KEY) == "fargate"
            else ComputeType.SPOT
        )
        if actual is not expected:
            return Unhealthy(f"pod {name} runs on {actual} node {node}, expected {expected}")
        problem = _container_problem(pod, where)
        if _is_ready(pod, where):
            ready += 1
        else:
            waiting.append(f"pod {name} is not Ready" + (f" ({problem})" if problem else ""))
    if ready >= replicas:
        return Healthy(f"{ready} pods Ready on {expected}")
    detail = "; ".join(waiting[:3]) or "no pods of the current template yet"
    return NotYet(f"{ready} of {replicas} pods Ready on {expected}: {detail}")


def with_http_check(verdict: Verdict, *, ok: bool | None, detail: str = "") -> Verdict:
    """Fold in the result of the optional HTTP health URL (``None``: no URL configured).

    A failing URL is :class:`NotYet`, never :class:`Unhealthy`: a service often needs a moment
    after its pods turn Ready, and the overall deadline bounds the wait.
    """
    if ok is None or not isinstance(verdict, Healthy):
        return verdict
    if ok:
        return Healthy(f"{verdict.detail}; health URL answered 2xx")
    return NotYet(f"health URL not healthy yet: {detail or 'no 2xx answer'}")


def current_template_hash(deployment: JSONObject, replica_sets: Sequence[JSONObject]) -> str | None:
    """``pod-template-hash`` of the Deployment's newest ReplicaSet, or ``None`` if not known.

    The newest ReplicaSet is the one whose ``deployment.kubernetes.io/revision`` annotation
    equals the Deployment's, which the controller keeps in step once it has observed the
    latest generation. ``replica_sets`` should be those owned by the Deployment.
    """
    metadata = objects.child(deployment, "metadata", "")
    revision = objects.string_map(metadata, "annotations", "metadata").get(REVISION_ANNOTATION)
    if revision is None:
        return None
    for index, replica_set in enumerate(replica_sets):
        where = f"replicaSets[{index}].metadata"
        rs_metadata = objects.child(replica_set, "metadata", f"replicaSets[{index}]")
        annotations = objects.string_map(rs_metadata, "annotations", where)
        if annotations.get(REVISION_ANNOTATION) == revision:
            return objects.string_map(rs_metadata, "labels", where).get(TEMPLATE_HASH_LABEL)
    return None


def _is_ready(pod: JSONObject, where: str) -> bool:
    status = objects.child(pod, "status", where)
    for index, condition in enumerate(objects.items(status, "conditions", f"{where}.status")):
        at = f"{where}.status.conditions[{index}]"
        if objects.text(condition, "type", at) == "Ready":
            return objects.text(condition, "status", at) == "True"
    return False


def _container_problem(pod: JSONObject, where: str) -> str | None:
    status = objects.child(pod, "status", where)
    for kind in ("initContainerStatuses", "containerStatuses"):
        for index, container in enumerate(objects.items(status, kind, f"{where}.status")):
            at = f"{where}.status.{kind}[{index}]"
            state = objects.child(container, "state", at)
            reason = objects.text(objects.child(state, "waiting", at), "reason", at)
            if reason in WAITING_PROBLEMS:
                name = objects.text(container, "name", at, "?")
                return f"container {name}: {reason}"
    return None
