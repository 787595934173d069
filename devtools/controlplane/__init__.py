"""A real Kubernetes control plane on one machine, as plain processes (development tooling).

Not shipped: the packages ``sidecar`` and ``webhook`` never import it and the images do not
contain it. Tests, the demo and the benchmarks use it through :class:`LocalCluster`.

What runs: etcd, kube-apiserver (RBAC, admission webhooks, admission policies), the
kube-controller-manager (Deployment → ReplicaSet → Pods, ServiceAccount tokens), the
kube-scheduler and kwok, which plays the kubelets of fake nodes: nodes become Ready and scheduled
pods become Running and Ready without any container running. The binaries are built from Go
modules by ``build.sh`` and cached outside the repository, keyed by version.
"""

from devtools.controlplane.cluster import LocalCluster

__all__ = ["LocalCluster"]
