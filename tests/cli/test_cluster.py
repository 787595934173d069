"""``spot-failover`` run as a user runs it, against the local control plane.

Each test starts ``python -m spot_failover`` as a process with a kubeconfig, as a user's shell
would, on Deployments whose annotations are written the way the sidecar writes them (no sidecar
runs: the command only reads annotations). Identities are real: the admin, and a
ServiceAccount token that may only list Deployments in one namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.processes import free_port
from spot_common import contract
from spot_common.contract import State
from tests.cli.builders import deployment as plain_deployment
from tests.cli.builders import entry, moved, opted_in
from tests.cli.tables import cells

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]
SINCE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=10)
"""Ten hours ago prints as ``10h`` for a whole hour: stable while the tests run."""
MOVED = "rollout complete: 3 of 3 pods Ready on Fargate"


def run(
    *argv: str, kubeconfig: Path | None = None, env: dict[str, str] | None = None, home: Path
) -> subprocess.CompletedProcess[str]:
    """The command as a user's shell runs it; HOME has no ~/.kube/config."""
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "NO_PROXY": "127.0.0.1,localhost",
        **(env or {}),
    }
    flags = [f"--kubeconfig={kubeconfig}"] if kubeconfig else []
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "spot_failover", *argv, *flags],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create(kube: Kube, namespace: str, body: dict[str, Any]) -> None:
    """Create ``body`` (a builder Deployment) with no replicas: only its annotations matter."""
    body = json.loads(json.dumps(body))
    body["metadata"].pop("resourceVersion", None)
    body["metadata"]["namespace"] = namespace
    name = body["metadata"]["name"]
    body["spec"]["replicas"] = 0
    body["spec"]["selector"] = {"matchLabels": {"app": name}}
    body["spec"]["template"]["metadata"]["labels"] = {"app": name}
    kube.apps.create_namespaced_deployment(namespace, body)


def on_fargate(name: str = "web") -> dict[str, Any]:
    history = [
        entry(State.WATCHING, State.MIGRATING, SINCE - timedelta(seconds=40), "notice"),
        entry(State.MIGRATING, State.ON_FARGATE, SINCE, MOVED),
    ]
    return moved(
        State.ON_FARGATE,
        since=SINCE,
        message=MOVED,
        history=history,
        failback_after="never",
        name=name,
    )


@pytest.fixture
def fleet(kube: Kube, namespace: str) -> str:
    """In ``namespace``: web (OnFargate with history), api (just opted in), odd (corrupt
    state), plain (not opted in)."""
    create(kube, namespace, on_fargate("web"))
    create(kube, namespace, opted_in("api"))
    create(kube, namespace, opted_in("odd", state="Bogus"))
    create(kube, namespace, plain_deployment("plain"))
    return namespace


@pytest.fixture
def other_namespace(kube: Kube) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.create_namespace(name)
    yield name
    kube.delete_namespace(name)


def test_status_lists_the_opted_in_deployments_of_one_namespace(
    cluster: LocalCluster, fleet: str, tmp_path: Path
) -> None:
    result = run("status", "-n", fleet, kubeconfig=cluster.kubeconfig, home=tmp_path)

    assert (result.returncode, result.stderr) == (0, "")
    rows = cells(result.stdout)
    assert list(rows[0]) == ["NAME", "STATE", "COMPUTE", "SINCE", "MESSAGE"]
    assert [(r["NAME"], r["STATE"], r["COMPUTE"], r["SINCE"]) for r in rows] == [
        ("api", "Watching", "spot", "<unknown>"),
        ("odd", "?", "?", "<unknown>"),
        ("web", "OnFargate", "fargate", "10h"),
    ]
    assert rows[1]["MESSAGE"].startswith("annotation spot-failover/state is corrupt: 'Bogus'")
    assert rows[2]["MESSAGE"] == MOVED


def test_status_reads_the_kubeconfig_variable_and_the_contexts_namespace(
    cluster: LocalCluster, fleet: str, tmp_path: Path
) -> None:
    document = json.loads(cluster.kubeconfig.read_text())
    document["contexts"][0]["context"]["namespace"] = fleet
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(document))

    result = run("status", env={"KUBECONFIG": str(path)}, home=tmp_path)

    assert result.returncode == 0, result.stderr
    assert [r["NAME"] for r in cells(result.stdout)] == ["api", "odd", "web"]


def test_all_namespaces_lists_every_namespace_with_its_column(
    cluster: LocalCluster, kube: Kube, fleet: str, other_namespace: str, tmp_path: Path
) -> None:
    create(kube, other_namespace, on_fargate("shop"))

    result = run("status", "-A", kubeconfig=cluster.kubeconfig, home=tmp_path)

    assert (result.returncode, result.stderr) == (0, "")
    rows = cells(result.stdout)
    assert list(rows[0])[:2] == ["NAMESPACE", "NAME"]
    ours = {
        (r["NAMESPACE"], r["NAME"], r["STATE"])
        for r in rows
        if r["NAMESPACE"] in {fleet, other_namespace}
    }
    assert ours == {
        (fleet, "api", "Watching"),
        (fleet, "odd", "?"),
        (fleet, "web", "OnFargate"),
        (other_namespace, "shop", "OnFargate"),
    }
    assert not any(r["NAME"] == "plain" for r in rows)


def test_status_json_is_one_parsable_document_with_every_field(
    cluster: LocalCluster, fleet: str, tmp_path: Path
) -> None:
    result = run("status", "-n", fleet, "-o", "json", kubeconfig=cluster.kubeconfig, home=tmp_path)

    assert (result.returncode, result.stderr) == (0, "")
    document = json.loads(result.stdout)
    items = {item["name"]: item for item in document["items"]}
    assert sorted(items) == ["api", "odd", "web"]
    web = items["web"]
    assert (web["state"], web["computeType"], web["message"]) == ("OnFargate", "fargate", MOVED)
    assert web["lastTransition"] == SINCE.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [(e["from"], e["to"]) for e in web["history"]] == [
        ("Watching", "Migrating"),
        ("Migrating", "OnFargate"),
    ]
    assert web["failback"] == {"after": "never", "dueAt": None, "text": "never"}
    assert items["odd"]["state"] is None
    assert [p["annotation"] for p in items["odd"]["problems"]] == [contract.STATE]


def test_status_wide_adds_notice_failback_paused_enabled_and_history(
    cluster: LocalCluster, fleet: str, tmp_path: Path
) -> None:
    result = run("status", "-n", fleet, "-o", "wide", kubeconfig=cluster.kubeconfig, home=tmp_path)

    assert (result.returncode, result.stderr) == (0, "")
    web = {r["NAME"]: r for r in cells(result.stdout)}["web"]
    assert web["NOTICE"] == "ip-10-0-1-17.ec2.internal (imds/spot/instance-action)"
    assert (web["FAILBACK"], web["PAUSED"], web["ENABLED"], web["HISTORY"]) == (
        "never",
        "false",
        "true",
        "2",
    )


def test_nothing_opted_in_says_no_resources_found_on_stderr_and_succeeds(
    cluster: LocalCluster, kube: Kube, namespace: str, tmp_path: Path
) -> None:
    create(kube, namespace, plain_deployment("plain"))

    result = run("status", "-n", namespace, kubeconfig=cluster.kubeconfig, home=tmp_path)

    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == f"No resources found in {namespace} namespace.\n"


def test_explain_shows_the_state_block_and_the_history(
    cluster: LocalCluster, fleet: str, tmp_path: Path
) -> None:
    result = run(
        "explain", "deployment/web", "-n", fleet, kubeconfig=cluster.kubeconfig, home=tmp_path
    )

    assert (result.returncode, result.stderr) == (0, "")
    text = result.stdout
    assert "State:            OnFargate\n" in text
    assert f"Namespace:        {fleet}\n" in text
    assert "Failback:         never (spot-failover/failback-after: never)\n" in text
    assert "Saved scheduling: labels set: spot-failover/fargate=true;" in text
    history = text.split("History (2):\n", 1)[1]
    rows = cells("\n".join(line.removeprefix("  ") for line in history.splitlines()))
    assert [(r["FROM"], r["TO"], r["BY"]) for r in rows] == [
        ("Watching", "Migrating", "web-1"),
        ("Migrating", "OnFargate", "web-1"),
    ]
    assert rows[1]["REASON"] == MOVED


def test_explain_of_a_missing_deployment_exits_1_with_kubectls_message(
    cluster: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    result = run("explain", "nope", "-n", namespace, kubeconfig=cluster.kubeconfig, home=tmp_path)

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == 'Error from server (NotFound): deployments.apps "nope" not found\n'


def test_the_context_flag_selects_a_context_and_its_namespace(
    cluster: LocalCluster, fleet: str, tmp_path: Path
) -> None:
    document = json.loads(cluster.kubeconfig.read_text())
    good = document["contexts"][0]
    document["clusters"].append(
        {"name": "gone", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}
    )
    document["contexts"] = [
        {"name": "gone", "context": {"cluster": "gone", "user": good["context"]["user"]}},
        {"name": "local", "context": {**good["context"], "namespace": fleet}},
    ]
    document["current-context"] = "gone"
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(document))

    chosen = run("status", "--context", "local", kubeconfig=path, home=tmp_path)
    current = run("status", kubeconfig=path, home=tmp_path)

    assert chosen.returncode == 0, chosen.stderr
    assert [r["NAME"] for r in cells(chosen.stdout)] == ["api", "odd", "web"]
    assert current.returncode == 1
    assert current.stderr.startswith("The connection to the server 127.0.0.1:")
    assert current.stderr.endswith(" was refused - did you specify the right host or port?\n")


@pytest.fixture
def lister_kubeconfig(cluster: LocalCluster, kube: Kube, fleet: str, tmp_path: Path) -> Path:
    """A ServiceAccount token that may list Deployments in ``fleet`` and do nothing else."""
    kube.core.create_namespaced_service_account(fleet, {"metadata": {"name": "lister"}})
    kube.rbac.create_namespaced_role(
        fleet,
        {
            "metadata": {"name": "list-deployments"},
            "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]}],
        },
    )
    kube.rbac.create_namespaced_role_binding(
        fleet,
        {
            "metadata": {"name": "lister"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "list-deployments",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "lister", "namespace": fleet}],
        },
    )
    token = kube.core.create_namespaced_service_account_token(
        "lister", fleet, {"spec": {"audiences": [], "expirationSeconds": 3600}}
    ).status.token
    return cluster.kubeconfig_for_token(token, tmp_path / "lister-kubeconfig")


def test_a_limited_identity_lists_its_namespace_and_is_forbidden_the_rest(
    lister_kubeconfig: Path, fleet: str, tmp_path: Path
) -> None:
    user = f"system:serviceaccount:{fleet}:lister"

    allowed = run("status", "-n", fleet, kubeconfig=lister_kubeconfig, home=tmp_path)
    everywhere = run("status", "-A", kubeconfig=lister_kubeconfig, home=tmp_path)
    explain = run("explain", "web", "-n", fleet, kubeconfig=lister_kubeconfig, home=tmp_path)

    assert allowed.returncode == 0, allowed.stderr
    assert [r["NAME"] for r in cells(allowed.stdout)] == ["api", "odd", "web"]
    assert (everywhere.returncode, everywhere.stdout) == (1, "")
    assert everywhere.stderr == (
        f'Error from server (Forbidden): deployments.apps is forbidden: User "{user}" cannot '
        'list resource "deployments" in API group "apps" at the cluster scope\n'
    )
    assert (explain.returncode, explain.stdout) == (1, "")
    assert explain.stderr == (
        f'Error from server (Forbidden): deployments.apps "web" is forbidden: User "{user}" '
        f'cannot get resource "deployments" in API group "apps" in the namespace "{fleet}"\n'
    )
