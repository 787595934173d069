"""What the webhook remembers about ReplicaSets and Deployments, so admission needs no API call.

Opting in happens on the Deployment, which a pod does not carry; a pod only names its
ReplicaSet. Answering "is this pod's Deployment opted in?" with two GETs per pod would put the
API server on the admission path of every pod in the cluster, so the controller side keeps this
cache from its watches (fed by :meth:`OwnerCache.replicaset_event` and
:meth:`OwnerCache.deployment_event`) and admission reads it: a warm hit is a dictionary lookup.

Only what admission, the RBAC controller and the metrics need is kept: a ReplicaSet's
controller, and a Deployment's UID, ServiceAccount, the annotations that steer injection, its
failover state and the time of its last transition, and whether it is being deleted. Nothing
here does I/O; :mod:`webhook.lookup` adds the bounded direct lookup for misses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final

from spot_common import contract
from webhook.core.selection import (
    ControllerRef,
    DeploymentOwner,
    NoController,
    OtherOwner,
    OwnerResolution,
    controller_ref,
)

ADMISSION_ANNOTATIONS: Final = frozenset({contract.ENABLED, contract.SIDECAR_IMAGE})
"""The Deployment annotations admission reads; the rest (the failover state, its history) can be
large and is not kept."""

Key = tuple[str, str]
"""(namespace, name)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ReplicaSetFacts:
    namespace: str
    name: str
    uid: str
    controller: ControllerRef | None


@dataclasses.dataclass(frozen=True, slots=True)
class DeploymentFacts:
    """What the webhook needs to know about one Deployment."""

    namespace: str
    name: str
    uid: str
    service_account: str
    annotations: Mapping[str, str]
    selector: str = ""
    """The Deployment's pod selector as a label-selector string (for listing its pods)."""
    deleting: bool = False
    state: str = ""
    """The ``spot-failover/state`` annotation as written (empty when absent)."""
    last_transition: str = ""
    """The ``spot-failover/last-transition`` annotation as written (empty when absent)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))

    @property
    def opted_in(self) -> bool:
        """Exactly ``"true"`` opts in (see :mod:`.selection`), and not while deleting."""
        return self.annotations.get(contract.ENABLED) == "true" and not self.deleting

    def owner(self) -> DeploymentOwner:
        return DeploymentOwner(self.name, self.annotations)


def replicaset_facts(body: Mapping[str, Any]) -> ReplicaSetFacts:
    meta = _mapping(body.get("metadata"))
    return ReplicaSetFacts(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        controller=controller_ref(body),
    )


def deployment_facts(body: Mapping[str, Any]) -> DeploymentFacts:
    meta = _mapping(body.get("metadata"))
    spec = _mapping(body.get("spec"))
    pod_spec = _mapping(_mapping(spec.get("template")).get("spec"))
    annotations = _mapping(meta.get("annotations"))
    account = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default"
    return DeploymentFacts(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        service_account=str(account),
        annotations={
            key: str(value) for key, value in annotations.items() if key in ADMISSION_ANNOTATIONS
        },
        selector=label_selector(_mapping(spec.get("selector"))),
        deleting=meta.get("deletionTimestamp") is not None,
        state=str(annotations.get(contract.STATE) or ""),
        last_transition=str(annotations.get(contract.LAST_TRANSITION) or ""),
    )


def label_selector(selector: Mapping[str, Any]) -> str:
    """A ``LabelSelector`` object in the string form the list API takes."""
    parts = [
        f"{key}={value}" for key, value in sorted(_mapping(selector.get("matchLabels")).items())
    ]
    expressions = selector.get("matchExpressions")
    for expression in expressions if isinstance(expressions, list) else ():
        if not isinstance(expression, Mapping):
            continue
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(sorted(str(v) for v in expression.get("values") or ()))
        match operator:
            case "In":
                parts.append(f"{key} in ({values})")
            case "NotIn":
                parts.append(f"{key} notin ({values})")
            case "Exists":
                parts.append(f"{key}")
            case "DoesNotExist":
                parts.append(f"!{key}")
    return ",".join(parts)


@dataclasses.dataclass(frozen=True, slots=True)
class Miss:
    """The cache cannot answer: which objects a direct lookup must read."""

    namespace: str
    replicaset: str
    deployment: str | None = None
    """Known when the ReplicaSet is cached but its Deployment is not."""


class OwnerCache:
    """ReplicaSets and Deployments as last seen by the watches. Event-loop confined."""

    def __init__(self, namespaces: frozenset[str] = frozenset()) -> None:
        self.namespaces = namespaces
        """Watched namespaces; empty means all."""
        self._replicasets: dict[Key, ReplicaSetFacts] = {}
        self._deployments: dict[Key, DeploymentFacts] = {}

    def watches(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces

    # --- fed by the watches ---------------------------------------------------------------------

    def replicaset_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        facts = replicaset_facts(body)
        key = (facts.namespace, facts.name)
        if event_type == "DELETED":
            self._replicasets.pop(key, None)
        else:
            self._replicasets[key] = facts

    def deployment_event(
        self, event_type: str | None, body: Mapping[str, Any]
    ) -> tuple[DeploymentFacts | None, DeploymentFacts]:
        """Record the event; return the facts before it (``None`` if unknown) and after it."""
        facts = deployment_facts(body)
        key = (facts.namespace, facts.name)
        before = self._deployments.get(key)
        if event_type == "DELETED":
            self._deployments.pop(key, None)
            facts = dataclasses.replace(facts, deleting=True)
        else:
            self._deployments[key] = facts
        return before, facts

    # --- read by admission and the controller ---------------------------------------------------

    def resolve(self, namespace: str, ref: ControllerRef) -> OwnerResolution | Miss:
        """The owner of a pod whose controller is the ReplicaSet ``ref``, or what is missing."""
        replicaset = self._replicasets.get((namespace, ref.name))
        if replicaset is None or (ref.uid and replicaset.uid and ref.uid != replicaset.uid):
            return Miss(namespace, ref.name)
        return self.owner_of(replicaset)

    def owner_of(self, replicaset: ReplicaSetFacts) -> OwnerResolution | Miss:
        controller = replicaset.controller
        if controller is None:
            return NoController()
        if controller.kind != "Deployment" or controller.api_version.split("/")[0] != "apps":
            return OtherOwner(controller.kind, controller.name)
        deployment = self._deployments.get((replicaset.namespace, controller.name))
        if deployment is None or (controller.uid and controller.uid != deployment.uid):
            return Miss(replicaset.namespace, replicaset.name, controller.name)
        return deployment.owner()

    def deployment(self, namespace: str, name: str) -> DeploymentFacts | None:
        return self._deployments.get((namespace, name))

    def deployments(self) -> Iterator[DeploymentFacts]:
        return iter(list(self._deployments.values()))

    def deployment_of(self, namespace: str, replicaset: str) -> str | None:
        """The Deployment that controls a cached ReplicaSet, if any."""
        facts = self._replicasets.get((namespace, replicaset))
        if facts is None or facts.controller is None or facts.controller.kind != "Deployment":
            return None
        return facts.controller.name

    def sizes(self) -> tuple[int, int]:
        """(ReplicaSets, Deployments) cached."""
        return len(self._replicasets), len(self._deployments)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
