"""The certificate Job's identity on a local cluster, with exactly the rights deploy/certgen gives.

Its ServiceAccount, Role and bindings are re-homed into a namespace of the caller's; the
ClusterRole, the admission policy spot-failover-certgen-cabundle-only and the webhook
configuration it writes (the shipped one, under its shipped name, matching no namespace so that
it affects nothing) are cluster-scoped under their shipped names: one such identity at a time
per cluster.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from kubernetes import client

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.security.identities import api_for_token, service_account_token
from devtools.webhook_manifests import shipped

ACCOUNT: Final = "spot-failover-webhook-certgen"
NEVER: Final = {"matchLabels": {"spot-failover.test/never": "true"}}
"""A namespace selector no namespace matches."""


def manifests(namespace: str) -> list[dict[str, Any]]:
    """deploy/certgen's RBAC and policy, and the shipped webhook configuration, for
    ``namespace``."""
    objects = copy.deepcopy([*shipped("certgen/rbac.yaml"), *shipped("certgen/policy.yaml")])
    for obj in objects:
        if obj["kind"] in {"ServiceAccount", "Role", "RoleBinding"}:
            obj["metadata"]["namespace"] = namespace
        for subject in obj.get("subjects", ()):
            subject["namespace"] = namespace
    (configuration,) = copy.deepcopy(shipped("base/mutatingwebhookconfiguration.yaml"))
    for hook in configuration["webhooks"]:
        hook["clientConfig"]["service"]["namespace"] = namespace
        hook["namespaceSelector"] = NEVER
    return [*objects, configuration]


@contextlib.contextmanager
def certgen_identity(
    cluster: LocalCluster, kube: Kube, namespace: str, directory: Path
) -> Iterator[client.ApiClient]:
    """An API client of the certificate Job's ServiceAccount in ``namespace`` (which must
    exist); the cluster-scoped objects are deleted on exit."""
    objects = manifests(namespace)
    kube.apply(objects)
    token = service_account_token(kube.core, namespace, ACCOUNT, expiration_s=3600)
    api = api_for_token(cluster, token, directory)
    try:
        yield api
    finally:
        api.close()
        for obj in objects:
            if "namespace" not in obj["metadata"]:
                resource = kube.dynamic.resources.get(
                    api_version=obj["apiVersion"], kind=obj["kind"]
                )
                resource.delete(name=obj["metadata"]["name"])
