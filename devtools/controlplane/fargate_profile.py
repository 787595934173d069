"""TEST-ONLY stand-in for EKS's Fargate-profile rule.

On EKS, a pod runs on Fargate when, at creation, it matches a Fargate profile (a namespace plus
labels); EKS's own mutating webhook then hands it to the Fargate scheduler. Nothing plays that
webhook on the local cluster, so this module installs a MutatingAdmissionPolicy (named
``test-only-fargate-profile-<name>``) that applies the same rule: a pod created in the profile's
namespace whose labels include all of the profile's labels gets a nodeSelector and a toleration
for the fake Fargate nodes (``eks.amazonaws.com/compute-type=fargate``). Everything else about
scheduling stays the real kube-scheduler's business.

It exists only on the local cluster and is never part of deploy/.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from devtools.controlplane.nodes import FARGATE_KEY

POLICY_API = "admissionregistration.k8s.io/v1"


@dataclasses.dataclass(frozen=True)
class FargateProfile:
    """An EKS Fargate profile with one selector: a namespace and labels that must all match."""

    name: str
    namespace: str
    labels: Mapping[str, str]


def _match_expression(labels: Mapping[str, str]) -> str:
    terms = ["has(object.metadata.labels)"]
    for key, value in sorted(labels.items()):
        k, v = json.dumps(key), json.dumps(value)
        terms.append(f"({k} in object.metadata.labels && object.metadata.labels[{k}] == {v})")
    return " && ".join(terms)


def manifests(profile: FargateProfile) -> list[dict[str, Any]]:
    """The MutatingAdmissionPolicy and its binding that stand in for ``profile``."""
    name = f"test-only-fargate-profile-{profile.name}"
    key = json.dumps(FARGATE_KEY)
    toleration = (
        f'Object.spec.tolerations{{key: {key}, operator: "Equal", value: "fargate", '
        'effect: "NoSchedule"}'
    )
    # JSON patches, because nodeSelector and tolerations are atomic for apply configurations.
    patches = (
        "["
        "has(object.spec.nodeSelector) ? "
        f'JSONPatch{{op: "add", path: "/spec/nodeSelector/" + jsonpatch.escapeKey({key}), '
        'value: "fargate"} : '
        f'JSONPatch{{op: "add", path: "/spec/nodeSelector", value: {{{key}: "fargate"}}}}, '
        "has(object.spec.tolerations) ? "
        f'JSONPatch{{op: "add", path: "/spec/tolerations/-", value: {toleration}}} : '
        f'JSONPatch{{op: "add", path: "/spec/tolerations", value: [{toleration}]}}'
        "]"
    )
    policy = {
        "apiVersion": POLICY_API,
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": name, "labels": {"test-only": "fargate-profile-stand-in"}},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ]
            },
            "matchConditions": [
                {"name": "matches-profile-labels", "expression": _match_expression(profile.labels)}
            ],
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": patches}}],
        },
    }
    binding = {
        "apiVersion": POLICY_API,
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": {"test-only": "fargate-profile-stand-in"}},
        "spec": {
            "policyName": name,
            "matchResources": {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": profile.namespace}
                }
            },
        },
    }
    return [policy, binding]


def probe_pod(profile: FargateProfile) -> dict[str, Any]:
    """A pod that the profile selects, for a server-side dry run."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "fargate-probe-", "labels": dict(profile.labels)},
        "spec": {"containers": [{"name": "probe", "image": "registry.example/probe:1"}]},
    }


def is_effective(pod: Mapping[str, Any]) -> bool:
    """Whether a dry-run-created ``probe_pod`` came back with the Fargate nodeSelector."""
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    return bool(selector.get(FARGATE_KEY) == "fargate")
