"""Every identity of spot-failover, set up on a local cluster as an attacker would find it.

One fresh namespace, watched by the real webhook process with its shipped identity, RBAC and
admission policies (:class:`devtools.local_webhook.LocalWebhook`), and the certificate Job's
identity (:mod:`devtools.security.certgen`). In it, opted-in Deployments whose sidecar RBAC and
Lease the webhook provisioned:

* ``web`` and ``web-b``, under one ServiceAccount ``shared`` (so RBAC alone lets each use the
  other's rights; ``web`` is a prefix of ``web-b``, so the pods of ``web-b`` are named like
  ``web``'s would be, but for the hash): **the sidecar**, a token bound to a pod of ``web-b``;
* ``leaving`` (account ``leaving``), opted out after the webhook was stopped, so its RBAC
  lingers: **the sidecar after an opt-out**, a token bound to its pod;
* ``moved`` (account ``before``), moved to account ``after`` after the webhook was stopped
  (paused first, so that its pod, and the token bound to it, stay): **the sidecar after a
  change of ServiceAccount**;
* ``not-ours``, not opted in, one pod under the account ``default``.

``web``'s move is under way (``spot-failover/state: Migrating``, written by hand once the webhook
is stopped) and ``web-b`` is settled: **the warden** (deploy/warden's account, its token
unbound, as the local warden runs) may write the one and not the other. A Lease
``team-lock`` of another team stands beside the spot-failover ones.

Beside them, objects of other teams: a RoleBinding ``team-nodes`` of the shared nodes
ClusterRole, a Role ``some-other-role``, and a sidecar-shaped Role for a Deployment that does
not exist (``unbound``), not labelled as ours, so that binding it can only be refused by
admission. **The webhook** is its process's token (the process is stopped before the attempts:
the opt-out and the change of ServiceAccount happen while it is down); **the certificate Job**
is its ServiceAccount's token.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from kubernetes import client

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, exists
from devtools.controlplane.tokens import pod_bound_token
from devtools.controlplane.waiting import wait_for
from devtools.local_warden import install_identity
from devtools.local_warden import namespace as warden_namespace
from devtools.local_webhook import LocalWebhook
from devtools.scenario import deployment
from devtools.security.certgen import certgen_identity
from devtools.security.identities import api_for, api_for_token, service_account_token
from spot_common import contract
from webhook.bootstrap import Names
from webhook.core import rbac
from webhook.core.owners import DeploymentFacts

WEB: Final = "web"
WEB_B: Final = "web-b"
LEAVING: Final = "leaving"
MOVED: Final = "moved"
NOT_OURS: Final = "not-ours"
UNBOUND: Final = "unbound"
TEAM_BINDING: Final = "team-nodes"
OTHER_ROLE: Final = "some-other-role"
TEAM_LEASE: Final = "team-lock"
ACCOUNTS: Final = {WEB: "shared", WEB_B: "shared", LEAVING: "leaving", MOVED: "before"}
MOVED_TO: Final = "after"
PROVISIONED_WITHIN_S: Final = 30.0


@dataclasses.dataclass(frozen=True)
class PodIdentity:
    """A ServiceAccount token bound to one pod of ``deployment``, as its containers hold it."""

    api: client.ApiClient
    namespace: str
    deployment: str
    account: str
    pod: str


@dataclasses.dataclass(frozen=True)
class Stage:
    """The identities and the names of what they are tried on."""

    namespace: str
    webhook: client.ApiClient
    certgen: client.ApiClient
    sidecar: PodIdentity
    opted_out: PodIdentity
    moved: PodIdentity
    warden: client.ApiClient
    """deploy/warden's account (a token of its own, bound to nothing)."""
    ca_pem: bytes
    """A CA certificate (the cluster's), for a caBundle the certificate Job may write."""
    webhook_configuration: str
    """The configuration the certificate Job may write (its caBundle only)."""
    other_webhook_configuration: str
    """Another one: the configuration through which the webhook was called."""
    not_ours_pod: str


def opted_in(name: str, account: str) -> dict[str, Any]:
    body = deployment(name, replicas=1)
    body["metadata"]["annotations"] = {contract.ENABLED: "true"}
    body["spec"]["template"]["spec"]["serviceAccountName"] = account
    return body


def _provisioned(kube: Kube, namespace: str, name: str) -> bool:
    reads = (
        lambda: kube.rbac.read_namespaced_role(rbac.role_name(name), namespace),
        lambda: kube.rbac.read_namespaced_role_binding(rbac.role_name(name), namespace),
        lambda: kube.coordination.read_namespaced_lease(contract.lease_name(name), namespace),
    )
    return all(exists(read) for read in reads)


def _a_pod(kube: Kube, namespace: str, name: str) -> str:
    def found() -> str | None:
        pods = kube.core.list_namespaced_pod(namespace, label_selector=f"app={name}")
        return str(pods.items[0].metadata.name) if pods.items else None

    return wait_for(found, PROVISIONED_WITHIN_S, f"a pod of {name}")


def _other_teams_objects(kube: Kube, namespace: str) -> None:
    """Objects the webhook may not touch, though RBAC alone would let it."""
    kube.rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": TEAM_BINDING},
            "roleRef": {
                "apiGroup": rbac.RBAC_GROUP,
                "kind": "ClusterRole",
                "name": rbac.NODES_CLUSTER_ROLE,
            },
            "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": namespace}],
        },
    )
    kube.rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": OTHER_ROLE},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
        },
    )
    unbound = rbac.role(DeploymentFacts(namespace, UNBOUND, "none", "default", {}))
    for key in ("labels", "ownerReferences"):  # not ours, and not garbage to collect
        del unbound["metadata"][key]
    kube.rbac.create_namespaced_role(namespace, unbound)


@contextlib.contextmanager
def stage(cluster: LocalCluster, kube: Kube, work: Path) -> Iterator[Stage]:
    """Set everything up in a fresh namespace; remove it all on exit."""
    namespace = f"escalation-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True, exist_ok=True)
    kube.create_namespace(namespace)
    apis: list[client.ApiClient] = []
    try:
        for account in {*ACCOUNTS.values(), MOVED_TO}:
            kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": account}})
        with (
            LocalWebhook(cluster, kube, work / "webhook", namespaces={namespace}) as webhook,
            certgen_identity(cluster, kube, namespace, work) as certgen,
        ):
            for name, account in ACCOUNTS.items():
                kube.apps.create_namespaced_deployment(namespace, opted_in(name, account))
            kube.apps.create_namespaced_deployment(namespace, deployment(NOT_OURS, replicas=1))
            for name in ACCOUNTS:
                wait_for(
                    lambda n=name: _provisioned(kube, namespace, n),  # type: ignore[misc]
                    PROVISIONED_WITHIN_S,
                    f"the webhook to provision the sidecar RBAC and Lease of {name}",
                )
            pods = {name: _a_pod(kube, namespace, name) for name in (*ACCOUNTS, NOT_OURS)}
            _other_teams_objects(kube, namespace)
            webhook.stop()  # down: nothing removes the RBAC of what follows
            kube.apps.patch_namespaced_deployment(
                WEB, namespace, {"metadata": {"annotations": {contract.STATE: "Migrating"}}}
            )
            kube.coordination.create_namespaced_lease(
                namespace, {"metadata": {"name": TEAM_LEASE}, "spec": {"holderIdentity": "x"}}
            )
            install_identity(kube)
            warden_api = api_for_token(
                cluster,
                service_account_token(
                    kube.core, warden_namespace(), contract.WARDEN_SERVICE_ACCOUNT
                ),
                work,
            )
            apis.append(warden_api)
            kube.apps.patch_namespaced_deployment(
                LEAVING, namespace, {"metadata": {"annotations": {contract.ENABLED: "false"}}}
            )
            kube.apps.patch_namespaced_deployment(
                MOVED,
                namespace,
                {"spec": {"paused": True, "template": {"spec": {"serviceAccountName": MOVED_TO}}}},
            )

            def pod_identity(name: str) -> PodIdentity:
                account = ACCOUNTS[name]
                token = pod_bound_token(kube.api, namespace, account, pods[name])
                api = api_for_token(cluster, token, work)
                apis.append(api)
                return PodIdentity(api, namespace, name, account, pods[name])

            webhook_api = api_for(webhook.kubeconfig)
            apis.append(webhook_api)
            yield Stage(
                namespace=namespace,
                webhook=webhook_api,
                certgen=certgen,
                sidecar=pod_identity(WEB_B),
                opted_out=pod_identity(LEAVING),
                moved=pod_identity(MOVED),
                warden=warden_api,
                ca_pem=cluster.ca_cert.read_bytes(),
                webhook_configuration=Names().webhook_configuration,
                other_webhook_configuration=webhook.configuration_name,
                not_ours_pod=pods[NOT_OURS],
            )
    finally:
        for api in apis:
            api.close()
        kube.delete_namespace(namespace)
