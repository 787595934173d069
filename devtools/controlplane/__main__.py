"""``make cluster``: start the local control plane as EKS, print its kubeconfig, wait for Ctrl-C.

Spot nodes of the managed-node-group shape (``--karpenter-nodes`` adds Karpenter-shaped ones),
a Fargate profile for pods labelled ``spot-failover/fargate=true`` in ``--fargate-namespace``,
and the ``fargate-scheduler`` loop, which gives each such pod a Fargate node of its own.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from devtools.controlplane.cluster import REALISTIC_NODE_HEALTH, TEST_NODE_HEALTH, LocalCluster
from devtools.controlplane.kube import Kube, api_client
from devtools.controlplane.nodes import SpotShape
from devtools.eks import FAST, REALISTIC, EksSimulator, FargateProfile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.controlplane", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path(".cluster"))
    parser.add_argument("--spot-nodes", type=int, default=3)
    parser.add_argument("--karpenter-nodes", type=int, default=0)
    parser.add_argument(
        "--fargate-namespace",
        default="default",
        help="namespace of the Fargate profile (pods labelled spot-failover/fargate=true)",
    )
    parser.add_argument(
        "--eks-timing",
        action="store_true",
        help="Fargate pods Ready after ~60 s and a 50 s node-monitor grace period, as on EKS",
    )
    args = parser.parse_args(argv)

    stop = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    health = REALISTIC_NODE_HEALTH if args.eks_timing else TEST_NODE_HEALTH
    with LocalCluster(args.workdir.resolve(), node_health=health) as cluster:
        kube = Kube(api_client(cluster))
        with EksSimulator(kube, REALISTIC if args.eks_timing else FAST) as eks:
            for i in range(args.spot_nodes):
                eks.add_spot_node(f"spot-{i}")
            for i in range(args.karpenter_nodes):
                eks.add_spot_node(f"karpenter-spot-{i}", SpotShape.KARPENTER)
            eks.install_profile(
                FargateProfile.one(
                    "default", args.fargate_namespace, {"spot-failover/fargate": "true"}
                )
            )
            print(f"export KUBECONFIG={cluster.kubeconfig}")
            print(f"kubectl: {cluster.binaries.kubectl}")
            print("Ctrl-C stops the cluster.", flush=True)
            signal.signal(signal.SIGINT, on_signal)
            signal.signal(signal.SIGTERM, on_signal)
            while not stop:
                signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
