"""EKS as it behaves, on the local control plane (development tooling, never shipped).

kwok makes every pod Ready at once and no instance ever dies; EKS is slower and harsher, and
the add-on must be tested against that. This package plays what AWS does, and lets the real
Kubernetes components do the rest:

* :mod:`.profiles`: Fargate profiles, and the admission step (a MutatingAdmissionPolicy per
  profile) that hands matching pods to ``fargate-scheduler``, as EKS's webhook does;
* :mod:`.fargate_scheduler`: the ``fargate-scheduler`` loop: refuses what Fargate cannot run
  (:mod:`.fargate_rules`, with EKS's wording), otherwise creates a node per pod and binds the
  pod after a provisioning delay; the pod is Ready after a start delay (:mod:`.timing`);
* :mod:`.reclaim`: at a notice's deadline the instance is gone: sidecars die, heartbeats stop,
  the controller manager marks the Node NotReady and its pods not Ready, the Node is deleted
  and the pod garbage collector removes its pods; liveness of pods for benchmarks;
* :mod:`.karpenter`: the taint and Events of Karpenter's interruption and consolidation;
* :mod:`.simulator`: :class:`EksSimulator`, profiles and spot nodes of either shape at run time.
"""

from devtools.eks.profiles import FargateProfile, Selector
from devtools.eks.reclaim import Reclaimer, live_and_ready
from devtools.eks.simulator import EksSimulator
from devtools.eks.timing import FAST, REALISTIC, FargateTiming

__all__ = [
    "FAST",
    "REALISTIC",
    "EksSimulator",
    "FargateProfile",
    "FargateTiming",
    "Reclaimer",
    "Selector",
    "live_and_ready",
]
