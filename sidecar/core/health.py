"""Are the pods of the new template running where they should, and ready?

A complete rollout says the replicas are available; it does not say they landed on the right
compute. If the Fargate labels match no profile, the "moved" pods are scheduled onto EC2 nodes
(or stay Pending) and the move achieved nothing. So before a move counts as done, the leader
lists the pods of the current template and their nodes, and :func:`pods_verdict` judges them:

* :class:`Unhealthy` — a definite failure that waiting will not fix: a pod of the new template
  scheduled onto a node of the wrong compute type, or a pod Fargate refused
  (:func:`fargate_refusal`). The machine rolls back at once.
* :class:`NotYet` — fewer ready, correctly placed pods than replicas. Container errors such as
  ``ImagePullBackOff`` or ``CrashLoopBackOff`` are reported here too, not as Unhealthy: on a
  fresh Fargate node they are often transient, and the overall deadline bounds the wait.
* :class:`Healthy` — at least ``replicas`` such pods are Ready.

A Fargate node carries the label ``eks.amazonaws.com/compute-type=fargate``; any other node
counts as spot (EC2). Node labels are the only placement evidence used: on EKS a pod that
matched a profile also gets ``schedulerName: fargate-scheduler``, which would flag a miss before
scheduling, but nothing sets it outside EKS, so it is not relied on. The optional HTTP check is
run by an adapter and folded in with :func:`with_http_check`.

Whose pods: only the Deployment's own (:func:`current_pods`). Its ReplicaSets are those whose
controller reference carries the Deployment's UID, the current one is the one of its revision,
and the pods counted are those whose controller reference carries that ReplicaSet's UID and
that the whole selector (``matchLabels`` and ``matchExpressions``) selects. Labels alone would
also count the pods of another Deployment whose labels happen to match.

While a move to Fargate rolls out, the leader asks for an *early* verdict on every tick
(:func:`early`): no health URL, no node reads, never Healthy; it exists to see a refusal by
Fargate within seconds rather than at the overall deadline. Fargate does not reject a pod at
admission: ``fargate-scheduler`` leaves it Pending, with the Warning Event ``FailedScheduling``
``Pod not supported on Fargate: ...`` and, as a scheduler does, the pod's ``PodScheduled``
condition False with the same message. The verdict reads the condition (the pod is listed
anyway; reading Events would need another right).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TypeAlias

from sidecar.core import objects, selectors
from sidecar.core.fargate import COMPUTE_TYPE_KEY
from sidecar.core.objects import JSONObject
from spot_common.contract import ComputeType

FARGATE_REFUSAL: Final = "Pod not supported on Fargate"
"""How ``fargate-scheduler`` begins the message of a pod it will not run."""
TRANSIENT_REFUSALS: Final = ("not bound", "not found")
"""A refusal over a claim that is not bound yet (or not found yet) passes once it is: waited on,
not a failure."""
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
        if node is None and expected is ComputeType.FARGATE:
            refused = fargate_refusal(pod)
            if refused is not None and not transient(refused):
                return Unhealthy(f"Fargate refused pod {name}: {refused}")
            if refused is not None:
                waiting.append(f"pod {name} is refused for now: {refused}")
                continue
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


def early(verdict: Verdict) -> Verdict:
    """A verdict taken while the rollout is under way: only a failure is final (Healthy is not,
    until the rollout is complete and the whole check has run)."""
    if isinstance(verdict, Healthy):
        return NotYet(f"rollout under way ({verdict.detail})")
    return verdict


def fargate_refusal(pod: JSONObject) -> str | None:
    """What Fargate said when it refused the pod (its ``PodScheduled`` condition, False, with a
    message beginning :data:`FARGATE_REFUSAL`); ``None`` if it did not refuse it."""
    status = objects.child(pod, "status", "pod")
    for index, condition in enumerate(objects.items(status, "conditions", "pod.status")):
        at = f"pod.status.conditions[{index}]"
        if objects.text(condition, "type", at) != "PodScheduled":
            continue
        message = objects.text(condition, "message", at, "") or ""
        if objects.text(condition, "status", at) == "False" and message.startswith(FARGATE_REFUSAL):
            return message
    return None


def transient(refusal: str) -> bool:
    """Whether a refusal passes by itself: one over a claim not bound (or not found) yet."""
    return any(mark in refusal for mark in TRANSIENT_REFUSALS)


def owned_by(child: JSONObject, uid: str | None, where: str) -> bool:
    """Whether ``child``'s controller reference (``ownerReferences`` with ``controller: true``)
    carries ``uid``."""
    if not uid:
        return False
    metadata = objects.child(child, "metadata", where)
    for index, owner in enumerate(objects.items(metadata, "ownerReferences", f"{where}.metadata")):
        at = f"{where}.metadata.ownerReferences[{index}]"
        if objects.flag(owner, "controller", at) and objects.text(owner, "uid", at) == uid:
            return True
    return False


def current_pods(
    deployment: JSONObject, replica_sets: Sequence[JSONObject], pods: Sequence[JSONObject]
) -> list[JSONObject] | None:
    """The Deployment's pods of its current template: owned by its current ReplicaSet (by UID),
    itself owned by the Deployment (by UID), and selected by the whole ``spec.selector``.
    ``None`` while the current ReplicaSet is not known (the controller has not made it yet)."""
    metadata = objects.child(deployment, "metadata", "")
    uid = objects.text(metadata, "uid", "metadata")
    own = [rs for i, rs in enumerate(replica_sets) if owned_by(rs, uid, f"replicaSets[{i}]")]
    current = _current_replica_set(deployment, own)
    if current is None:
        return None
    rs_uid = objects.text(objects.child(current, "metadata", "replicaSet"), "uid", "replicaSet")
    selector = selectors.deployment_selector(deployment)
    found = []
    for index, pod in enumerate(pods):
        where = f"pods[{index}]"
        labels = objects.string_map(objects.child(pod, "metadata", where), "labels", where)
        if owned_by(pod, rs_uid, where) and selectors.matches(selector, labels, "spec.selector"):
            found.append(pod)
    return found


def _current_replica_set(
    deployment: JSONObject, replica_sets: Sequence[JSONObject]
) -> JSONObject | None:
    metadata = objects.child(deployment, "metadata", "")
    revision = objects.string_map(metadata, "annotations", "metadata").get(REVISION_ANNOTATION)
    if revision is None:
        return None
    for index, replica_set in enumerate(replica_sets):
        rs_metadata = objects.child(replica_set, "metadata", f"replicaSets[{index}]")
        annotations = objects.string_map(
            rs_metadata, "annotations", f"replicaSets[{index}].metadata"
        )
        if annotations.get(REVISION_ANNOTATION) == revision:
            return replica_set
    return None


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
