"""Keeps each opted-in Deployment's sidecar RBAC in place, and removes it when it is not wanted.

Level-based: every Deployment event (including the initial listing kopf delivers at start-up)
is compared with what should exist (:mod:`webhook.core.rbac`), and what differs is applied with
server-side apply. The webhook never writes to users' Deployments: the kopf handlers are
``on.event`` handlers, which keep no progress annotations and add no finalizers.

Events are authoritative: each carries the Deployment as it is now. Decisions that rest on
the cache alone (the resync, the shared per-account bindings) **confirm against the API server
before deleting** (a missing Deployment, or one read fresh that is not opted in), because the
cache may still be filling after a restart. Removal on delete does not depend on the webhook at
all for Roles and RoleBindings (ownerReferences); ClusterRoleBindings are removed here.

A periodic :meth:`RbacController.resync` repairs whatever an API error, an outage of the
webhook or a hand left behind: objects missing (also those deleted out of band, which no
Deployment event reports) are applied again, and managed objects whose Deployment opted out or
disappeared meanwhile are deleted.

Each Deployment's Lease is created here too, before its Role (so a sidecar that can act finds
it), and never overwritten: its holder belongs to the sidecars. Per ServiceAccount of opted-in
Deployments, two bindings: the nodes ClusterRoleBinding and the node Events RoleBinding in
``default`` (:func:`webhook.core.rbac.account_bindings`), applied and removed together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from spot_common import contract
from spot_common.api_errors import ApiError, NotFound
from webhook.adapters.kube import WRITE_TIMEOUT_S, Kube
from webhook.core import rbac
from webhook.core.owners import DeploymentFacts, Key, OwnerCache, deployment_facts
from webhook.metrics import Metrics

log = logging.getLogger(__name__)


class RbacController:
    def __init__(
        self, kube: Kube, cache: OwnerCache, excluded_namespaces: frozenset[str], metrics: Metrics
    ) -> None:
        self.kube = kube
        self.cache = cache
        self.excluded = excluded_namespaces
        self.metrics = metrics
        self._applied: dict[Key, str] = {}
        """Deployment -> fingerprint of the Role and RoleBinding this process applied."""
        self._bound: set[rbac.Account] = set()
        """ServiceAccounts whose nodes binding this process applied."""
        self._accounts = asyncio.Lock()
        """Serialises decisions about the shared per-account bindings."""

    def _wants(self, deployment: DeploymentFacts) -> bool:
        return rbac.wants_rbac(deployment, self.excluded)

    async def on_deployment(
        self, event_type: str | None, before: DeploymentFacts | None, after: DeploymentFacts
    ) -> None:
        """React to one Deployment event. Never raises: failures are logged, counted, and
        repaired by the next resync."""
        try:
            await self._on_deployment(event_type, before, after)
        except ApiError as error:
            self.metrics.errors.labels("rbac").inc()
            log.warning(
                "sidecar RBAC not reconciled; the next resync retries",
                extra={"namespace": after.namespace, "deployment": after.name, "error": str(error)},
            )

    async def _on_deployment(
        self, event_type: str | None, before: DeploymentFacts | None, after: DeploymentFacts
    ) -> None:
        key = (after.namespace, after.name)
        if event_type != "DELETED" and self._wants(after):
            await self._ensure(after)
            if before is not None and before.service_account != after.service_account:
                await self._release((before.namespace, before.service_account))
            return
        was_ours = key in self._applied or (before is not None and self._wants(before))
        if not was_ours:
            return
        # The event is the Deployment as it is now: no need to confirm before deleting.
        await self._remove(after.namespace, after.name)
        await self._release((after.namespace, (before or after).service_account))

    async def _ensure(self, deployment: DeploymentFacts) -> None:
        manifests = [rbac.role(deployment), rbac.role_binding(deployment)]
        key = (deployment.namespace, deployment.name)
        digest = rbac.fingerprint(manifests)
        if self._applied.get(key) != digest:
            if await asyncio.to_thread(self.kube.create_lease, rbac.lease(deployment)):
                self.metrics.rbac_changes.labels("Lease", "create").inc()
            for manifest in manifests:  # the Role first: binding it is checked against its rules
                await asyncio.to_thread(self.kube.apply, manifest)
                self.metrics.rbac_changes.labels(manifest["kind"], "apply").inc()
            self._applied[key] = digest
            log.info(
                "sidecar RBAC applied",
                extra={
                    "namespace": deployment.namespace,
                    "deployment": deployment.name,
                    "service_account": deployment.service_account,
                },
            )
        account = (deployment.namespace, deployment.service_account)
        if account not in self._bound:
            for binding in rbac.account_bindings(account):
                await asyncio.to_thread(self.kube.apply, binding)
                self.metrics.rbac_changes.labels(binding["kind"], "apply").inc()
            self._bound.add(account)

    async def _remove(self, namespace: str, deployment: str) -> None:
        name = rbac.role_name(deployment)
        for kind in ("RoleBinding", "Role"):
            if await asyncio.to_thread(self.kube.delete, kind, name, namespace):
                self.metrics.rbac_changes.labels(kind, "delete").inc()
        self._applied.pop((namespace, deployment), None)
        log.info("sidecar RBAC removed", extra={"namespace": namespace, "deployment": deployment})

    async def _confirm_unwanted(self, namespace: str, deployment: str) -> bool:
        """Read the Deployment fresh: True if it is gone or does not want RBAC."""
        try:
            body = await asyncio.to_thread(
                self.kube.read_deployment, namespace, deployment, WRITE_TIMEOUT_S
            )
        except NotFound:
            return True
        return not self._wants(deployment_facts(body))

    async def _release(self, account: rbac.Account) -> None:
        """Delete an account's nodes and node Events bindings if no opted-in Deployment uses
        the account."""
        async with self._accounts:
            if account in rbac.wanted_accounts(self.cache.deployments(), self.excluded):
                return
            namespace = account[0]
            fresh = await asyncio.to_thread(self.kube.list_deployments, namespace)
            if account in rbac.wanted_accounts(map(deployment_facts, fresh), self.excluded):
                return
            for binding in rbac.account_bindings(account):
                kind, meta = binding["kind"], binding["metadata"]
                if await asyncio.to_thread(
                    self.kube.delete, kind, meta["name"], meta.get("namespace")
                ):
                    self.metrics.rbac_changes.labels(kind, "delete").inc()
                    log.info(
                        "sidecar account binding removed",
                        extra={"namespace": namespace, "service_account": account[1], "kind": kind},
                    )
            self._bound.discard(account)

    # --- periodic repair ------------------------------------------------------------------------

    async def resync(self) -> None:
        """Apply what is missing, delete what is no longer wanted. Never raises ApiError."""
        try:
            await self._forget_missing()
        except ApiError as error:
            self.metrics.errors.labels("rbac").inc()
            log.warning("sidecar RBAC not listed; applying all again", extra={"error": str(error)})
            self._applied.clear()
            self._bound.clear()
        for deployment in self.cache.deployments():
            if self._wants(deployment):
                await self.on_deployment(None, None, deployment)
        try:
            await self._collect_roles()
            await self._collect_bindings()
        except ApiError as error:
            self.metrics.errors.labels("rbac").inc()
            log.warning("sidecar RBAC resync incomplete", extra={"error": str(error)})

    async def _forget_missing(self) -> None:
        """Forget having applied what is gone now, so the next ensure applies it again."""

        def present(kind: str) -> set[tuple[str, str]]:
            found = self.kube.list_managed(kind, rbac.MANAGED_SELECTOR)
            return {_namespaced_name(item) for item in found}

        leases, roles, bindings, nodes = [
            await asyncio.to_thread(present, kind)
            for kind in ("Lease", "Role", "RoleBinding", "ClusterRoleBinding")
        ]
        for namespace, deployment in list(self._applied):
            role = (namespace, rbac.role_name(deployment))
            lease = (namespace, contract.lease_name(deployment))
            if role not in roles or role not in bindings or lease not in leases:
                del self._applied[(namespace, deployment)]
        for account in list(self._bound):
            events = (contract.NODE_EVENTS_NAMESPACE, rbac.node_events_binding_name(account))
            if ("", rbac.node_binding_name(account)) not in nodes or events not in bindings:
                self._bound.discard(account)

    async def _collect_roles(self) -> None:
        roles = await asyncio.to_thread(self.kube.list_managed, "Role", rbac.MANAGED_SELECTOR)
        for owner in _role_owners(roles):
            namespace, deployment = owner
            if not self.cache.watches(namespace):
                continue
            cached = self.cache.deployment(namespace, deployment)
            if cached is not None and self._wants(cached):
                continue
            if await self._confirm_unwanted(namespace, deployment):
                await self._remove(namespace, deployment)

    async def _collect_bindings(self) -> None:
        bindings = await asyncio.to_thread(
            self.kube.list_managed, "ClusterRoleBinding", rbac.MANAGED_SELECTOR
        )
        role_bindings = await asyncio.to_thread(
            self.kube.list_managed, "RoleBinding", rbac.MANAGED_SELECTOR
        )
        accounts = {
            account
            for binding in [*bindings, *filter(rbac.is_node_events_binding, role_bindings)]
            if (account := rbac.account_of_binding(binding)) is not None
        }
        for account in sorted(accounts):
            if self.cache.watches(account[0]):
                await self._release(account)


def _namespaced_name(item: dict[str, object]) -> tuple[str, str]:
    meta = item.get("metadata")
    if not isinstance(meta, dict):
        return ("", "")
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _role_owners(roles: Iterable[dict[str, object]]) -> list[tuple[str, str]]:
    return [owner for owner in map(rbac.deployment_of_role, roles) if owner is not None]
