"""Checks of one opted-in Deployment: can spot-failover move it within the notice?

Pure: the Deployment, its pods, its Role and RoleBinding, its Events (plain JSON, ``None`` when
absent) and ``now`` in; results out. What the webhook provisions is derived with the webhook's
own functions (:mod:`webhook.core.rbac`), so the check and the webhook cannot disagree on names or
rules.

Which Fargate profile selects the pods is not knowable from inside the cluster: profiles are
EKS objects, not Kubernetes ones, and EKS's admission webhook that applies them leaves no trace
but the pods it placed. So the Fargate check reports ``unknown`` with what to verify in EKS,
unless pods of the Deployment already run on Fargate nodes (then some profile selects them).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from spot_common import contract
from spot_failover.checks import Result, Status, ok
from webhook.core import rbac
from webhook.core.injection import has_sidecar
from webhook.core.owners import deployment_facts

Object = Mapping[str, Any]
IMDS_REASON: Final = "ImdsUnreachable"
IMDS_WINDOW: Final = dt.timedelta(hours=1)
FARGATE_NODE_LABEL: Final = "eks.amazonaws.com/compute-type"
_DONE: Final = frozenset({"Succeeded", "Failed"})


def group_of(deployment: Object) -> str:
    meta = deployment.get("metadata") or {}
    return f"Deployment {meta.get('namespace')}/{meta.get('name')}"


def rbac_provisioned(deployment: Object, role: Object | None, binding: Object | None) -> Result:
    group = group_of(deployment)
    facts = deployment_facts(deployment)
    wanted_role, wanted_binding = rbac.role(facts), rbac.role_binding(facts)
    hint = (
        "the webhook provisions it: check that the webhook runs with SPOT_FAILOVER_WEBHOOK_"
        "MANAGE_RBAC on and its logs; it repairs RBAC on its next resync"
    )
    name = wanted_role["metadata"]["name"]
    if role is None or binding is None:
        missing = " and ".join(
            kind for kind, found in (("Role", role), ("RoleBinding", binding)) if found is None
        )
        return Result(
            group,
            "rbac",
            Status.FAIL,
            f"the sidecar's {missing} {name} is missing: the sidecars cannot act",
            hint,
        )
    if list(role.get("rules") or []) != wanted_role["rules"]:
        return Result(
            group, "rbac", Status.FAIL, f"the Role {name} does not grant the sidecar's rules", hint
        )
    if binding.get("roleRef") != wanted_binding["roleRef"] or not all(
        subject in (binding.get("subjects") or []) for subject in wanted_binding["subjects"]
    ):
        account = facts.service_account
        return Result(
            group,
            "rbac",
            Status.FAIL,
            f"the RoleBinding {name} does not bind the Role to the ServiceAccount {account}",
            hint,
        )
    return ok(group, "rbac", f"the sidecar's Role and RoleBinding {name} are provisioned")


def pods_injected(deployment: Object, pods: Sequence[Object]) -> Result:
    group = group_of(deployment)
    live = [
        pod
        for pod in pods
        if not (pod.get("metadata") or {}).get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") not in _DONE
    ]
    missing = sorted(
        str((pod.get("metadata") or {}).get("name")) for pod in live if not has_sidecar(pod)
    )
    if missing:
        name = (deployment.get("metadata") or {}).get("name")
        namespace = (deployment.get("metadata") or {}).get("namespace")
        return Result(
            group,
            "pods-injected",
            Status.FAIL,
            f"{len(missing)} of {len(live)} pods run without the sidecar: {', '.join(missing[:5])}"
            + (" ..." if len(missing) > 5 else ""),
            f"kubectl rollout restart deployment/{name} -n {namespace}",
        )
    return ok(group, "pods-injected", f"all {len(live)} pods run the sidecar")


def rollout_batches(replicas: int, strategy: Object) -> int:
    """How many batches of new pods a rollout of ``replicas`` takes (1: all start at once)."""
    if replicas <= 0:
        return 1
    if strategy.get("type") == "Recreate":
        return 1
    rolling = strategy.get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge", "25%"), replicas, up=True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, up=False)
    started = max(surge + unavailable, 1)
    return math.ceil(replicas / started)


def _scaled(value: object, replicas: int, *, up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = float(value[:-1]) * replicas / 100
        return math.ceil(share) if up else math.floor(share)
    return int(str(value))


def strategy_fits(deployment: Object) -> Result:
    group = group_of(deployment)
    spec = deployment.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    batches = rollout_batches(replicas, strategy)
    if strategy.get("type") == "Recreate":
        return Result(
            group,
            "rollout-strategy",
            Status.WARN,
            "strategy Recreate stops every pod before the new ones start: the move has downtime",
            "use RollingUpdate with maxSurge: 100%",
        )
    if batches > 1:
        return Result(
            group,
            "rollout-strategy",
            Status.WARN,
            f"its rollout starts {replicas} new pods in {batches} batches; at about a minute per "
            f"Fargate batch the move takes about {batches} min, beyond the 2 min notice",
            "set spec.strategy.rollingUpdate.maxSurge: 100%",
        )
    return ok(group, "rollout-strategy", f"its rollout starts all {replicas} new pods at once")


def imds_reachable(deployment: Object, events: Sequence[Object], now: dt.datetime) -> Result:
    group = group_of(deployment)
    recent = [
        event
        for event in events
        if event.get("reason") == IMDS_REASON and (_last_seen(event) or now) > now - IMDS_WINDOW
    ]
    if recent:
        messages = sorted({str(event.get("message", "")) for event in recent})
        return Result(
            group,
            "imds",
            Status.WARN,
            f"{len(recent)} sidecar report(s) in the last hour that IMDS is unreachable: "
            f"{messages[0][:200]}",
            "set the instance metadata hop limit to 2 on its spot nodes (IMDSv2 with a hop "
            "limit of 1 gives containers no token); metric spot_failover_imds_reachable",
        )
    return ok(group, "imds", "no sidecar reported IMDS unreachable in the last hour (Events)")


def _last_seen(event: Object) -> dt.datetime | None:
    value = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def fargate_profile(
    deployment: Object, labels: Mapping[str, str], pods: Sequence[Object], fargate_nodes: set[str]
) -> Result:
    group = group_of(deployment)
    namespace = (deployment.get("metadata") or {}).get("namespace")
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    on_fargate = [pod for pod in pods if (pod.get("spec") or {}).get("nodeName") in fargate_nodes]
    if on_fargate:
        return ok(
            group,
            "fargate-profile",
            f"{len(on_fargate)} of its pods run on Fargate nodes: a profile selects {selector}",
        )
    return Result(
        group,
        "fargate-profile",
        Status.UNKNOWN,
        f"whether a Fargate profile selects namespace {namespace} with labels {selector} "
        "cannot be known from inside the cluster",
        f"verify in EKS: aws eks list-fargate-profiles, then describe-fargate-profile: a selector "
        f"with namespace {namespace} and labels {selector}",
    )


def fargate_labels(deployment: Object, pods: Sequence[Object]) -> dict[str, str]:
    """The labels its pods get on Fargate: the annotation, else the injected sidecar's setting,
    else the sidecar's default."""
    annotation = ((deployment.get("metadata") or {}).get("annotations") or {}).get(
        contract.FARGATE_LABELS
    )
    text = (
        annotation
        or _injected_setting(pods, "SPOT_FAILOVER_FARGATE_LABELS")
        or DEFAULT_FARGATE_LABELS
    )
    pairs = (part.partition("=") for part in text.split(",") if part.strip())
    return {key.strip(): value.strip() for key, _, value in pairs}


DEFAULT_FARGATE_LABELS: Final = "spot-failover/fargate=true"
"""The sidecar's default SPOT_FAILOVER_FARGATE_LABELS (sidecar/settings.py)."""


def _injected_setting(pods: Sequence[Object], name: str) -> str | None:
    for pod in pods:
        for container in (pod.get("spec") or {}).get("containers") or []:
            if container.get("name") != contract.SIDECAR_CONTAINER:
                continue
            for variable in container.get("env") or []:
                if variable.get("name") == name and variable.get("value"):
                    return str(variable["value"])
    return None
