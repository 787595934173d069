"""No identity of ours can be turned into more than it is for: attacks, made with that identity.

The webhook's token tries to hand its rights to others, to delete other teams' RBAC and to
write Roles it does not provision; a sidecar's pod-bound token tries to squat on a Lease, hold
it for another pod or for longer than any sidecar asks, and to use rights that linger after an
opt-out or a change of ServiceAccount. Each attempt is a dry run refused by the API server (by
RBAC, or by the admission policies shipped in deploy/), and what the controller and the sidecar
really do is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, exists
from devtools.controlplane.tokens import pod_bound_token
from devtools.controlplane.waiting import wait_for
from sidecar import contract
from webhook import rbac
from webhook.owners import DeploymentFacts

from .harness import RunningWebhook
from .identities import (
    MANAGED,
    RBAC,
    account,
    api_for,
    api_for_token,
    refused,
    refused_by_policy,
    role_binding,
    status,
    unique,
)
from .test_rbac import Provisioned, opted_in

pytestmark = pytest.mark.cluster
DRY = {"dry_run": "All"}


@pytest.fixture
def webhook_rbac(running_webhook: RunningWebhook) -> Iterator[client.RbacAuthorizationV1Api]:
    """RBAC calls made with the webhook's own credentials."""
    api = api_for(running_webhook.settings.kubeconfig or Path())
    yield client.RbacAuthorizationV1Api(api)
    api.close()


# --- the webhook ------------------------------------------------------------------------------


def test_the_webhook_cannot_bind_its_clusterrole_to_a_user(
    webhook_rbac: client.RbacAuthorizationV1Api,
) -> None:
    for labels in ({}, MANAGED):
        binding = {
            "metadata": {"name": unique("spot-failover-sidecar-nodes.x"), "labels": labels},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "spot-failover-webhook"},
            "subjects": [{"kind": "User", "apiGroup": RBAC, "name": "mallory"}],
        }
        refused_by_policy(
            lambda b=binding: webhook_rbac.create_cluster_role_binding(b, **DRY),  # type: ignore[misc]
            "a ClusterRoleBinding of the webhook's ClusterRole",
        )


def test_the_webhook_cannot_bind_the_nodes_clusterrole_to_a_group(
    webhook_rbac: client.RbacAuthorizationV1Api, webhook_namespace: str
) -> None:
    binding = {
        "metadata": {
            "name": f"spot-failover-sidecar-nodes.{webhook_namespace}.system:authenticated",
            "labels": {**MANAGED, rbac.NAMESPACE_LABEL: webhook_namespace},
        },
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": rbac.NODES_CLUSTER_ROLE},
        "subjects": [{"kind": "Group", "apiGroup": RBAC, "name": "system:authenticated"}],
    }
    refused_by_policy(
        lambda: webhook_rbac.create_cluster_role_binding(binding, **DRY),
        "a nodes binding to a group",
    )


def test_the_webhook_cannot_delete_or_take_over_another_teams_rbac(
    kube: Kube, webhook_rbac: client.RbacAuthorizationV1Api, webhook_namespace: str
) -> None:
    """Their binding names a ClusterRole the webhook may bind, so RBAC alone would let it."""
    name = unique("team-nodes")
    nodes = {"kind": "ClusterRole", "name": rbac.NODES_CLUSTER_ROLE}
    theirs = role_binding(name, webhook_namespace, nodes, [account("ci", webhook_namespace)])
    kube.rbac.create_namespaced_role_binding(webhook_namespace, theirs)
    refused_by_policy(
        lambda: webhook_rbac.delete_namespaced_role_binding(name, webhook_namespace, **DRY),
        "deleting another team's RoleBinding",
    )
    refused_by_policy(
        lambda: webhook_rbac.patch_namespaced_role_binding(
            name, webhook_namespace, {"metadata": {"labels": MANAGED}}, **DRY
        ),
        "labelling another team's RoleBinding as ours",
    )


def sidecar_role(namespace: str, deployment_name: str, uid: str = "uid") -> dict[str, Any]:
    return rbac.role(DeploymentFacts(namespace, deployment_name, uid, "default", {}))


def test_the_webhook_cannot_grant_what_it_does_not_hold(
    webhook_rbac: client.RbacAuthorizationV1Api, webhook_namespace: str
) -> None:
    role = sidecar_role(webhook_namespace, unique("web"))
    role["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    refused(
        lambda: webhook_rbac.create_namespaced_role(webhook_namespace, role, **DRY),
        "a Role reading Secrets",
    )


def test_the_webhook_cannot_write_rbac_in_kube_system(
    webhook_rbac: client.RbacAuthorizationV1Api,
) -> None:
    role = sidecar_role("kube-system", "coredns")
    refused_by_policy(
        lambda: webhook_rbac.create_namespaced_role("kube-system", role, **DRY),
        "a Role in kube-system",
    )


EXTRA_RULES = [
    # Reading Secrets is refused by RBAC already (the webhook does not hold it); the others it
    # holds, so only the policy refuses them.
    pytest.param(
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["update"]},
        id="updating every Deployment",
    ),
    pytest.param(
        {"apiGroups": [RBAC], "resources": ["rolebindings"], "verbs": ["create"]},
        id="writing RoleBindings",
    ),
]


@pytest.mark.parametrize("extra", EXTRA_RULES)
def test_the_webhook_cannot_write_a_role_with_more_than_the_sidecar_rules(
    webhook_rbac: client.RbacAuthorizationV1Api, webhook_namespace: str, extra: dict[str, Any]
) -> None:
    """Rules it holds itself (so RBAC's escalation check lets them through)."""
    role = sidecar_role(webhook_namespace, unique("web"))
    role["rules"].append(extra)
    refused_by_policy(
        lambda: webhook_rbac.create_namespaced_role(webhook_namespace, role, **DRY),
        "a Role with an extra rule",
    )


def test_the_webhook_cannot_grant_one_deployments_rules_under_anothers_name(
    webhook_rbac: client.RbacAuthorizationV1Api, webhook_namespace: str
) -> None:
    role = sidecar_role(webhook_namespace, "web")
    role["rules"] = contract.sidecar_role_rules("payments")
    refused_by_policy(
        lambda: webhook_rbac.create_namespaced_role(webhook_namespace, role, **DRY),
        "a Role for web with payments' rules",
    )


BAD_BINDINGS = [
    pytest.param(
        {"kind": "ClusterRole", "name": "spot-failover-webhook"}, None, id="to its own ClusterRole"
    ),
    pytest.param({"kind": "Role", "name": "some-other-role"}, None, id="to another Role"),
    pytest.param(None, account("default", "kube-system"), id="to another namespace's account"),
    pytest.param(None, {"kind": "User", "apiGroup": RBAC, "name": "mallory"}, id="to a user"),
]


@pytest.fixture(scope="module")
def roles_to_bind(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook
) -> DeploymentFacts:
    """An opted-in Deployment whose sidecar Role the controller provisioned, and a Role
    some-other-role (RBAC answers 404 for binding a missing Role, before admission). The
    webhook holds both Roles' rules, so RBAC alone would let it bind them."""
    name = unique("web")
    created = kube.apps.create_namespaced_deployment(webhook_namespace, opted_in(name, "default"))
    wait_for(Provisioned(kube, webhook_namespace, name, "default").all, 20, "the sidecar RBAC")
    other = {
        "metadata": {"name": "some-other-role"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
    }
    kube.rbac.create_namespaced_role(webhook_namespace, other)
    return DeploymentFacts(webhook_namespace, name, created.metadata.uid, "default", {})


@pytest.mark.parametrize(("role", "subject"), BAD_BINDINGS)
def test_the_webhook_binds_only_the_sidecar_role_to_one_account_of_the_namespace(
    webhook_rbac: client.RbacAuthorizationV1Api,
    webhook_namespace: str,
    roles_to_bind: DeploymentFacts,
    role: dict[str, str] | None,
    subject: dict[str, str] | None,
) -> None:
    binding = rbac.role_binding(roles_to_bind)
    if role is not None:
        binding["roleRef"] = {"apiGroup": RBAC, **role}
    if subject is not None:
        binding["subjects"] = [subject]
    refused_by_policy(
        lambda: webhook_rbac.create_namespaced_role_binding(webhook_namespace, binding, **DRY),
        "a RoleBinding the webhook does not provision",
    )


def test_what_the_webhook_provisions_is_allowed(
    webhook_rbac: client.RbacAuthorizationV1Api,
    webhook_namespace: str,
    roles_to_bind: DeploymentFacts,
) -> None:
    facts = DeploymentFacts(webhook_namespace, unique("web"), "uid", "default", {})
    long_facts = DeploymentFacts(webhook_namespace, "d" * 240, "uid", "default", {})
    for each in (facts, long_facts):
        assert (
            status(
                lambda f=each: webhook_rbac.create_namespaced_role(  # type: ignore[misc]
                    webhook_namespace, rbac.role(f), **DRY
                )
            )
            == 200
        )
    binding = rbac.role_binding(roles_to_bind)  # exists already: applied again, as the
    assert (  # controller does on every change
        status(
            lambda: webhook_rbac.patch_namespaced_role_binding(
                binding["metadata"]["name"],
                webhook_namespace,
                binding,
                field_manager="spot-failover-webhook",
                force=True,
                _content_type="application/apply-patch+yaml",
                **DRY,
            )
        )
        == 200
    )
    # An account of its own: the running webhook may already have bound "default" (409).
    nodes = rbac.node_binding((webhook_namespace, unique("sa")))
    assert status(lambda: webhook_rbac.create_cluster_role_binding(nodes, **DRY)) == 200


def test_the_webhook_creates_a_lease_only_without_a_holder(
    running_webhook: RunningWebhook, webhook_namespace: str
) -> None:
    api = api_for(running_webhook.settings.kubeconfig or Path())
    leases = client.CoordinationV1Api(api)
    try:
        facts = DeploymentFacts(webhook_namespace, unique("web"), "uid", "default", {})
        lease = rbac.lease(facts)
        assert (
            status(lambda: leases.create_namespaced_lease(webhook_namespace, lease, **DRY)) == 200
        )
        lease["spec"] = {"holderIdentity": "mallory", "leaseDurationSeconds": 10**6}
        refused_by_policy(
            lambda: leases.create_namespaced_lease(webhook_namespace, lease, **DRY),
            "a Lease created with a holder",
        )
    finally:
        api.close()


# --- the controller repairs what was deleted by hand ------------------------------------------


def test_a_role_binding_or_lease_deleted_out_of_band_is_back_after_the_next_resync(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook
) -> None:
    name = unique("repair")
    kube.apps.create_namespaced_deployment(webhook_namespace, opted_in(name, "default"))
    provisioned = Provisioned(kube, webhook_namespace, name, "default")
    lease = contract.lease_name(name)

    def lease_exists() -> bool:
        return exists(lambda: kube.coordination.read_namespaced_lease(lease, webhook_namespace))

    wait_for(lambda: provisioned.all() and lease_exists(), 20, "the sidecar RBAC and Lease")
    kube.rbac.delete_namespaced_role(provisioned.role, webhook_namespace)
    kube.rbac.delete_namespaced_role_binding(provisioned.role, webhook_namespace)
    kube.coordination.delete_namespaced_lease(lease, webhook_namespace)
    wait_for(lambda: provisioned.all() and lease_exists(), 20, "the resync to repair them")


# --- a sidecar's pod-bound token and the Lease --------------------------------------------------


class PodIdentity:
    """A token bound to a pod of Deployment ``name``, as its sidecar (and app) hold it."""

    def __init__(
        self, cluster: LocalCluster, kube: Kube, *, namespace: str, name: str, sa: str, tmp: Path
    ) -> None:
        def a_pod() -> str | None:
            pods = kube.core.list_namespaced_pod(namespace, label_selector=f"app={name}")
            return pods.items[0].metadata.name if pods.items else None

        self.pod: str = wait_for(a_pod, 30, f"a pod of {name}")
        token = pod_bound_token(kube.api, namespace, sa, self.pod)
        self.api = api_for_token(cluster, token, tmp)
        self.apps = client.AppsV1Api(self.api)
        self.leases = client.CoordinationV1Api(self.api)
        self.namespace = namespace

    def taking(self, lease: str, holder: str, duration_s: int = 15) -> Callable[[], object]:
        """A dry-run write of ``lease`` naming ``holder`` for ``duration_s``."""

        def write() -> object:
            current = self.leases.read_namespaced_lease(lease, self.namespace)
            current.spec.holder_identity = holder
            current.spec.lease_duration_seconds = duration_s
            return self.leases.replace_namespaced_lease(lease, self.namespace, current, **DRY)

        return write


@pytest.fixture
def two_deployments_one_account(
    cluster: LocalCluster,
    kube: Kube,
    webhook_namespace: str,
    running_webhook: RunningWebhook,
    tmp_path: Path,
) -> Iterator[tuple[str, str, PodIdentity]]:
    """Deployments ``a`` and ``a-b`` (a prefix of it) opted in under one ServiceAccount; the
    identity of a pod of ``a-b``."""
    sa = unique("shared")
    kube.core.create_namespaced_service_account(webhook_namespace, {"metadata": {"name": sa}})
    first = unique("a")
    second = f"{first}-b"
    for name in (first, second):
        kube.apps.create_namespaced_deployment(webhook_namespace, opted_in(name, sa))
        wait_for(Provisioned(kube, webhook_namespace, name, sa).all, 20, f"the RBAC of {name}")
    identity = PodIdentity(
        cluster, kube, namespace=webhook_namespace, name=second, sa=sa, tmp=tmp_path
    )
    yield first, second, identity
    identity.api.close()


def test_a_sidecar_cannot_create_a_lease_to_squat_on(
    two_deployments_one_account: tuple[str, str, PodIdentity],
) -> None:
    _, _, identity = two_deployments_one_account
    lease = {"metadata": {"name": contract.lease_name(unique("not-yet-opted-in"))}}
    assert status(lambda: identity.leases.create_namespaced_lease(identity.namespace, lease)) == 403


def test_only_a_pod_of_the_deployment_may_hold_its_lease_under_its_own_name(
    two_deployments_one_account: tuple[str, str, PodIdentity],
) -> None:
    first, second, identity = two_deployments_one_account
    own, other = contract.lease_name(second), contract.lease_name(first)
    assert status(identity.taking(own, identity.pod)) == 200
    refused_by_policy(identity.taking(other, identity.pod), "holding the Lease of a")
    refused_by_policy(identity.taking(own, "web-7d9f8-x2b4q"), "naming another holder")
    refused_by_policy(identity.taking(own, identity.pod, 10**6), "an absurd term")


# --- rights that linger: opted out, or moved to another ServiceAccount ------------------------


@pytest.fixture
def unwatched_namespace(kube: Kube, shipped_cluster_objects: None) -> Iterator[str]:
    """A namespace no webhook watches (as if the webhook were down), with the shipped
    sidecar-scope policy bound to it."""
    name = unique("down")
    kube.create_namespace(name)
    admission = kube.dynamic.resources.get(
        api_version="admissionregistration.k8s.io/v1", kind="ValidatingAdmissionPolicyBinding"
    )
    binding = f"spot-failover-sidecar-scope-{name}"
    admission.create(
        body={
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": binding},
            "spec": {
                "policyName": "spot-failover-sidecar-scope",
                "validationActions": ["Deny"],
                "paramRef": {
                    "selector": {"matchLabels": MANAGED},
                    "parameterNotFoundAction": "Allow",
                },
                "matchResources": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}
                },
            },
        }
    )
    yield name
    admission.delete(name=binding)
    kube.delete_namespace(name)


LINGERING = [
    pytest.param("false", "app", id="opted out while the webhook was down"),
    pytest.param("true", "another-account", id="moved to another ServiceAccount"),
]


@pytest.mark.parametrize(("enabled", "now_runs_as"), LINGERING)
def test_lingering_sidecar_rights_still_cannot_change_the_image_or_command(
    cluster: LocalCluster,
    kube: Kube,
    unwatched_namespace: str,
    tmp_path: Path,
    *,
    enabled: str,
    now_runs_as: str,
) -> None:
    """The RBAC the webhook provisioned for ``app`` is still there; the Deployment says
    otherwise now. ``app``'s token may still move the Deployment, nothing more."""
    namespace, name = unwatched_namespace, unique("web")
    for sa in {"app", now_runs_as}:
        kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": sa}})
    body = opted_in(name, "app")
    created = kube.apps.create_namespaced_deployment(namespace, body)
    facts = DeploymentFacts(namespace, name, created.metadata.uid, "app", {})
    kube.apply([rbac.role(facts), rbac.role_binding(facts)])
    identity = PodIdentity(cluster, kube, namespace=namespace, name=name, sa="app", tmp=tmp_path)
    try:
        kube.apps.patch_namespaced_deployment(
            name,
            namespace,
            {
                "metadata": {"annotations": {contract.ENABLED: enabled}},
                "spec": {"template": {"spec": {"serviceAccountName": now_runs_as}}},
            },
        )
        image = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "evil"}]}}}}
        command = {
            "spec": {"template": {"spec": {"containers": [{"name": "app", "command": ["sh"]}]}}}
        }
        for change in (image, command):
            error = refused_by_policy(
                lambda c=change: identity.apps.patch_namespaced_deployment(  # type: ignore[misc]
                    name, namespace, c, **DRY
                ),
                "a container change with lingering rights",
            )
            assert "containers" in str(error.body)
        move = {"spec": {"template": {"spec": {"nodeSelector": {"pool": "fargate"}}}}}
        assert (
            status(lambda: identity.apps.patch_namespaced_deployment(name, namespace, move, **DRY))
            == 200
        )
    finally:
        identity.api.close()


def event_about(deployment_name: str, namespace: str) -> dict[str, Any]:
    return {
        "metadata": {"generateName": "forged-"},
        "involvedObject": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": deployment_name,
            "namespace": namespace,
        },
        "source": {"component": "spot-failover"},
        "reason": "MovedToFargate",
        "message": "moved",
        "type": "Normal",
    }


def test_a_sidecar_writes_events_only_about_its_own_deployment(
    two_deployments_one_account: tuple[str, str, PodIdentity],
) -> None:
    first, second, identity = two_deployments_one_account
    events = client.CoreV1Api(identity.api)
    own = event_about(second, identity.namespace)
    assert status(lambda: events.create_namespaced_event(identity.namespace, own, **DRY)) == 200
    refused_by_policy(
        lambda: events.create_namespaced_event(
            identity.namespace, event_about(first, identity.namespace), **DRY
        ),
        "an Event forged about another Deployment",
    )
