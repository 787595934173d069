"""The evidence readers: a Deployment's version as the timeline sees it, and the successful
updates of one Deployment in the API server's audit log, with the version each replaced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.timeline_evidence import audited_writes, version_of
from benchmarks.timeline_phases import Write
from tests.benchmarks.builders import at


def deployment(
    *, state: str | None = None, generation: int = 2, observed: int = 2, updated: int = 3
) -> dict[str, Any]:
    annotations = {} if state is None else {"spot-failover/state": state}
    return {
        "metadata": {
            "name": "web",
            "resourceVersion": "4711",
            "generation": generation,
            "annotations": annotations,
        },
        "spec": {"replicas": 3},
        "status": {
            "observedGeneration": observed,
            "replicas": 3,
            "updatedReplicas": updated,
            "availableReplicas": 3,
        },
    }


def test_a_deployment_without_a_state_annotation_is_watching() -> None:
    assert version_of(deployment()).state == "Watching"
    assert version_of(deployment(state="OnFargate")).state == "OnFargate"
    assert version_of(deployment()).resource_version == "4711"


def test_a_rollout_is_complete_only_once_the_new_generation_is_observed_and_updated() -> None:
    assert version_of(deployment()).rolled_out
    assert not version_of(deployment(generation=3, observed=2)).rolled_out
    assert not version_of(deployment(updated=2)).rolled_out


def audit_line(
    verb: str,
    subresource: str | None,
    replaced: str,
    code: int,
    *,
    stage: str = "ResponseComplete",
    name: str = "web",
    namespace: str = "shop",
) -> str:
    ref: dict[str, Any] = {
        "resource": "deployments",
        "namespace": namespace,
        "name": name,
        "apiGroup": "apps",
        "apiVersion": "v1",
        "resourceVersion": replaced,
    }
    if subresource:
        ref["subresource"] = subresource
    event = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "stage": stage,
        "verb": verb,
        "requestURI": f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": code},
        "stageTimestamp": "2026-01-02T15:00:01.000000Z",
    }
    return json.dumps(event, separators=(",", ":"))


def test_only_successful_completed_updates_of_the_deployment_are_writes(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    lines = [
        audit_line("update", None, "10", 200),
        audit_line("update", "status", "11", 200),
        audit_line("update", None, "12", 409),
        audit_line("get", None, "", 200),
        audit_line("update", None, "13", 200, stage="ResponseStarted"),
        audit_line("update", None, "14", 200, name="other"),
        audit_line("update", None, "15", 200, namespace="elsewhere"),
    ]
    log.write_text("\n".join(lines) + "\n")

    writes = audited_writes(log, "shop", "web")

    assert writes == [Write("", "10", at(1.0)), Write("status", "11", at(1.0))]
