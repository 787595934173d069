"""The public contract of spot-failover: every name that crosses a process boundary.

Both programs import this module (the webhook imports nothing else from ``sidecar``), and users
read these names on their Deployments, so a key never changes meaning once released. Anything
here is documented in the README's "Contract" section.

Three kinds of names live here:

* annotation and label keys users set on a Deployment, or read from it;
* the durable migration state that the sidecars keep on the Deployment;
* environment variable names that the webhook injects into the sidecar container.
"""

from __future__ import annotations

import enum
import hashlib
from typing import Final

PREFIX: Final = "spot-failover/"

# --- Set by users on a Deployment (metadata.annotations) -------------------------------------

ENABLED: Final = PREFIX + "enabled"
"""``"true"`` opts the Deployment in: its pods get the sidecar. ``"false"`` stops all action."""

PAUSED: Final = PREFIX + "paused"
"""``"true"`` keeps the sidecars watching but forbids every write to the Deployment."""

FARGATE_PROFILE: Final = PREFIX + "fargate-profile"
"""Name of the EKS Fargate profile to use; written to the pod label
``eks.amazonaws.com/fargate-profile`` so EKS picks this profile when several match."""

FARGATE_LABELS: Final = PREFIX + "fargate-labels"
"""Pod labels that make the pods match the Fargate profile, as ``key=value,key=value``.
Default: the sidecar setting ``SPOT_FAILOVER_FARGATE_LABELS``."""

HEALTH_URL: Final = PREFIX + "health-url"
"""Optional HTTP(S) URL that must answer 2xx before a move counts as healthy."""

FAILBACK_AFTER: Final = PREFIX + "failback-after"
"""Cooldown on Fargate before moving back to spot: seconds, or a duration such as ``10m``,
``1h30m``; ``never`` disables failback."""

REBALANCE_TRIGGER: Final = PREFIX + "rebalance-trigger"
"""``"true"`` makes an EC2 rebalance recommendation start the move, not just the notice."""

DISRUPTION_TRIGGER: Final = PREFIX + "disruption-trigger"
"""``"true"`` makes a voluntary disruption of the node start the move too: Karpenter's
``karpenter.sh/disrupted`` taint (consolidation, drift, expiry) or the Node's deletion, with no
interruption recorded. By default only an interruption does: IMDS's notice, the node
termination handler's interruption taint, or Karpenter's Events recording a spot interruption."""

SIDECAR_IMAGE: Final = PREFIX + "sidecar-image"
"""Per-Deployment override of the injected sidecar's image (webhook)."""

# --- Kept by spot-failover on the Deployment (metadata.annotations) ---------------------------

STATE: Final = PREFIX + "state"
"""Where the Deployment is in the failover workflow: one of :class:`State`."""

COMPUTE_TYPE: Final = PREFIX + "compute-type"
"""Where the pod template currently points: one of :class:`ComputeType`."""

LAST_TRANSITION: Final = PREFIX + "last-transition"
"""RFC 3339 UTC time of the last state change."""

MESSAGE: Final = PREFIX + "message"
"""Human-readable reason for the current state."""

HISTORY: Final = PREFIX + "history"
"""JSON list of the last transitions, newest last, bounded to :data:`HISTORY_LIMIT` entries:
``[{"time": ..., "from": ..., "to": ..., "reason": ..., "by": <pod>}]``."""

SAVED_SCHEDULING: Final = PREFIX + "saved-scheduling"
"""JSON of exactly the pod-template fields the move to Fargate changed, with their values before
the move (``null`` where the field was absent), so failback and rollback restore them exactly."""

NOTICE: Final = PREFIX + "notice"
"""JSON of the interruption that started the current move: node, source, action, time."""

SAVED_STRATEGY: Final = PREFIX + "saved-strategy"
"""The Deployment's ``spec.strategy`` from before the move set the move's fast strategy, in a
compact form the admission policy can compare (``RollingUpdate:<maxSurge>:<maxUnavailable>``,
e.g. ``RollingUpdate:25%:25%``), restored when the move ends; absent when nothing is to be
restored. Part of the saved scheduling: it is what the move changed outside the pod template."""

MOVE_STRATEGY: Final = "RollingUpdate:100%:0"
"""The strategy a move sets (in :data:`SAVED_STRATEGY`'s form): every replacement starts at once
(``maxSurge: 100%``) and no pod goes before its replacement is available (``maxUnavailable: 0``)."""

QUOTA_RETRY: Final = PREFIX + "quota-retry"
"""RFC 3339 UTC time at which the leader last asked for the pods a ResourceQuota refused, while
a move whose strategy was fitted to that quota waits for them. The Deployment controller copies
a Deployment's annotations to its ReplicaSets, and a changed ReplicaSet is synced at once; without
it the ReplicaSet controller retries a refused pod only after an exponential back-off that a
quota's refusals grow to minutes, though the quota has room again seconds after the doomed pods
go. Removed by the write that ends the move."""

PROBLEM: Final = PREFIX + "problem"
"""What stops spot-failover from acting on the Deployment, while it does: an annotation that
does not parse (named, with what is wrong and what to set), or a move the API server refused to
write because the annotations would be too large. Removed once that is over."""

HISTORY_LIMIT: Final = 20

USER_ANNOTATIONS: Final = (
    ENABLED,
    PAUSED,
    FARGATE_LABELS,
    FARGATE_PROFILE,
    HEALTH_URL,
    FAILBACK_AFTER,
    REBALANCE_TRIGGER,
    DISRUPTION_TRIGGER,
    SIDECAR_IMAGE,
)
"""Every annotation users set on a Deployment (the sidecar never changes these)."""

KEPT_ANNOTATIONS: Final = (
    STATE,
    COMPUTE_TYPE,
    LAST_TRANSITION,
    MESSAGE,
    HISTORY,
    SAVED_SCHEDULING,
    NOTICE,
    SAVED_STRATEGY,
    QUOTA_RETRY,
    PROBLEM,
)
"""Every annotation spot-failover keeps on a Deployment."""

# --- On pods (metadata.annotations / labels) --------------------------------------------------

INJECTED: Final = PREFIX + "injected"
"""Pod annotation set by the webhook: the sidecar version it injected."""

SIDECAR_CONTAINER: Final = "spot-failover"
"""Name of the injected container; its presence makes injection a no-op."""

POD_DELETION_COST: Final = "controller.kubernetes.io/pod-deletion-cost"
"""Pod annotation (an integer) the ReplicaSet controller reads when it scales down: lower goes
first. A move sets it to :data:`DOOMED_POD_DELETION_COST` on the Deployment's pods on the
interrupted node, so the rollout removes those first, and clears it if the move rolls back."""

DOOMED_POD_DELETION_COST: Final = "-2147483648"
"""The lowest int32: no other pod of the Deployment can be scheduled to go before these."""

COMPONENT_LABEL: Final = "app.kubernetes.io/part-of"
"""Label on spot-failover's own pods; the webhook's objectSelector excludes them."""
COMPONENT_VALUE: Final = "spot-failover"

MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
"""Label on the Roles and RoleBindings the webhook controller provisions per Deployment."""
MANAGED_BY_VALUE: Final = "spot-failover"


class State(enum.StrEnum):
    """Values of :data:`STATE`."""

    WATCHING = "Watching"
    MIGRATING = "Migrating"
    ON_FARGATE = "OnFargate"
    FAILING_BACK = "FailingBack"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


class ComputeType(enum.StrEnum):
    """Values of :data:`COMPUTE_TYPE`."""

    SPOT = "spot"
    FARGATE = "fargate"


MAX_NAME: Final = 253
"""Longest object name Kubernetes accepts (a DNS subdomain)."""
_HASH_CHARS: Final = 16


def bounded_name(name: str) -> str:
    """``name`` if it is shorter than :data:`MAX_NAME`, else a shortened form that is injective.

    Two shapes that cannot meet: a literal name is at most ``MAX_NAME - 1`` characters long; a
    shortened one is exactly ``MAX_NAME``: a prefix of ``name``, ``-`` and 16 hex characters of
    the SHA-256 of the whole ``name``. So no literal name equals a shortened one, and two
    shortened names are equal only if the names agree on 236 characters and on 64 bits of
    their hash. The result is a valid DNS subdomain whenever ``name`` is one.
    """
    if len(name) < MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_CHARS]
    head = name[: MAX_NAME - _HASH_CHARS - 1]
    if head.endswith("."):  # '.-' would start a DNS label with '-'
        head = head[:-1] + "x"
    return f"{head}-{digest}"


LEASE_PREFIX: Final = "spot-failover-"


def lease_name(deployment: str) -> str:
    """Name of the ``coordination.k8s.io`` Lease that elects one sidecar per Deployment."""
    return bounded_name(LEASE_PREFIX + deployment)


MAX_LEASE_DURATION_S: Final = 60
"""Longest term a sidecar asks for, and trusts in a Lease it reads: a term longer than the
two-minute notice would let its holder sit out the move. The admission policy shipped in
deploy/ refuses longer terms from pod-bound tokens."""


# --- Environment of the sidecar container (injected by the webhook) ---------------------------

ENV_PREFIX: Final = "SPOT_FAILOVER_"

ENV_POD_NAME: Final = ENV_PREFIX + "POD_NAME"
"""Downward API ``metadata.name``: the sidecar's identity as Lease holder."""
ENV_NAMESPACE: Final = ENV_PREFIX + "NAMESPACE"
"""Downward API ``metadata.namespace``."""
ENV_NODE_NAME: Final = ENV_PREFIX + "NODE_NAME"
"""Downward API ``spec.nodeName``: the node whose interruption the sidecar watches."""
ENV_DEPLOYMENT: Final = ENV_PREFIX + "DEPLOYMENT"
"""The owning Deployment's name, resolved by the webhook at admission."""
ENV_METRICS_PORT: Final = ENV_PREFIX + "METRICS_PORT"
"""Port of the sidecar's Prometheus metrics endpoint (0 disables it)."""
ENV_API_CREDENTIALS_DIR: Final = ENV_PREFIX + "API_CREDENTIALS_DIR"
"""Where the sidecar reads its ServiceAccount volume (token, ca.crt). Not injected: the webhook
mounts the volume at the standard path, the default; only a runner without mounts sets it."""


# --- What the sidecar may do (RBAC), provisioned per Deployment by the webhook --------------


SIDECAR_MARKER_GROUP: Final = "spot-failover"
SIDECAR_MARKER_RULE: Final[dict[str, object]] = {
    "apiGroups": [SIDECAR_MARKER_GROUP],
    "resources": ["sidecars"],
    "verbs": ["act-as"],
}
"""Grants nothing (no API serves this group): it marks an identity as a spot-failover sidecar,
so that the admission policy on pods can recognise one (CEL's ``authorizer``) and hold it to the
deletion-cost annotation on every pod, since RBAC cannot narrow pod patches by name."""


def sidecar_role_rules(deployment: str) -> list[dict[str, object]]:
    """The namespaced RBAC rules the sidecar of ``deployment`` needs, and nothing more.

    No ``create`` on Leases (RBAC cannot limit it by name): the webhook's controller provisions
    the Deployment's Lease, and the sidecar only takes it; the admission policy shipped in
    deploy/ lets a pod-bound token write only itself as holder. Patching pods (to set
    :data:`POD_DELETION_COST` on the doomed node's pods) cannot be limited by name; the policy
    ``spot-failover-sidecar-pods`` allows an identity that carries :data:`SIDECAR_MARKER_RULE`
    only that annotation, only on its own account's pods. Watch and list by name (a
    ``metadata.name`` field selector) let a leader follow its Deployment and a standby follow
    the Lease with one request instead of polling. Reading the claims of the namespace (get)
    tells, before a move, which claims the pods mount are bound to EBS.
    """
    return [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": [deployment],
            "verbs": ["get", "update", "patch", "watch", "list"],
        },
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]},
        SIDECAR_MARKER_RULE,
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [lease_name(deployment)],
            "verbs": ["get", "update", "watch", "list"],
        },
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get"]},
    ]


SIDECAR_NODE_RULES: Final[list[dict[str, object]]] = [
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get"]},
    {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get"]},
]
"""Cluster-wide: the node source watches its own Node, health checks read the pods' Nodes and
failback looks for Ready spot Nodes (RBAC cannot scope a watch to one Node by name); before a
move, the volume or StorageClass behind a claim the pods mount tells whether it is EBS, which
Fargate cannot mount (cluster-scoped objects whose names the claim gives: get only)."""

NODE_EVENTS_NAMESPACE: Final = "default"
"""Where Kubernetes keeps the Events about Nodes (cluster-scoped objects): ``default``."""

SIDECAR_NODE_EVENT_RULES: Final[list[dict[str, object]]] = [
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch"]},
]
"""In :data:`NODE_EVENTS_NAMESPACE` only (a RoleBinding there): once its Node is being removed,
the sidecar looks among the Node's Events for Karpenter's record of a spot interruption. RBAC
cannot narrow a list or watch to the Events about one object (their names are not known in
advance), so these rules let it read every Event in that namespace, and nothing else there."""

# --- The warden: the last resort for a move no sidecar can finish -----------------------------

WARDEN_SERVICE_ACCOUNT: Final = "spot-failover-warden"
"""The warden's ServiceAccount, in the install's namespace (deploy/warden). The admission
policies ``spot-failover-warden-*`` recognise it by its full name,
``system:serviceaccount:spot-failover:spot-failover-warden``."""

WARDEN_HOLDER_PREFIX: Final = "spot-failover-warden/"
"""How the warden names itself as a Lease holder: this prefix and its pod's name. A ``/`` is
never in a pod's name, so no sidecar's identity looks like it; the admission policy
``spot-failover-lease-holders`` lets a pod write only its own name, so only the warden's
account writes such a holder (``spot-failover-warden-leases``)."""

WARDEN_CLUSTER_RULES: Final[list[dict[str, object]]] = [
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["update"]},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "update", "watch"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]
"""The warden's ClusterRole (deploy/warden), and nothing more: find the opted-in Deployments
with an unfinished move (a watch, which starts with every Deployment: no list), follow one
(get, watch by name), take its Lease (get, update, watch by name), judge the rollout's health
(ReplicaSets, pods, the pods' Nodes), write the transition (update) and say so (Events).
Cluster-wide because opted-in Deployments may be in any namespace; the admission policies
``spot-failover-warden-scope``, ``spot-failover-warden-leases`` and
``spot-failover-warden-events`` narrow every write to what a sidecar leader may write, and only
to a Deployment whose move is unfinished."""
