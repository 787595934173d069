"""AdmissionReviews as the API server sends them when a ReplicaSet creates a pod (pure).

The benchmark posts reviews straight to the webhook, so they must look like the real thing: the
pod comes from the API server itself (a pod of a Deployment that is not opted in, which the
webhook left alone), turned back into what admission saw — built-in admission plugins have
already run (defaults, the ServiceAccount token volume, tolerations), the name is not generated
yet, no uid, no status, no node. A pod of another ReplicaSet is the same pod with that
ReplicaSet's labels, ownerReference and name prefix.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from benchmarks.admission_load import UID_PLACEHOLDER

SERVER_SET: Final = (
    "name",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
REPLICASET_CONTROLLER: Final = "system:serviceaccount:kube-system:replicaset-controller"


def as_admitted(pod: Mapping[str, Any]) -> dict[str, Any]:
    """A created pod as the mutating webhooks saw it, before storage and scheduling."""
    admitted = copy.deepcopy(dict(pod))
    for key in SERVER_SET:
        admitted["metadata"].pop(key, None)
    admitted.pop("status", None)
    admitted["spec"].pop("nodeName", None)
    return admitted


def as_pod_of(pod: Mapping[str, Any], replicaset: Mapping[str, Any]) -> dict[str, Any]:
    """``pod`` as ``replicaset`` would create it: its template's labels, its owner, its prefix."""
    result = copy.deepcopy(dict(pod))
    meta = result["metadata"]
    template = replicaset["spec"]["template"]["metadata"]
    name = replicaset["metadata"]["name"]
    meta["generateName"] = f"{name}-"
    meta["labels"] = dict(template.get("labels") or {})
    meta["annotations"] = dict(template.get("annotations") or {})
    meta["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": name,
            "uid": replicaset["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return result


def review(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The AdmissionReview of creating ``pod``, with :data:`UID_PLACEHOLDER` as its uid."""
    namespace = pod["metadata"]["namespace"]
    pods = {"group": "", "version": "v1", "resource": "pods"}
    kind = {"group": "", "version": "v1", "kind": "Pod"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": UID_PLACEHOLDER,
            "kind": kind,
            "resource": pods,
            "requestKind": kind,
            "requestResource": pods,
            "name": "",
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {
                "username": REPLICASET_CONTROLLER,
                "uid": "00000000-0000-0000-0000-00000000c0de",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system"],
            },
            "object": dict(pod),
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }
