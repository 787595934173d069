"""The parts of EKS that the local cluster lacks, behind one object (development tooling).

:class:`EksSimulator` runs the ``fargate-scheduler`` loop and manages what a platform team
would configure on EKS: Fargate profiles (admission policies, :mod:`devtools.eks.profiles`)
and spot nodes of either shape (managed node group or Karpenter), with their IMDS. Per-trial
nodes are cheap: :meth:`EksSimulator.add_spot_node` and :meth:`EksSimulator.remove_node` at
any time. The reclaim of an instance belongs to the IMDS simulator that serves its notice, so
it is a separate object (:class:`~devtools.eks.reclaim.Reclaimer`).

Typical use::

    with LocalCluster(workdir) as cluster, EksSimulator(Kube(api_client(cluster))) as eks:
        eks.add_spot_node("spot-a", imds=imds)
        eks.install_profile(FargateProfile.one("web", "shop", {"compute": "fargate"}))
"""

from __future__ import annotations

from kubernetes.client.rest import ApiException

from devtools.controlplane.kube import Kube
from devtools.controlplane.nodes import FARGATE_KEY, SpotShape, spot_node
from devtools.controlplane.waiting import wait_for
from devtools.eks import karpenter, profiles
from devtools.eks.fargate_scheduler import FargateScheduler
from devtools.eks.profiles import FargateProfile
from devtools.eks.timing import FAST, FargateTiming
from devtools.imds import ImdsSimulator


class EksSimulator:
    """Fargate (profiles and scheduler) and spot-node shapes on a local cluster."""

    def __init__(self, kube: Kube, timing: FargateTiming = FAST) -> None:
        self.kube = kube
        self.timing = timing
        self.fargate = FargateScheduler(kube, timing)

    def __enter__(self) -> EksSimulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self.fargate.start()

    def stop(self) -> None:
        self.fargate.stop()

    # --- Fargate profiles -----------------------------------------------------------------------

    def install_profile(self, profile: FargateProfile) -> None:
        install_profile(self.kube, profile)

    def remove_profile(self, profile: FargateProfile) -> None:
        remove_profile(self.kube, profile)

    def add_spot_node(
        self, name: str, shape: SpotShape = SpotShape.MANAGED, imds: ImdsSimulator | None = None
    ) -> None:
        add_spot_node(self.kube, name, shape, imds)

    def remove_node(self, name: str, imds: ImdsSimulator | None = None) -> None:
        remove_node(self.kube, name, imds)

    def fargate_nodes(self) -> list[str]:
        return fargate_nodes(self.kube)


# --- the same, for callers that hold only a Kube ------------------------------------------------


def install_profile(kube: Kube, profile: FargateProfile) -> None:
    """Create the profile and wait until the API server applies it to new pods (admission
    policies load asynchronously; a server-side dry run tells when this one is live)."""
    kube.apply(profiles.manifests(profile))
    namespace, probe = profiles.probe_pod(profile)

    def effective() -> bool:
        pod = kube.api.sanitize_for_serialization(
            kube.core.create_namespaced_pod(namespace, probe, dry_run="All")
        )
        return profiles.is_handed_to_fargate(pod)

    wait_for(effective, 30, f"the Fargate profile {profile.name} to take effect")


def remove_profile(kube: Kube, profile: FargateProfile) -> None:
    """Delete the profile's policy and binding (pods already on Fargate stay there)."""
    for manifest in reversed(profiles.manifests(profile)):
        resource = kube.dynamic.resources.get(
            api_version=manifest["apiVersion"], kind=manifest["kind"]
        )
        try:
            resource.delete(name=manifest["metadata"]["name"])
        except Exception as error:  # the dynamic client raises its own NotFoundError
            if getattr(error, "status", None) != 404:
                raise


NODE_READY_TIMEOUT_S = 30


def add_spot_node(
    kube: Kube, name: str, shape: SpotShape = SpotShape.MANAGED, imds: ImdsSimulator | None = None
) -> None:
    """A spot node of ``shape``, and its IMDS in ``imds`` if given (a Karpenter node's never
    answers the token PUT: hop limit 1); back once the node is Ready and the node lifecycle
    controller has lifted the ``node.kubernetes.io/not-ready`` taint every new node starts with,
    as a kubelet's node is before it takes pods."""
    kube.apply([spot_node(name, shape)])
    if imds is not None:
        if shape is SpotShape.KARPENTER:
            karpenter.add_imds_node(imds, name)
        else:
            imds.add_node(name)
    wait_for(lambda: _serving(kube, name), NODE_READY_TIMEOUT_S, f"node {name} to be Ready")


def _serving(kube: Kube, name: str) -> bool:
    node = kube.core.read_node(name)
    conditions = (node.status.conditions if node.status else None) or []
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    taints = node.spec.taints if node.spec else None
    return ready and not any(t.key.startswith("node.kubernetes.io/") for t in taints or [])


def remove_node(kube: Kube, name: str, imds: ImdsSimulator | None = None) -> None:
    """Delete the Node (its pods go with the pod garbage collector), and its IMDS."""
    try:
        kube.core.delete_node(name)
    except ApiException as error:
        if error.status != 404:
            raise
    if imds is not None and name in imds.nodes():
        imds.remove_node(name)


def fargate_nodes(kube: Kube) -> list[str]:
    """Names of the Fargate nodes that exist now."""
    found = kube.core.list_node(label_selector=f"{FARGATE_KEY}=fargate")
    return sorted(node.metadata.name for node in found.items)
