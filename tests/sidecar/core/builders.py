"""Plain-data builders for the core's inputs: Deployments, pods, signals and a policy.

Objects are built the way the API returns them (JSON form, camelCase, absent fields omitted),
so the tests feed the core exactly what the adapters will.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sidecar.core.annotations import DeploymentView
from sidecar.core.durations import Duration
from sidecar.core.inputs import Facts, Policy
from sidecar.core.signals import Interruption, Kind, Source
from sidecar.core.times import format_time
from spot_common import contract
from spot_common.contract import ComputeType, State

NOW = datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)
FARGATE_LABELS = {"spot-failover/fargate": "true"}
NODE = "ip-10-0-1-17.ec2.internal"


def spot_template() -> dict[str, Any]:
    """A pod template pinned to spot the usual ways: nodeSelector, affinity, toleration."""
    return {
        "metadata": {"labels": {"app": "web"}, "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 8080}],
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
                }
            ],
            "nodeSelector": {"karpenter.sh/capacity-type": "spot", "kubernetes.io/os": "linux"},
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "eks.amazonaws.com/capacityType",
                                        "operator": "In",
                                        "values": ["SPOT"],
                                    }
                                ]
                            }
                        ]
                    }
                },
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []},
            },
            "tolerations": [
                {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"},
                {"key": "karpenter.sh/capacity-type", "operator": "Exists"},
            ],
        },
    }


def deployment(
    *,
    annotations: Mapping[str, str] | None = None,
    template: Mapping[str, Any] | None = None,
    replicas: int = 3,
    generation: int = 1,
    status: Mapping[str, Any] | None = None,
    resource_version: str = "100",
) -> dict[str, Any]:
    """An opted-in Deployment whose rollout is complete unless ``status`` says otherwise."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "6f1d3c1e-0000-4000-8000-000000000001",
            "generation": generation,
            "resourceVersion": resource_version,
            "annotations": {contract.ENABLED: "true", **(annotations or {})},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "template": copy.deepcopy(dict(template or spot_template())),
        },
        "status": dict(status) if status is not None else done(replicas, generation),
    }


def done(replicas: int, generation: int) -> dict[str, Any]:
    """Status of a Deployment whose rollout of ``generation`` is complete."""
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ],
    }


def state_annotations(
    state: State,
    *,
    since: datetime = NOW,
    compute_type: ComputeType | None = None,
    saved: str | None = None,
) -> dict[str, str]:
    """The durable-state annotations of a Deployment in ``state`` since ``since``."""
    annotations = {contract.STATE: str(state), contract.LAST_TRANSITION: format_time(since)}
    if compute_type is not None:
        annotations[contract.COMPUTE_TYPE] = str(compute_type)
    if saved is not None:
        annotations[contract.SAVED_SCHEDULING] = saved
    return annotations


_SOURCES = {
    Kind.INTERRUPTION: Source.IMDS_INSTANCE_ACTION,
    Kind.REBALANCE: Source.IMDS_REBALANCE,
    Kind.DISRUPTION: Source.NODE_TAINT,
}


def interruption(node: str = NODE, kind: Kind = Kind.INTERRUPTION) -> Interruption:
    """A spot interruption notice (or a rebalance, or a voluntary disruption: Karpenter's
    taint) for ``node``, seen at :data:`NOW`."""
    source = _SOURCES[kind]
    return Interruption(
        node=node,
        source=source,
        kind=kind,
        seen_at=NOW,
        action="terminate" if kind is Kind.INTERRUPTION else None,
        deadline=NOW + timedelta(minutes=2) if kind is Kind.INTERRUPTION else None,
    )


def policy(
    *,
    failback_after: Duration = timedelta(minutes=10),
    rollout_timeout: timedelta = timedelta(minutes=5),
    dry_run: bool = False,
    add_ec2_annotation_on_failback: bool = False,
    rebalance_trigger: bool = False,
    disruption_trigger: bool = False,
    fargate_profile: str | None = None,
) -> Policy:
    """A policy with the test Fargate labels."""
    return Policy(
        fargate_labels=FARGATE_LABELS,
        fargate_profile=fargate_profile,
        failback_after=failback_after,
        rollout_timeout=rollout_timeout,
        dry_run=dry_run,
        add_ec2_annotation_on_failback=add_ec2_annotation_on_failback,
        rebalance_trigger=rebalance_trigger,
        disruption_trigger=disruption_trigger,
    )


def leader(**facts: Any) -> Facts:
    """Facts of the sidecar ``web-1`` holding the lease."""
    return Facts(me="web-1", holds_lease=True, **facts)


def follower(**facts: Any) -> Facts:
    """Facts of the sidecar ``web-2``, which does not hold the lease."""
    return Facts(me="web-2", holds_lease=False, **facts)


def view(body: Mapping[str, Any]) -> DeploymentView:
    return DeploymentView.parse(body)


def pod(
    name: str,
    *,
    node: str | None,
    ready: bool = True,
    template_hash: str = "abc123",
    waiting: str | None = None,
    terminating: bool = False,
) -> dict[str, Any]:
    """A pod of the Deployment as the API returns it."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "shop",
        "labels": {"app": "web", "pod-template-hash": template_hash},
    }
    if terminating:
        metadata["deletionTimestamp"] = format_time(NOW)
    status: dict[str, Any] = {
        "phase": "Running" if ready else "Pending",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if waiting is not None:
        status["containerStatuses"] = [
            {"name": "web", "ready": False, "state": {"waiting": {"reason": waiting}}}
        ]
    spec: dict[str, Any] = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    if node is not None:
        spec["nodeName"] = node
    return {"metadata": metadata, "spec": spec, "status": status}
