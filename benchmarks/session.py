"""One local control plane for a benchmark run, with the nodes and namespaces the tests use.

The cluster plays EKS (:mod:`devtools.eks`) with realistic node health by default (a 50 s
node-monitor grace period); Fargate's start is chosen per run (``timing``: the fast one unless
the benchmark measures against EKS's own, :data:`devtools.eks.REALISTIC`).
"""

from __future__ import annotations

import compileall
import contextlib
import sysconfig
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from devtools.controlplane.cluster import REALISTIC_NODE_HEALTH, LocalCluster, NodeHealth
from devtools.controlplane.kube import Kube, api_client
from devtools.controlplane.nodes import spot_node
from devtools.eks import FAST, EksSimulator, FargateTiming
from devtools.eks.simulator import install_profile, remove_profile
from devtools.scenario import SPOT_NODES, Scenario, fargate_profile, scenario

PRODUCTION_TIMINGS = {
    "SPOT_FAILOVER_POLL_INTERVAL_S": "2",
    "SPOT_FAILOVER_LEASE_DURATION_S": "15",
    "SPOT_FAILOVER_LEASE_RENEW_S": "2",
    "SPOT_FAILOVER_LOG_LEVEL": "INFO",
}
"""The sidecar's shipped defaults: benchmarks measure what users run, not the test timings."""


PROGRAMS = ("sidecar", "webhook", "spot_common")
"""The project's packages that the benchmarked processes run."""


def compile_bytecode() -> None:
    """Compile every module the benchmarked programs can import, as both images' builds do
    (``python -m compileall``), so that they are measured as they run in a container. A program
    that finds no bytecode compiles each module as it imports it and keeps the compiler's
    memory: the first idle sidecar run from a freshly synced environment measured 50.6 MiB,
    the next one 46.8 (the harness lets its programs write their bytecode). Quick once done."""
    project = Path(__file__).resolve().parents[1]
    roots = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    for root in sorted(roots | {str(project / name) for name in PROGRAMS}):
        compileall.compile_dir(root, quiet=2)


@contextlib.contextmanager
def control_plane(
    timing: FargateTiming = FAST, node_health: NodeHealth = REALISTIC_NODE_HEALTH
) -> Iterator[tuple[LocalCluster, Kube, Path, EksSimulator]]:
    """A cluster with the shared spot nodes and the EKS simulator, in a temporary directory;
    the programs' bytecode compiled first (:func:`compile_bytecode`)."""
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="spot-failover-bench-") as tmp:
        work = Path(tmp)
        with LocalCluster(work / "cluster", node_health=node_health) as cluster:
            kube = Kube(api_client(cluster))
            kube.apply([spot_node(n) for n in SPOT_NODES])
            with EksSimulator(kube, timing) as eks:
                yield cluster, kube, work, eks


@contextlib.contextmanager
def failover(
    cluster: LocalCluster,
    kube: Kube,
    work: Path,
    sidecar_env: Mapping[str, str] | None = None,
    *,
    spot_nodes: tuple[str, ...] = SPOT_NODES,
    reclaim: bool = False,
) -> Iterator[Scenario]:
    """A fresh namespace with its Fargate profile and sidecars run for its pods
    (``sidecar_env``: the sidecars' settings over the scenario's test timings; ``spot_nodes``
    and ``reclaim``: as :func:`devtools.scenario.scenario`)."""
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    kube.create_namespace(namespace)
    profile = fargate_profile(namespace)
    install_profile(kube, profile)
    try:
        with scenario(
            cluster,
            kube,
            namespace,
            work / namespace,
            sidecar_env=sidecar_env,
            spot_nodes=spot_nodes,
            reclaim=reclaim,
        ) as running:
            yield running
    finally:
        kube.delete_namespace(namespace)
        remove_profile(kube, profile)
