"""The RBAC objects an opted-in Deployment's sidecars need, as plain manifests (pure).

The sidecar runs with its pod's ServiceAccount. For each opted-in Deployment the controller
provisions:

* the Deployment's **Lease** (:func:`spot_common.contract.lease_name`), without a holder, so the
  sidecars need no ``create`` on Leases (which RBAC cannot limit by name);
* a **Role** ``spot-failover-sidecar-<deployment>`` with exactly
  :func:`spot_common.contract.sidecar_role_rules`: get/update/patch/watch on *that* Deployment and
  get/update/watch/list on *its* Lease (both by ``resourceNames``), list ReplicaSets and pods,
  create Events;
* a **RoleBinding** of the same name, to the Deployment's ServiceAccount;
* a **ClusterRoleBinding** ``spot-failover-sidecar-nodes.<namespace>.<serviceaccount>`` of the
  shared ClusterRole ``spot-failover-sidecar-nodes`` (deploy/), for read access to Nodes. Nodes
  are cluster-scoped, so this read access is cluster-wide, and RBAC cannot narrow a watch to
  one Node by name. It is per ServiceAccount, not per Deployment: several Deployments may share
  one account, and the binding stays while any of them is opted in;
* beside it, per ServiceAccount too, a **RoleBinding** in ``default`` (where Node Events live)
  ``spot-failover-node-events.<namespace>.<serviceaccount>`` of the shared ClusterRole
  ``spot-failover-sidecar-node-events`` (deploy/: list and watch Events,
  :data:`spot_common.contract.SIDECAR_NODE_EVENT_RULES`), so the sidecar can look for
  Karpenter's record of a spot interruption: a RoleBinding grants the ClusterRole's rules in its
  own namespace only. RBAC cannot narrow a list of Events to those about one Node. Its name does
  not start with the sidecar Roles' prefix, so it never meets the RoleBinding of a Deployment in
  ``default``.

Every derived name is injective (:func:`spot_common.contract.bounded_name`): a literal name is
shorter than 253 characters, a shortened one exactly 253 with a hash of the whole name.
The admission policy ``spot-failover-webhook-rbac`` (deploy/) checks every RBAC write the
webhook makes against the shapes built here, so a change here needs the same change there.

Lease, Role and RoleBinding carry an ownerReference to their Deployment, so Kubernetes' garbage
collector removes them with it even if the webhook is down; a cluster-scoped binding cannot be
owned by a namespaced object, so the controller removes ClusterRoleBindings itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from spot_common import contract
from webhook.core.owners import DeploymentFacts

NODES_CLUSTER_ROLE: Final = "spot-failover-sidecar-nodes"
"""The shared ClusterRole shipped in deploy/ (``contract.SIDECAR_NODE_RULES``)."""
NODE_EVENTS_CLUSTER_ROLE: Final = "spot-failover-sidecar-node-events"
"""The shared ClusterRole shipped in deploy/ (``contract.SIDECAR_NODE_EVENT_RULES``), bound only
in ``contract.NODE_EVENTS_NAMESPACE``."""

ROLE_PREFIX: Final = "spot-failover-sidecar-"
NODE_BINDING_PREFIX: Final = "spot-failover-sidecar-nodes."
NODE_EVENTS_BINDING_PREFIX: Final = "spot-failover-node-events."
COMPONENT_LABEL: Final = "app.kubernetes.io/component"
COMPONENT_VALUE: Final = "sidecar-rbac"
NAMESPACE_LABEL: Final = contract.PREFIX + "namespace"
"""On ClusterRoleBindings: the namespace of the bound ServiceAccount (for listing by scope)."""
DEPLOYMENT_ANNOTATION: Final = contract.PREFIX + "deployment"
SERVICE_ACCOUNT_ANNOTATION: Final = contract.PREFIX + "service-account"

MANAGED_SELECTOR: Final = (
    f"{contract.MANAGED_BY_LABEL}={contract.MANAGED_BY_VALUE},{COMPONENT_LABEL}={COMPONENT_VALUE}"
)
"""Label selector of every object this module describes."""

RBAC_GROUP: Final = "rbac.authorization.k8s.io"
_RBAC_GROUP: Final = RBAC_GROUP

Account = tuple[str, str]
"""(namespace, ServiceAccount name)."""


bounded_name = contract.bounded_name


def role_name(deployment: str) -> str:
    return bounded_name(ROLE_PREFIX + deployment)


def node_binding_name(account: Account) -> str:
    """Namespaces have no dots, so ``<namespace>.<account>`` is unambiguous."""
    namespace, service_account = account
    return bounded_name(f"{NODE_BINDING_PREFIX}{namespace}.{service_account}")


def node_events_binding_name(account: Account) -> str:
    """Like :func:`node_binding_name`, under a prefix no sidecar Role's name starts with."""
    namespace, service_account = account
    return bounded_name(f"{NODE_EVENTS_BINDING_PREFIX}{namespace}.{service_account}")


def _labels() -> dict[str, str]:
    return {contract.MANAGED_BY_LABEL: contract.MANAGED_BY_VALUE, COMPONENT_LABEL: COMPONENT_VALUE}


def _metadata(deployment: DeploymentFacts, name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or role_name(deployment.name),
        "namespace": deployment.namespace,
        "labels": _labels(),
        "annotations": {DEPLOYMENT_ANNOTATION: deployment.name},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": deployment.name,
                "uid": deployment.uid,
            }
        ],
    }


def lease(deployment: DeploymentFacts) -> dict[str, Any]:
    """The Deployment's Lease as provisioned: no holder (the sidecars take it)."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": _metadata(deployment, contract.lease_name(deployment.name)),
        "spec": {},
    }


def role(deployment: DeploymentFacts) -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC_GROUP}/v1",
        "kind": "Role",
        "metadata": _metadata(deployment),
        "rules": contract.sidecar_role_rules(deployment.name),
    }


def role_binding(deployment: DeploymentFacts) -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC_GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(deployment),
        "roleRef": {"apiGroup": _RBAC_GROUP, "kind": "Role", "name": role_name(deployment.name)},
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": deployment.service_account,
                "namespace": deployment.namespace,
            }
        ],
    }


def node_binding(account: Account) -> dict[str, Any]:
    namespace, service_account = account
    return {
        "apiVersion": f"{_RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": node_binding_name(account),
            "labels": {**_labels(), NAMESPACE_LABEL: namespace},
            "annotations": {SERVICE_ACCOUNT_ANNOTATION: f"{namespace}/{service_account}"},
        },
        "roleRef": {"apiGroup": _RBAC_GROUP, "kind": "ClusterRole", "name": NODES_CLUSTER_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


def node_events_binding(account: Account) -> dict[str, Any]:
    """The RoleBinding, in ``default``, that lets the account's sidecars read Node Events."""
    namespace, service_account = account
    return {
        "apiVersion": f"{_RBAC_GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": node_events_binding_name(account),
            "namespace": contract.NODE_EVENTS_NAMESPACE,
            "labels": {**_labels(), NAMESPACE_LABEL: namespace},
            "annotations": {SERVICE_ACCOUNT_ANNOTATION: f"{namespace}/{service_account}"},
        },
        "roleRef": {
            "apiGroup": _RBAC_GROUP,
            "kind": "ClusterRole",
            "name": NODE_EVENTS_CLUSTER_ROLE,
        },
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


def account_bindings(account: Account) -> list[dict[str, Any]]:
    """What one ServiceAccount of opted-in Deployments needs beside their Roles: the nodes
    ClusterRoleBinding and the node Events RoleBinding."""
    return [node_binding(account), node_events_binding(account)]


def is_node_events_binding(binding: Mapping[str, Any]) -> bool:
    """Whether a managed RoleBinding is an account's node Events binding (not a Deployment's)."""
    meta = binding.get("metadata")
    ref = binding.get("roleRef")
    return (
        isinstance(meta, Mapping)
        and meta.get("namespace") == contract.NODE_EVENTS_NAMESPACE
        and isinstance(ref, Mapping)
        and ref.get("kind") == "ClusterRole"
        and ref.get("name") == NODE_EVENTS_CLUSTER_ROLE
    )


def wants_rbac(deployment: DeploymentFacts, excluded_namespaces: frozenset[str]) -> bool:
    """Opted in, not being deleted, and in a namespace whose pods get the sidecar at all."""
    return deployment.opted_in and deployment.namespace not in excluded_namespaces


def wanted_accounts(
    deployments: Iterable[DeploymentFacts], excluded_namespaces: frozenset[str]
) -> set[Account]:
    """The ServiceAccounts that need the nodes binding: those of opted-in Deployments."""
    return {
        (d.namespace, d.service_account) for d in deployments if wants_rbac(d, excluded_namespaces)
    }


def fingerprint(manifests: Iterable[Mapping[str, Any]]) -> str:
    """A stable digest of desired manifests, to skip re-applying what was applied already."""
    text = json.dumps(list(manifests), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def account_of_binding(binding: Mapping[str, Any]) -> Account | None:
    """The ServiceAccount a managed ClusterRoleBinding is for, from its subjects."""
    subjects = binding.get("subjects")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        return None
    subject = subjects[0]
    namespace, name = subject.get("namespace"), subject.get("name")
    if subject.get("kind") != "ServiceAccount" or not namespace or not name:
        return None
    return str(namespace), str(name)


def deployment_of_role(role_object: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, Deployment) a managed Role is for, from its metadata."""
    meta = role_object.get("metadata")
    if not isinstance(meta, Mapping):
        return None
    annotations = meta.get("annotations")
    name = annotations.get(DEPLOYMENT_ANNOTATION) if isinstance(annotations, Mapping) else None
    namespace = meta.get("namespace")
    if not name or not namespace:
        return None
    return str(namespace), str(name)
