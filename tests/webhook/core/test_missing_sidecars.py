"""Which pods count as "created without the sidecar", and the Event that says so."""

from __future__ import annotations

import datetime as dt
from typing import Any

from spot_common import contract
from webhook.core.missing_sidecars import REASON, MissingPod, event, missing_pods
from webhook.core.owners import DeploymentFacts
from webhook.core.selection import SelectionConfig

DEPLOYMENT = DeploymentFacts("shop", "web", "d-uid", "web", {contract.ENABLED: "true"}, "app=web")


def pod(name: str, replicaset: str = "web-1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": f"uid-{name}",
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replicaset,
                 "controller": True},
            ],
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        "status": {"phase": "Running"},
    }  # fmt: skip
    for key, value in extra.items():
        body[key] = {**body.get(key, {}), **value}
    return body


def owners(namespace: str, replicaset: str) -> str | None:
    return {"web-1": "web", "api-1": "api"}.get(replicaset)


def test_a_live_pod_of_the_deployment_without_the_sidecar_is_missing() -> None:
    with_sidecar = pod("b", spec={"initContainers": [{"name": contract.SIDECAR_CONTAINER}]})
    found = missing_pods(
        [pod("a"), with_sidecar, pod("c", "api-1"), pod("d", "unknown-1")],
        DEPLOYMENT,
        owners,
        SelectionConfig(),
    )
    assert found == [MissingPod("a", "uid-a")]


def test_finished_terminating_and_opted_out_pods_are_not_missing() -> None:
    pods = [
        pod("done", status={"phase": "Succeeded"}),
        pod("going", metadata={"deletionTimestamp": "2026-01-01T00:00:00Z"}),
        pod("out", metadata={"annotations": {contract.ENABLED: "false"}}),
        pod("windows", spec={"os": {"name": "windows"}}),
    ]
    assert missing_pods(pods, DEPLOYMENT, owners, SelectionConfig()) == []


def test_the_event_names_the_pods_and_the_fix_and_is_the_same_for_every_replica() -> None:
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    pods = [MissingPod(f"web-1-{i:02}", f"uid-{i}") for i in range(12)]
    first = event(DEPLOYMENT, pods, now, "replica-a")
    second = event(DEPLOYMENT, list(reversed(pods)), now, "replica-b")
    assert first["metadata"]["name"] == second["metadata"]["name"]
    assert first["reason"] == REASON
    assert first["type"] == "Warning"
    assert first["involvedObject"]["uid"] == "d-uid"
    assert "12 pods" in first["message"]
    assert "web-1-00" in first["message"]
    assert "and 2 more" in first["message"]
    assert "kubectl rollout restart deployment/web -n shop" in first["message"]
    assert first["firstTimestamp"] == "2026-01-02T03:04:05Z"
