"""Least privilege for the sidecar, on the real API server with real pod-bound tokens.

The RBAC controller provisions a Role and RoleBinding per opted-in Deployment, and per account a
nodes ClusterRoleBinding and a node Events RoleBinding in ``default``, and removes them again;
with those rights, a token bound to one of the Deployment's pods can do what a failover does to
its own Deployment (the sidecar's own ``to_fargate`` and ``restore.merge`` are replayed), read the
Events about Nodes, and nothing else: RBAC refuses other Deployments, the shipped
ValidatingAdmissionPolicy refuses other fields (each such attack is one attempt of the list in
devtools/security/attempts.py, made in tests/webhook/test_escalation.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from devtools.controlplane import audit
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, exists
from devtools.controlplane.tokens import pod_bound_token
from devtools.controlplane.waiting import wait_for
from devtools.scenario import deployment
from devtools.security.identities import api_for, service_account_token
from sidecar.core import node_events, restore
from sidecar.core.fargate import to_fargate
from spot_common import contract
from webhook.core import rbac
from webhook.core.owners import DeploymentFacts

from .conftest import WEBHOOK_ACCOUNT
from .harness import RunningWebhook

pytestmark = pytest.mark.cluster

FARGATE_LABELS = {"spot-failover/fargate": "true"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def opted_in(name: str, account: str, replicas: int = 1) -> dict[str, Any]:
    body = deployment(name, replicas=replicas)
    body["metadata"]["annotations"] = {contract.ENABLED: "true"}
    body["spec"]["template"]["spec"]["serviceAccountName"] = account
    return body


class Provisioned:
    """What the controller should have made for one Deployment."""

    def __init__(self, kube: Kube, namespace: str, name: str, account: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.role = rbac.role_name(name)
        self.binding = rbac.node_binding_name((namespace, account))
        self.events_binding = rbac.node_events_binding_name((namespace, account))

    def role_exists(self) -> bool:
        return exists(lambda: self.kube.rbac.read_namespaced_role(self.role, self.namespace))

    def role_binding_exists(self) -> bool:
        return exists(
            lambda: self.kube.rbac.read_namespaced_role_binding(self.role, self.namespace)
        )

    def node_binding_exists(self) -> bool:
        return exists(lambda: self.kube.rbac.read_cluster_role_binding(self.binding))

    def node_events_binding_exists(self) -> bool:
        return exists(
            lambda: self.kube.rbac.read_namespaced_role_binding(
                self.events_binding, contract.NODE_EVENTS_NAMESPACE
            )
        )

    def all(self) -> bool:
        return (
            self.role_exists()
            and self.role_binding_exists()
            and self.node_binding_exists()
            and self.node_events_binding_exists()
        )

    def none(self) -> bool:
        return not (
            self.role_exists()
            or self.role_binding_exists()
            or self.node_binding_exists()
            or self.node_events_binding_exists()
        )


@pytest.fixture
def account(kube: Kube, webhook_namespace: str) -> str:
    """A ServiceAccount of its own per test, so the per-account binding is the test's alone."""
    name = unique("sa")
    kube.core.create_namespaced_service_account(webhook_namespace, {"metadata": {"name": name}})
    return name


def test_opting_in_provisions_exactly_the_contract_rules_for_the_deployments_account(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook, account: str
) -> None:
    name = unique("opt")
    created = kube.apps.create_namespaced_deployment(webhook_namespace, opted_in(name, account))
    provisioned = Provisioned(kube, webhook_namespace, name, account)
    wait_for(provisioned.all, 20, "the Role, RoleBinding and nodes binding")

    role = kube.api.sanitize_for_serialization(
        kube.rbac.read_namespaced_role(provisioned.role, webhook_namespace)
    )
    assert role["rules"] == contract.sidecar_role_rules(name)
    assert role["metadata"]["ownerReferences"][0]["uid"] == created.metadata.uid
    binding = kube.rbac.read_namespaced_role_binding(provisioned.role, webhook_namespace)
    assert [(s.kind, s.name) for s in binding.subjects] == [("ServiceAccount", account)]
    nodes = kube.rbac.read_cluster_role_binding(provisioned.binding)
    assert nodes.role_ref.name == rbac.NODES_CLUSTER_ROLE
    assert [(s.namespace, s.name) for s in nodes.subjects] == [(webhook_namespace, account)]
    events = kube.rbac.read_namespaced_role_binding(
        provisioned.events_binding, contract.NODE_EVENTS_NAMESPACE
    )
    assert (events.role_ref.kind, events.role_ref.name) == (
        "ClusterRole",
        rbac.NODE_EVENTS_CLUSTER_ROLE,
    )
    assert [(s.namespace, s.name) for s in events.subjects] == [(webhook_namespace, account)]


def test_opting_out_removes_the_rbac(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook, account: str
) -> None:
    name = unique("out")
    kube.apps.create_namespaced_deployment(webhook_namespace, opted_in(name, account))
    provisioned = Provisioned(kube, webhook_namespace, name, account)
    wait_for(provisioned.all, 20, "the sidecar RBAC")
    kube.apps.patch_namespaced_deployment(
        name, webhook_namespace, {"metadata": {"annotations": {contract.ENABLED: "false"}}}
    )
    wait_for(provisioned.none, 20, "the sidecar RBAC to be removed")


def test_deleting_the_deployment_removes_the_rbac(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook, account: str
) -> None:
    name = unique("gone")
    kube.apps.create_namespaced_deployment(webhook_namespace, opted_in(name, account))
    provisioned = Provisioned(kube, webhook_namespace, name, account)
    wait_for(provisioned.all, 20, "the sidecar RBAC")
    kube.apps.delete_namespaced_deployment(name, webhook_namespace)
    wait_for(provisioned.none, 20, "the sidecar RBAC to be removed")


def test_the_nodes_binding_stays_while_another_deployment_of_the_account_is_opted_in(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook, account: str
) -> None:
    first, second = unique("one"), unique("two")
    for name in (first, second):
        kube.apps.create_namespaced_deployment(webhook_namespace, opted_in(name, account))
    one = Provisioned(kube, webhook_namespace, first, account)
    two = Provisioned(kube, webhook_namespace, second, account)
    wait_for(lambda: one.all() and two.all(), 20, "the sidecar RBAC of both")
    kube.apps.delete_namespaced_deployment(first, webhook_namespace)
    wait_for(lambda: not one.role_exists(), 20, "the first Deployment's Role to go")
    assert two.node_binding_exists()
    assert two.node_events_binding_exists()


# --- the sidecar's identity ---------------------------------------------------------------------


class Sidecar:
    """API access with a token bound to one pod of the Deployment, as the sidecar has it."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str, pod: str = "") -> None:
        self.api = api
        self.apps = client.AppsV1Api(api)
        self.leases = client.CoordinationV1Api(api)
        self.namespace = namespace
        self.name = name
        self.pod = pod

    def read(self, name: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = self.api.sanitize_for_serialization(
            self.apps.read_namespaced_deployment(name or self.name, self.namespace)
        )
        return body

    def replace(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Read, change, write with the read resourceVersion; again on a conflict, as the
        sidecar does (the controller manager writes the Deployment too)."""

        def attempt() -> dict[str, Any] | None:
            body = self.read()
            change(body)
            try:
                written = self.apps.replace_namespaced_deployment(self.name, self.namespace, body)
            except ApiException as error:
                if error.status == 409:
                    return None
                raise
            result: dict[str, Any] = self.api.sanitize_for_serialization(written)
            return result

        return wait_for(attempt, 10, "a write without a conflict", interval_s=0.05)

    def patch(self, body: dict[str, Any], name: str | None = None, dry_run: bool = False) -> None:
        self.apps.patch_namespaced_deployment(
            name or self.name, self.namespace, body, dry_run="All" if dry_run else None
        )


@pytest.fixture
def sidecar(
    cluster: LocalCluster,
    kube: Kube,
    webhook_namespace: str,
    running_webhook: RunningWebhook,
    *,
    account: str,
    tmp_path: Path,
) -> Iterator[Sidecar]:
    name = unique("own")
    kube.apps.create_namespaced_deployment(webhook_namespace, opted_in(name, account))
    wait_for(Provisioned(kube, webhook_namespace, name, account).all, 20, "the sidecar RBAC")

    def a_pod() -> str | None:
        pods = kube.core.list_namespaced_pod(webhook_namespace, label_selector=f"app={name}")
        return pods.items[0].metadata.name if pods.items else None

    pod = wait_for(a_pod, 30, f"a pod of {name}")
    token = pod_bound_token(kube.api, webhook_namespace, account, pod)
    kubeconfig = cluster.kubeconfig_for_token(token, tmp_path / "sidecar-kubeconfig")
    api = api_for(kubeconfig)
    yield Sidecar(api, webhook_namespace, name, pod)
    api.close()


def test_the_sidecar_identity_can_move_its_own_deployment_to_fargate_and_back(
    sidecar: Sidecar,
) -> None:
    saved: list[Any] = []

    def move(body: dict[str, Any]) -> None:
        template, scheduling = to_fargate(body["spec"]["template"], FARGATE_LABELS, "profile-a")
        saved[:] = [scheduling]
        body["spec"]["template"] = template
        body["metadata"]["annotations"][contract.STATE] = str(contract.State.MIGRATING)
        body["metadata"]["annotations"][contract.SAVED_SCHEDULING] = "{}"

    def move_back(body: dict[str, Any]) -> None:
        restored = restore.merge(body["spec"]["template"], saved[0], add_ec2_annotation=True)
        body["spec"]["template"] = restored.template
        body["metadata"]["annotations"][contract.STATE] = str(contract.State.WATCHING)

    moved = sidecar.replace(move)
    assert moved["spec"]["template"]["metadata"]["labels"]["spot-failover/fargate"] == "true"
    back = sidecar.replace(move_back)
    assert "spot-failover/fargate" not in back["spec"]["template"]["metadata"]["labels"]
    sidecar.patch({"spec": {"template": {"spec": {"nodeSelector": {"pool": "spot"}}}}})


def test_the_sidecar_identity_can_hold_and_release_its_deployments_provisioned_lease(
    sidecar: Sidecar,
) -> None:
    name = contract.lease_name(sidecar.name)
    current = sidecar.leases.read_namespaced_lease(name, sidecar.namespace)
    assert not current.spec.holder_identity  # provisioned without a holder
    current.spec.holder_identity = sidecar.pod
    current.spec.lease_duration_seconds = 15
    taken = sidecar.leases.replace_namespaced_lease(name, sidecar.namespace, current)
    taken.spec.holder_identity = ""
    sidecar.leases.replace_namespaced_lease(name, sidecar.namespace, taken)
    with pytest.raises(ApiException) as refused:
        sidecar.leases.read_namespaced_lease("someone-elses-lease", sidecar.namespace)
    assert refused.value.status == 403


Rule = tuple[str, str, str, str]
"""(API group, resource, resource name, verb), one of each."""


def rules_in(api: client.ApiClient, namespace: str) -> set[Rule]:
    """What the API server says the identity of ``api`` may do in ``namespace``."""
    review = client.AuthorizationV1Api(api).create_self_subject_rules_review(
        {"spec": {"namespace": namespace}}
    )
    return {
        (group, resource, name, verb)
        for rule in review.status.resource_rules
        for group in rule.api_groups or [""]
        for resource in rule.resources or []
        for name in rule.resource_names or [""]
        for verb in rule.verbs
    }


def as_rules(rules: list[dict[str, object]]) -> set[Rule]:
    """The contract's rules in the same form."""
    return {
        (group, resource, name, verb)
        for rule in rules
        for group in rule["apiGroups"]  # type: ignore[attr-defined]
        for resource in rule["resources"]  # type: ignore[attr-defined]
        for name in rule.get("resourceNames") or [""]  # type: ignore[attr-defined]
        for verb in rule["verbs"]  # type: ignore[attr-defined]
    }


@pytest.fixture
def bare(
    cluster: LocalCluster, kube: Kube, webhook_namespace: str, tmp_path: Path
) -> Iterator[client.ApiClient]:
    """A token of an account nothing of spot-failover binds: what every identity may do."""
    name = unique("bare")
    kube.core.create_namespaced_service_account(webhook_namespace, {"metadata": {"name": name}})
    token = service_account_token(kube.core, webhook_namespace, name)
    api = api_for(cluster.kubeconfig_for_token(token, tmp_path / "bare-kubeconfig"))
    yield api
    api.close()


def test_the_sidecar_identity_reads_node_events_in_default_and_nothing_more_than_before(
    kube: Kube, sidecar: Sidecar, bare: client.ApiClient
) -> None:
    node = "spot-0"
    uid = kube.core.read_node(node).metadata.uid
    recorded = kube.core.create_namespaced_event(
        contract.NODE_EVENTS_NAMESPACE,
        {
            "metadata": {"generateName": f"{node}."},
            "involvedObject": {"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid},
            "type": "Warning",
            "reason": "SpotInterrupted",
            "message": "Spot interruption warning was triggered",
            "source": {"component": "karpenter"},
        },
    )
    try:
        events = client.CoreV1Api(sidecar.api).list_namespaced_event(
            contract.NODE_EVENTS_NAMESPACE, field_selector=node_events.field_selector(node)
        )
    finally:
        kube.core.delete_namespaced_event(recorded.metadata.name, contract.NODE_EVENTS_NAMESPACE)
    assert recorded.metadata.name in {e.metadata.name for e in events.items}

    # In default: reading Nodes (cluster-wide, as before) and now listing and watching Events.
    nodes, node_events_rules = (
        as_rules(contract.SIDECAR_NODE_RULES),
        as_rules(contract.SIDECAR_NODE_EVENT_RULES),
    )
    assert node_events_rules == {("", "events", "", "list"), ("", "events", "", "watch")}
    everyone = rules_in(bare, contract.NODE_EVENTS_NAMESPACE)
    assert rules_in(sidecar.api, contract.NODE_EVENTS_NAMESPACE) - everyone == (
        nodes | node_events_rules
    )
    # In its own namespace, exactly as before: no reading of Events there.
    own = rules_in(sidecar.api, sidecar.namespace) - rules_in(bare, sidecar.namespace)
    assert own == as_rules(contract.sidecar_role_rules(sidecar.name)) | nodes
    assert ("", "events", "", "list") not in own


def test_the_webhook_never_wrote_to_a_deployment(
    cluster: LocalCluster, webhook_namespace: str, running_webhook: RunningWebhook
) -> None:
    """Not even kopf's bookkeeping annotations: the audit log has no successful write."""
    user = f"system:serviceaccount:{webhook_namespace}:{WEBHOOK_ACCOUNT}"
    writes = [
        request
        for request in audit.read(cluster.audit_log)
        if request.user == user
        and "/deployments" in request.uri
        and request.verb in {"create", "update", "patch", "delete"}
        and request.code < 400
    ]
    assert writes == []


def test_the_resync_removes_rbac_left_behind_while_the_webhook_was_not_watching(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook, account: str
) -> None:
    """E.g. a Deployment opted out while the webhook was down: nothing tells the controller,
    the periodic resync finds the managed objects and removes them after checking the API."""
    name = unique("stale")
    body = deployment(name, replicas=0)
    body["spec"]["template"]["spec"]["serviceAccountName"] = account
    created = kube.apps.create_namespaced_deployment(webhook_namespace, body)
    facts = DeploymentFacts(webhook_namespace, name, created.metadata.uid, account, {})
    kube.apply(
        [
            rbac.role(facts),
            rbac.role_binding(facts),
            rbac.node_binding((webhook_namespace, account)),
        ]
    )
    # Applied (apply raises otherwise); not read back: the resync runs every second and may
    # already have removed them.
    provisioned = Provisioned(kube, webhook_namespace, name, account)
    wait_for(provisioned.none, 20, "the resync to remove the stale RBAC")
