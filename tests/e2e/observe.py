"""What the end-to-end scenarios look at: ``spot-failover status`` as a user runs it, the
Deployment's history, and the API server's own record of who wrote what (its audit log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from devtools.controlplane import audit
from devtools.scenario import Scenario
from spot_common import contract

ROOT = Path(__file__).resolve().parents[2]
WRITES = frozenset({"create", "update", "patch", "delete"})


def status(failover: Scenario, home: Path) -> dict[str, dict[str, Any]]:
    """``spot-failover status -o json`` for the scenario's namespace, run as a process with the
    admin kubeconfig, by Deployment name."""
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "spot_failover",
            "status",
            "-n",
            failover.namespace,
            "-o",
            "json",
            f"--kubeconfig={failover.cluster.kubeconfig}",
        ],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "NO_PROXY": "127.0.0.1,localhost",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {item["name"]: item for item in json.loads(result.stdout)["items"]}


def slow_rollout(seconds: int = 3) -> Callable[[dict[str, Any]], None]:
    """New pods count as available only after ``seconds``: a move lasts long enough to watch."""

    def tweak(body: dict[str, Any]) -> None:
        body["spec"]["minReadySeconds"] = seconds

    return tweak


def transitions(annotations: dict[str, str]) -> list[tuple[str, str]]:
    history = json.loads(annotations.get(contract.HISTORY, "[]"))
    return [(entry["from"], entry["to"]) for entry in history]


def pod_writes(
    failover: Scenario, since: datetime | None = None, resource: str = ""
) -> list[audit.AuditedRequest]:
    """Writes made with pod-bound tokens of the scenario's namespace (that is, by sidecars),
    optionally only after ``since`` and to paths containing ``resource``."""
    account = f"system:serviceaccount:{failover.namespace}:"
    return [
        r
        for r in audit.read(failover.cluster.audit_log)
        if r.pod is not None
        and r.user.startswith(account)
        and r.verb in WRITES
        and (since is None or r.time >= since)
        and resource in r.uri
    ]


def deployment_path(failover: Scenario, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{failover.namespace}/deployments/{name}"


def pod_creations(failover: Scenario) -> int:
    """Pods the API server created in the namespace (dry runs, such as the webhook's readiness
    probe, excluded)."""
    path = f"/api/v1/namespaces/{failover.namespace}/pods"
    return sum(
        1
        for r in audit.read(failover.cluster.audit_log)
        if r.verb == "create"
        and r.code == 201
        and r.uri.split("?")[0] == path
        and "dryRun" not in r.uri
    )
