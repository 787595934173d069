"""``kubectl spot-failover``: the installed command found and run by the real kubectl as a
plugin (``kubectl-spot_failover`` on PATH), against the local control plane."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from tests.cli.builders import opted_in
from tests.cli.test_cluster import create

pytestmark = pytest.mark.cluster
PLUGIN = "kubectl-spot_failover"


@pytest.fixture
def path(cluster: LocalCluster, tmp_path: Path) -> str:
    """A PATH with kubectl and the installed plugin, and nothing else of ours."""
    plugin = shutil.which(PLUGIN, path=str(Path(sys.executable).parent))
    assert plugin is not None, f"{PLUGIN} is not installed beside {sys.executable}"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").symlink_to(cluster.binaries.kubectl)
    (bin_dir / PLUGIN).symlink_to(plugin)
    return f"{bin_dir}:/usr/bin:/bin"


def kubectl(
    cluster: LocalCluster, path: str, home: Path, *argv: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", *argv],
        env={"PATH": path, "HOME": str(home), "KUBECONFIG": str(cluster.kubeconfig),
             "NO_PROXY": "127.0.0.1,localhost"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_kubectl_lists_the_plugin(cluster: LocalCluster, path: str, tmp_path: Path) -> None:
    result = kubectl(cluster, path, tmp_path, "plugin", "list", "--name-only")

    assert result.returncode == 0, result.stderr
    assert PLUGIN in result.stdout.split()


def test_kubectl_spot_failover_status_and_explain_read_the_deployments(
    cluster: LocalCluster, kube: Kube, namespace: str, path: str, tmp_path: Path
) -> None:
    create(kube, namespace, opted_in("api"))

    listed = kubectl(
        cluster, path, tmp_path, "spot-failover", "status", "-n", namespace, "-o", "json"
    )
    explained = kubectl(cluster, path, tmp_path, "spot-failover", "explain", "api", "-n", namespace)

    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)["items"]
    assert (row["name"], row["state"]) == ("api", "Watching")
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.startswith("Name:             api\n")


def test_kubectl_spot_failover_check_passes_its_exit_code_through(
    cluster: LocalCluster, path: str, namespace: str, tmp_path: Path
) -> None:
    result = kubectl(
        cluster, path, tmp_path, "spot-failover", "check", "-n", namespace,
        "--webhook-configuration=spot-failover-nowhere",
    )  # fmt: skip

    assert result.returncode == 1
    assert (
        "× the MutatingWebhookConfiguration spot-failover-nowhere does not exist" in result.stdout  # noqa: RUF001
    )


def test_usage_errors_name_the_plugin_as_kubectl_users_call_it(
    cluster: LocalCluster, path: str, tmp_path: Path
) -> None:
    result = kubectl(cluster, path, tmp_path, "spot-failover", "nonsense")

    assert result.returncode == 2
    assert result.stderr.startswith("usage: kubectl spot-failover")
