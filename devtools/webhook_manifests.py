"""What deploy/ ships for the webhook, re-homed for a webhook run outside the cluster.

A local webhook (a test's thread, or a process: :mod:`devtools.local_webhook`) acts with the
shipped identity and is called through the shipped MutatingWebhookConfiguration, so that RBAC,
the admission policies and the configuration's selectors are exercised as users get them. What
changes, and only this:

* the identity's namespace (shipped: ``spot-failover``) becomes one of the caller's, so several
  local webhooks can share a cluster; the ServiceAccount keeps its shipped name, which the
  policy ``spot-failover-webhook-never-writes`` recognises;
* cluster-scoped objects that belong to one install (bindings) get that namespace in their
  name; shared definitions (ClusterRoles, ValidatingAdmissionPolicies) keep theirs;
* the configuration calls a URL with a ``caBundle`` instead of the Service, and may be limited
  to given namespaces, as may the sidecar-scope policy's binding (both would otherwise govern
  every namespace of a shared test cluster);
* what needs an image (the webhook Deployment, its Service and PodDisruptionBudget, the
  certificate Job) is left out.

Everything here is pure: documents in, documents out.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
from collections.abc import Collection
from pathlib import Path
from typing import Any, Final

import yaml

DEPLOY: Final = Path(__file__).resolve().parents[1] / "deploy"
BASE: Final = "base"
NEEDS_AN_IMAGE: Final = frozenset({"Deployment", "Service", "PodDisruptionBudget"})
CLUSTER_SCOPED: Final = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
)
SHARED_KINDS: Final = frozenset({"ClusterRole", "ValidatingAdmissionPolicy"})
"""Cluster-scoped definitions that every install uses as they are, under their shipped names."""
SIDECAR_SCOPE_POLICY: Final = "spot-failover-sidecar-scope"
NAME_LABEL: Final = "kubernetes.io/metadata.name"

Manifest = dict[str, Any]


def shipped(path: str) -> list[Manifest]:
    """The documents of a file in deploy/."""
    return [doc for doc in yaml.safe_load_all((DEPLOY / path).read_text()) if doc]


def _kustomization() -> Manifest:
    (document,) = shipped(f"{BASE}/kustomization.yaml")
    return document


def shipped_namespace() -> str:
    """The namespace deploy/ installs into (the base kustomization's ``namespace``)."""
    return str(_kustomization()["namespace"])


def base_objects() -> list[Manifest]:
    """deploy/base as kustomize renders it: its resources, namespaced and labelled."""
    kustomization = _kustomization()
    labels: dict[str, str] = {}
    for entry in kustomization.get("labels", []):
        labels.update(entry["pairs"])
    objects = []
    for resource in kustomization["resources"]:
        for doc in shipped(f"{BASE}/{resource}"):
            meta = doc.setdefault("metadata", {})
            meta["labels"] = {**(meta.get("labels") or {}), **labels}
            if doc["kind"] not in CLUSTER_SCOPED:
                meta["namespace"] = kustomization["namespace"]
            objects.append(doc)
    return objects


def shipped_env() -> dict[str, str]:
    """The ``SPOT_FAILOVER_WEBHOOK_*`` values the shipped webhook Deployment sets."""
    (deployment,) = [doc for doc in base_objects() if doc["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {item["name"]: str(item["value"]) for item in container.get("env", [])}


@dataclasses.dataclass(frozen=True)
class Identity:
    """The webhook's identity from deploy/, re-homed into ``namespace``."""

    namespace: str
    namespaces: tuple[str, ...] = ()
    """Namespaces the sidecar-scope policy is bound to; empty: all, as shipped."""

    @property
    def account(self) -> str:
        (account,) = [doc for doc in base_objects() if doc["kind"] == "ServiceAccount"]
        return str(account["metadata"]["name"])

    @property
    def username(self) -> str:
        """How the API server (and its audit log) names requests made with this identity."""
        return f"system:serviceaccount:{self.namespace}:{self.account}"

    def manifests(self) -> list[Manifest]:
        """Namespace, ServiceAccount, ClusterRoles, bindings, admission policies: in order."""
        return [
            self._rehome(doc)
            for doc in base_objects()
            if doc["kind"] not in NEEDS_AN_IMAGE and doc["kind"] != "MutatingWebhookConfiguration"
        ]

    def _rehome(self, original: Manifest) -> Manifest:
        doc = copy.deepcopy(original)
        meta = doc["metadata"]
        kind = doc["kind"]
        if kind == "Namespace":
            meta["name"] = self.namespace
        elif kind not in CLUSTER_SCOPED:
            meta["namespace"] = self.namespace
        elif kind not in SHARED_KINDS:
            meta["name"] = f"{meta['name']}.{self.namespace}"
        for subject in doc.get("subjects", []):
            if subject.get("kind") == "ServiceAccount":
                subject["namespace"] = self.namespace
        scoped = kind == "ValidatingAdmissionPolicyBinding" and self.namespaces
        if scoped and doc["spec"]["policyName"] == SIDECAR_SCOPE_POLICY:
            doc["spec"]["matchResources"] = {"namespaceSelector": _within(self.namespaces)}
        return doc


def _within(namespaces: Collection[str]) -> dict[str, Any]:
    return {
        "matchExpressions": [{"key": NAME_LABEL, "operator": "In", "values": sorted(namespaces)}]
    }


def webhook_configuration(
    name: str,
    url: str,
    ca_pem: bytes,
    *,
    namespaces: Collection[str] = (),
    identity_namespace: str | None = None,
) -> Manifest:
    """The shipped MutatingWebhookConfiguration, named ``name``, calling ``url``.

    ``namespaces``: admit only pods of these namespaces; empty: every namespace the shipped
    selector admits, with ``identity_namespace`` (if given) excluded instead of the shipped one.
    """
    (manifest,) = shipped(f"{BASE}/mutatingwebhookconfiguration.yaml")
    manifest = copy.deepcopy(manifest)
    manifest["metadata"]["name"] = name
    home = shipped_namespace()
    for hook in manifest["webhooks"]:
        hook["clientConfig"] = {"url": url, "caBundle": base64.b64encode(ca_pem).decode()}
        if namespaces:
            hook["namespaceSelector"] = _within(namespaces)
        elif identity_namespace is not None:
            for expression in hook["namespaceSelector"]["matchExpressions"]:
                expression["values"] = [
                    identity_namespace if value == home else value for value in expression["values"]
                ]
    return manifest
