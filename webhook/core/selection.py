"""Which pods get the spot-failover sidecar: one pure decision per admitted pod.

The webhook sees a pod at CREATE, but users opt in on the *Deployment*, which the pod does not
carry (pods copy the template's annotations, not the Deployment's). So the shell resolves the
owner (Pod -> ReplicaSet -> Deployment, cached, impure) and this module decides from plain data
(the pod as received, what the lookup found, the configuration) whether to inject, or why not.

The shell calls :func:`skip_before_lookup` first so that pods which will be skipped anyway cost
no owner lookup, then :func:`decide`, which repeats those checks so the two can never disagree.
Checks run in this order; the first match is the reason (reasons are metric labels):

1. ``injector_pod`` - spot-failover's own pods (label ``app.kubernetes.io/part-of``). The
   webhook's objectSelector already excludes them; this is the second line of defence.
2. ``excluded_namespace`` - the namespace is in the configured list (``kube-system``).
3. ``already_injected`` - a container or init container is named ``spot-failover``: a
   reinvocation, or a pod someone built by hand. Injection must be idempotent.
4. ``pod_opted_out`` - the pod (that is, the Deployment's pod template) has
   ``spot-failover/enabled: "false"``. The template wins over the Deployment so that a user
   can keep the sidecar out of one template revision (a canary, a debug session) without
   touching the Deployment's own annotations, where the failover state lives.
5. ``bare_pod`` - the pod, or its ReplicaSet, has no controller.
6. ``not_a_deployment`` - the controller is not a ReplicaSet, or the ReplicaSet's is not a
   Deployment (StatefulSet, Job, DaemonSet, an Argo Rollout...).
   Neither is ever injected: the sidecar's only action is to change its Deployment's pod
   template, so anywhere else it would cost resources and a ServiceAccount's rights for nothing.
7. ``owner_lookup_failed`` - the lookup could not tell. Fail open: the pod is created without
   the sidecar rather than blocked (the same reasoning as ``failurePolicy: Ignore``).
8. ``not_opted_in`` - the Deployment's ``spot-failover/enabled`` is missing or not exactly
   ``"true"`` (``"True"``, ``"yes"`` do not count; the detail says so). A pod-level ``"true"``
   alone does not opt in either: the RBAC controller grants the sidecar its rights per opted-in
   *Deployment*, so a sidecar injected on the pod's word alone could not do its job.
9. ``windows_pod`` - the pod targets Windows. The sidecar image is Linux-only and its
   securityContext fields are invalid on Windows pods: injecting would make the pod fail
   admission or never start. Checked after the opt-in so that this reason means "opted in
   but impossible", which is worth an alert.

``hostNetwork`` pods *are* injected. Fargate cannot run them, and the sidecar is what tells the
user so (state ``Failed`` with the reason on the Deployment) instead of failing silently; see
:mod:`webhook.core.injection` for how its metrics port is handled there.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, assert_never

from spot_common import contract
from webhook.core.injection import has_sidecar

WINDOWS = "windows"
OS_LABEL = "kubernetes.io/os"


class SkipReason(enum.StrEnum):
    """Why a pod was admitted unchanged; values are stable metric label values."""

    INJECTOR_POD = "injector_pod"
    EXCLUDED_NAMESPACE = "excluded_namespace"
    ALREADY_INJECTED = "already_injected"
    POD_OPTED_OUT = "pod_opted_out"
    BARE_POD = "bare_pod"
    NOT_A_DEPLOYMENT = "not_a_deployment"
    OWNER_LOOKUP_FAILED = "owner_lookup_failed"
    NOT_OPTED_IN = "not_opted_in"
    WINDOWS_POD = "windows_pod"


# --- What the owner lookup found ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class DeploymentOwner:
    """The pod belongs to this Deployment (via its ReplicaSet)."""

    name: str
    annotations: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))


@dataclasses.dataclass(frozen=True, slots=True)
class NoController:
    """The pod has no controller: a bare pod."""


@dataclasses.dataclass(frozen=True, slots=True)
class OtherOwner:
    """The controller chain ends at something other than a Deployment."""

    kind: str
    name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class LookupFailed:
    """The lookup could not tell (API error, timeout, ReplicaSet not found yet)."""

    reason: str


OwnerResolution = DeploymentOwner | NoController | OtherOwner | LookupFailed


# --- The decision ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SelectionConfig:
    """Cluster-wide selection settings."""

    excluded_namespaces: frozenset[str] = frozenset({"kube-system"})
    """Namespaces whose pods are never injected, whatever their owners say."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded_namespaces", frozenset(self.excluded_namespaces))


@dataclasses.dataclass(frozen=True, slots=True)
class Inject:
    """Inject the sidecar for this Deployment."""

    deployment_name: str
    deployment_annotations: Mapping[str, str]

    def __post_init__(self) -> None:
        frozen = MappingProxyType(dict(self.deployment_annotations))
        object.__setattr__(self, "deployment_annotations", frozen)


@dataclasses.dataclass(frozen=True, slots=True)
class Skip:
    """Admit the pod unchanged."""

    reason: SkipReason
    detail: str = ""
    """For logs only: which owner, which value; never a metric label."""


Decision = Inject | Skip


@dataclasses.dataclass(frozen=True, slots=True)
class ControllerRef:
    """The ``ownerReferences`` entry with ``controller: true``."""

    api_version: str
    kind: str
    name: str
    uid: str = ""

    @property
    def is_replicaset(self) -> bool:
        """A ReplicaSet of the ``apps`` group, the only kind a Deployment's pods have."""
        return self.kind == "ReplicaSet" and self.api_version.split("/")[0] == "apps"


def controller_ref(obj: Mapping[str, Any]) -> ControllerRef | None:
    """The controller of a Kubernetes object (pod or ReplicaSet), or ``None``."""
    for ref in _as_list(_meta(obj).get("ownerReferences")):
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ControllerRef(
                api_version=str(ref.get("apiVersion", "")),
                kind=str(ref.get("kind", "")),
                name=str(ref.get("name", "")),
                uid=str(ref.get("uid", "")),
            )
    return None


def skip_before_lookup(
    pod: Mapping[str, Any], config: SelectionConfig, *, namespace: str | None = None
) -> Skip | None:
    """The skip reason known without looking up the owner, or ``None`` if a lookup is needed.

    ``namespace`` is the AdmissionReview's ``request.namespace``: a pod being created may not
    carry ``metadata.namespace`` yet, so the request's value wins when given.
    """
    return next(_early_skips(pod, config, namespace), None)


def _early_skips(
    pod: Mapping[str, Any], config: SelectionConfig, namespace: str | None
) -> Iterator[Skip]:
    """The skips that apply without the owner, in the order the module docstring gives; each
    check is made only once the ones before it are found not to apply."""
    meta = _meta(pod)
    if _as_mapping(meta.get("labels")).get(contract.COMPONENT_LABEL) == contract.COMPONENT_VALUE:
        yield Skip(SkipReason.INJECTOR_POD)
    ns = namespace if namespace is not None else str(meta.get("namespace") or "")
    if ns in config.excluded_namespaces:
        yield Skip(SkipReason.EXCLUDED_NAMESPACE, f"namespace {ns}")
    if has_sidecar(pod):
        yield Skip(SkipReason.ALREADY_INJECTED)
    if _as_mapping(meta.get("annotations")).get(contract.ENABLED) == "false":
        yield Skip(SkipReason.POD_OPTED_OUT, f"pod annotation {contract.ENABLED}=false")
    ref = controller_ref(pod)
    if ref is None:
        yield Skip(SkipReason.BARE_POD)
    elif not ref.is_replicaset:
        yield Skip(SkipReason.NOT_A_DEPLOYMENT, f"controlled by {ref.kind} {ref.name}")


def decide(
    pod: Mapping[str, Any],
    owner: OwnerResolution,
    config: SelectionConfig,
    *,
    namespace: str | None = None,
) -> Decision:
    """Inject or skip, and why. Pure: the owner was resolved by the caller.

    The pod's own ``ownerReferences`` win over ``owner``: a pod without a ReplicaSet controller
    is skipped whatever the lookup says.
    """
    early = skip_before_lookup(pod, config, namespace=namespace)
    if early is not None:
        return early
    match owner:
        case LookupFailed(reason=reason):
            return Skip(SkipReason.OWNER_LOOKUP_FAILED, reason)
        case NoController():
            return Skip(SkipReason.BARE_POD, "its ReplicaSet has no controller")
        case OtherOwner(kind=kind, name=name):
            return Skip(SkipReason.NOT_A_DEPLOYMENT, f"owned by {kind} {name}".rstrip())
        case DeploymentOwner():
            return _decide_for_deployment(pod, owner)
        case _:
            assert_never(owner)


def _decide_for_deployment(pod: Mapping[str, Any], owner: DeploymentOwner) -> Decision:
    enabled = owner.annotations.get(contract.ENABLED)
    if enabled != "true":
        return Skip(SkipReason.NOT_OPTED_IN, _opt_in_detail(owner.name, enabled))
    if _targets_windows(pod):
        return Skip(SkipReason.WINDOWS_POD, f"Deployment {owner.name} runs Windows pods")
    return Inject(owner.name, owner.annotations)


def _opt_in_detail(deployment: str, value: str | None) -> str:
    if value is None:
        return f"Deployment {deployment} has no {contract.ENABLED} annotation"
    if value.strip().lower() == "true":
        return (
            f"Deployment {deployment} has {contract.ENABLED}={value!r}; "
            'only the exact string "true" opts in'
        )
    return f"Deployment {deployment} has {contract.ENABLED}={value!r}"


def _targets_windows(pod: Mapping[str, Any]) -> bool:
    spec = _as_mapping(pod.get("spec"))
    os_name = _as_mapping(spec.get("os")).get("name")
    return os_name == WINDOWS or _as_mapping(spec.get("nodeSelector")).get(OS_LABEL) == WINDOWS


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _as_mapping(obj.get("metadata"))


def _as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _as_list(value: object) -> Iterable[Any]:
    return value if isinstance(value, list) else ()
