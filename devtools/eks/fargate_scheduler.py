"""``fargate-scheduler``: what EKS does with a pod handed to Fargate (development tooling).

The admission step (:mod:`devtools.eks.profiles`) sets a matching pod's ``schedulerName`` to
``fargate-scheduler``; kube-scheduler ignores such pods, and this loop takes them, as EKS does:

* a pod Fargate cannot run (:func:`devtools.eks.fargate_rules.refusal`) stays Pending: its
  ``PodScheduled`` condition turns False and a Warning ``FailedScheduling`` Event from
  ``fargate-scheduler`` says why. EKS does not retry such a pod, nor does this loop;
* any other pod gets a node of its own, ``fargate-ip-<ip>.<region>.compute.internal``
  (:func:`devtools.controlplane.nodes.fargate_node`), created after the provisioning delay of
  :class:`~devtools.eks.timing.FargateTiming`; the pod gets the ``CapacityProvisioned``
  annotation and the start delay that kwok waits before reporting it Running and Ready, and is
  bound to its node (``pods/binding``);
* when the pod is deleted, its node is deleted too.

The loop watches pods with list-then-watch and survives API-server restarts
(:class:`~devtools.controlplane.watch.ResourceWatch`); delays are kept by one
:class:`~devtools.eks.agenda.Agenda` thread.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import threading
from collections.abc import Mapping
from typing import Any, Final

from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import START_DELAY_ANNOTATION
from devtools.controlplane.kube import Kube
from devtools.controlplane.nodes import fargate_node
from devtools.controlplane.watch import ResourceWatch, object_key
from devtools.eks import fargate_rules
from devtools.eks.agenda import Agenda
from devtools.eks.profiles import SCHEDULER_NAME
from devtools.eks.timing import FAST, FargateTiming

log = logging.getLogger(__name__)

POD_ANNOTATION: Final = "fargate.simulator/pod"
"""On each Fargate node: ``namespace/name`` of the pod it was created for."""
EBS_PROVISIONERS: Final = frozenset({"ebs.csi.aws.com", "kubernetes.io/aws-ebs"})
PROVISIONING_WORKERS: Final = 8
"""Pods provisioned at once: Fargate starts many pods in parallel, so a 50-replica rollout
must not queue behind one thread's API calls."""


class FargateScheduler:
    """The ``fargate-scheduler`` loop for the whole cluster; start()/stop() or a context."""

    def __init__(self, kube: Kube, timing: FargateTiming = FAST) -> None:
        self._kube = kube
        self.timing = timing
        self._rng = timing.rng()
        self._lock = threading.Lock()
        self._seen: set[str] = set()  # uids handled (refused or provisioning)
        self._deleted: set[str] = set()  # uids whose pod is gone
        self._nodes: dict[str, tuple[str, str]] = {}  # pod key -> (uid, node name)
        self._manifests: dict[str, dict[str, Any]] = {}  # node name -> its manifest
        self._ips = (f"10.0.{128 + n // 250}.{n % 250 + 1}" for n in itertools.count())
        self._agenda = Agenda("fargate-provisioning", workers=PROVISIONING_WORKERS)
        self._watch = ResourceWatch(
            "fargate-scheduler",
            functools.partial(
                kube.core.list_pod_for_all_namespaces,
                field_selector=f"spec.schedulerName={SCHEDULER_NAME}",
            ),
            self._on_pod,
            self._on_relist,
        )

    def __enter__(self) -> FargateScheduler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._agenda.start()
        self._watch.start()

    def stop(self) -> None:
        """Stop scheduling; the Fargate nodes made so far stay (the cluster goes with them)."""
        self._watch.stop()
        self._agenda.stop()

    def node_of(self, namespace: str, pod: str) -> str | None:
        """The Fargate node made for the pod, if any."""
        with self._lock:
            found = self._nodes.get(f"{namespace}/{pod}")
        return found[1] if found else None

    def refuse_waiting(self, namespace: str, message: str) -> list[str]:
        """Refuse, as Fargate's scheduler refuses a pod, every pod of ``namespace`` still waiting
        for its Fargate node (with a provisioning delay long enough to be caught waiting): for a
        refusal that comes when no sidecar is left to see it. The names of the pods refused."""
        found = self._kube.core.list_namespaced_pod(
            namespace, field_selector=f"spec.schedulerName={SCHEDULER_NAME}"
        )
        refused = []
        for item in found.items:
            pod = dict(self._kube.api.sanitize_for_serialization(item))
            if pod["spec"].get("nodeName") or "deletionTimestamp" in pod["metadata"]:
                continue
            self._agenda.cancel(object_key(pod))
            self._refuse(pod, message)
            refused.append(str(pod["metadata"]["name"]))
        return refused

    # --- events -------------------------------------------------------------------------------

    def _on_pod(self, kind: str, pod: dict[str, Any]) -> None:
        key, uid = object_key(pod), pod["metadata"]["uid"]
        if kind == "DELETED":
            self._forget(key, uid)
            return
        if pod["spec"].get("nodeName") or "deletionTimestamp" in pod["metadata"]:
            return
        with self._lock:
            if uid in self._seen:
                return
            self._seen.add(uid)
        # Delays are drawn here, in the order the watch sees pods (a seeded run repeats them);
        # every API call runs in the agenda, which retries what fails (an API-server restart).
        delays = self.timing.draw(self._rng)
        self._agenda.after(0, key, lambda: self._decide(pod, delays))

    def _on_relist(self, keys: set[str]) -> None:
        with self._lock:
            gone = [(key, uid) for key, (uid, _) in self._nodes.items() if key not in keys]
        for key, uid in gone:
            self._forget(key, uid)

    def _forget(self, key: str, uid: str) -> None:
        self._agenda.cancel(key)
        with self._lock:
            self._deleted.add(uid)
            found = self._nodes.get(key)
            if found is not None and found[0] == uid:
                del self._nodes[key]
        if found is not None and found[0] == uid:
            name = found[1]
            self._agenda.after(0, f"delete/{name}", lambda: self._delete_node(name))

    def _decide(self, pod: Mapping[str, Any], delays: tuple[float, float]) -> None:
        """Refuse the pod at once, or provision its node after the provisioning delay."""
        try:
            message = fargate_rules.refusal(pod, self._ebs_claims(pod))
        except ApiException as error:
            if error.status == 404:
                return
            raise
        if message is not None:
            self._refuse(pod, message)
            return
        provision_s, start_s = delays
        key = object_key(dict(pod))
        self._agenda.after(provision_s, key, lambda: self._provision(pod, start_s))

    # --- refusing -----------------------------------------------------------------------------

    def _ebs_claims(self, pod: Mapping[str, Any]) -> set[str]:
        namespace = pod["metadata"]["namespace"]
        claims = [
            volume["persistentVolumeClaim"]["claimName"]
            for volume in pod["spec"].get("volumes") or []
            if volume.get("persistentVolumeClaim")
        ]
        return {claim for claim in claims if self._is_ebs(namespace, claim)}

    def _is_ebs(self, namespace: str, claim: str) -> bool:
        core, storage = self._kube.core, self._kube.storage
        try:
            pvc = core.read_namespaced_persistent_volume_claim(claim, namespace)
            if pvc.spec.volume_name:
                pv = core.read_persistent_volume(pvc.spec.volume_name)
                if pv.spec.aws_elastic_block_store or (
                    pv.spec.csi and pv.spec.csi.driver in EBS_PROVISIONERS
                ):
                    return True
            if pvc.spec.storage_class_name:
                found = storage.read_storage_class(pvc.spec.storage_class_name)
                return str(found.provisioner) in EBS_PROVISIONERS
        except ApiException as error:
            if error.status != 404:
                raise
        return False

    def _refuse(self, pod: Mapping[str, Any], message: str) -> None:
        meta = pod["metadata"]
        now = dt.datetime.now(dt.UTC)
        log.info("pod refused", extra={"pod": object_key(dict(pod)), "reason": message})
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastTransitionTime": now.isoformat(),
        }
        try:
            self._kube.core.patch_namespaced_pod_status(
                meta["name"], meta["namespace"], {"status": {"conditions": [condition]}}
            )
        except ApiException as error:
            if error.status != 404:
                raise
            return
        self._kube.core.create_namespaced_event(
            meta["namespace"],
            {
                "metadata": {"generateName": f"{meta['name']}."},
                "involvedObject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                },
                "type": "Warning",
                "reason": "FailedScheduling",
                "message": message,
                "source": {"component": SCHEDULER_NAME},
                "reportingComponent": SCHEDULER_NAME,
                "reportingInstance": SCHEDULER_NAME,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )

    # --- provisioning ---------------------------------------------------------------------------

    def _provision(self, pod: Mapping[str, Any], start_s: float) -> None:
        """Create the pod's node, then bind the pod to it; safe to run again after a failure."""
        meta = pod["metadata"]
        key, uid = object_key(dict(pod)), meta["uid"]
        with self._lock:
            made = self._nodes.get(key)
            name = made[1] if made is not None and made[0] == uid else None
            if name is None:
                node = fargate_node(next(self._ips))
                name = node["metadata"]["name"]
                node["metadata"]["annotations"][POD_ANNOTATION] = key
                self._nodes[key] = (uid, name)
                self._manifests[name] = node
        try:
            self._kube.core.create_node(self._manifests[name])
        except ApiException as error:
            if error.status != 409:  # made by the attempt before
                raise
        annotations = {
            "CapacityProvisioned": fargate_rules.capacity_provisioned(pod["spec"]),
            START_DELAY_ANNOTATION: f"{start_s:.3f}s",
        }
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": name},
        }
        try:
            self._kube.core.patch_namespaced_pod(
                meta["name"], meta["namespace"], {"metadata": {"annotations": annotations}}
            )
            self._kube.core.create_namespaced_pod_binding(
                meta["name"], meta["namespace"], binding, _preload_content=False
            )
        except ApiException as error:
            if error.status not in (404, 409):
                raise
            if not self._bound_to(pod, name):
                log.info("pod gone before binding", extra={"pod": key, "status": error.status})
                self._forget(key, uid)
                return
        log.info("pod bound", extra={"pod": key, "node": name, "start_s": round(start_s, 3)})
        with self._lock:
            gone = uid in self._deleted
        if gone:
            self._forget(key, uid)

    def _bound_to(self, pod: Mapping[str, Any], node: str) -> bool:
        """Whether this very pod is bound to ``node`` already (a bind retried after an answer
        was lost gets 409 though it worked)."""
        meta = pod["metadata"]
        try:
            current = self._kube.core.read_namespaced_pod(meta["name"], meta["namespace"])
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return bool(current.metadata.uid == meta["uid"] and current.spec.node_name == node)

    def _delete_node(self, name: str) -> None:
        with self._lock:
            self._manifests.pop(name, None)
        try:
            self._kube.core.delete_node(name)
        except ApiException as error:
            if error.status != 404:
                raise
        log.info("fargate node deleted", extra={"node": name})
