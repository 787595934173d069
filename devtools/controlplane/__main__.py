"""``make cluster``: start the local control plane, print its kubeconfig, wait for Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.fargate_profile import FargateProfile
from devtools.controlplane.kube import Kube, api_client
from devtools.controlplane.nodes import fargate_node, spot_node


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.controlplane", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path(".cluster"))
    parser.add_argument("--spot-nodes", type=int, default=3)
    parser.add_argument("--fargate-nodes", type=int, default=2)
    parser.add_argument(
        "--fargate-namespace",
        default="default",
        help="namespace of the test-only Fargate profile (label spot-failover/fargate=true)",
    )
    args = parser.parse_args(argv)

    stop = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    with LocalCluster(args.workdir.resolve()) as cluster:
        kube = Kube(api_client(cluster))
        kube.apply(spot_node(f"spot-{i}") for i in range(args.spot_nodes))
        kube.apply(fargate_node(f"fargate-ip-10-0-9-{i}") for i in range(args.fargate_nodes))
        profile = FargateProfile(
            "default", args.fargate_namespace, {"spot-failover/fargate": "true"}
        )
        kube.install_fargate_profile(profile)
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
