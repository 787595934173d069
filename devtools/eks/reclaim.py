"""The end of a reclaimed spot instance: what AWS does at the notice's deadline.

At the ``time`` of a node's instance-action notice (served by the IMDS simulator) the instance
stops. :class:`Reclaimer` plays that, and only that:

1. it records the instant (the deadline) so that a benchmark can tell *live* pods, running on
   an instance that still exists, from dead ones the API still calls Ready
   (:meth:`Reclaimer.gone_at`, :meth:`Reclaimer.is_live`, :func:`live_and_ready`);
2. it calls the ``on_gone`` hooks (the pod runner's ``kill_node``: the sidecars on the
   instance die with it);
3. the kubelet stops heartbeating: the reclaimer takes the node's Lease away from kwok (kwok
   then neither renews it nor plays the node or its pods any more). Changing the node's
   ``kwok.x-k8s.io/node`` annotation would not do: kwok v0.8 filters watch updates by its
   annotation selector and ignores a node that stops matching, keeping its Lease; but it
   plays only nodes whose Lease it holds, and never takes an unexpired Lease of another holder;
4. the real controller manager, after its node-monitor grace period, marks the Node NotReady
   and turns its pods' Ready condition False;
5. then the Node is deleted, as EKS's cloud node lifecycle does for a terminated instance
   (``node_deletion_delay_s`` after it went NotReady); a Karpenter node is deleted at the
   deadline itself (Karpenter deletes its own nodes);
6. the controller manager's pod garbage collector deletes the pods of the deleted Node (after
   its 40 s quarantine, a constant of Kubernetes).

A notice withdrawn before its deadline reclaims nothing. Nodes are those the IMDS simulator
knows; the reclaimer looks at their notices ten times a second.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from kubernetes.client.rest import ApiException

from devtools.controlplane.kube import Kube
from devtools.controlplane.nodes import KARPENTER_NODEPOOL_LABEL
from devtools.eks.agenda import Agenda
from devtools.imds import ImdsSimulator

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE: Final = "kube-node-lease"
GONE_HOLDER: Final = "terminated-instance"
"""Holder written into a reclaimed node's Lease, so kwok stops renewing it."""
POLL_S: Final = 0.1
NOT_READY_POLL_S: Final = 1.0


def _ready(obj: Mapping[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def live_and_ready(
    pods: Iterable[Mapping[str, Any]], gone: Mapping[str, dt.datetime], at: dt.datetime
) -> list[Mapping[str, Any]]:
    """The pods that serve at ``at``: Ready in the API, not terminating, and on a node whose
    instance was not gone by then (``gone``: node → instant, from :meth:`Reclaimer.gone`)."""
    serving = []
    for pod in pods:
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        dead = node in gone and gone[node] <= at
        if _ready(pod) and not dead and "deletionTimestamp" not in pod["metadata"]:
            serving.append(pod)
    return serving


class Reclaimer:
    """Reclaims the nodes of ``imds`` at their notices' deadlines; start()/stop() or a context.

    ``on_gone``: called with the node's name at the deadline, before anything else.
    """

    def __init__(
        self,
        kube: Kube,
        imds: ImdsSimulator,
        *,
        on_gone: Sequence[Callable[[str], object]] = (),
        node_deletion_delay_s: float = 5.0,
    ) -> None:
        self._kube, self._imds = kube, imds
        self._hooks = list(on_gone)
        self._deletion_delay_s = node_deletion_delay_s
        self._gone: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()
        self._agenda = Agenda("reclaimer")

    def __enter__(self) -> Reclaimer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._agenda.start()
        self._agenda.after(0, "poll", self._poll)

    def stop(self) -> None:
        self._agenda.stop()

    def on_gone(self, hook: Callable[[str], object]) -> None:
        """Also call ``hook(node)`` when an instance is gone."""
        self._hooks.append(hook)

    # --- what a benchmark reads ---------------------------------------------------------------

    def gone(self) -> dict[str, dt.datetime]:
        """Every reclaimed node, with the instant its instance stopped (its deadline)."""
        with self._lock:
            return dict(self._gone)

    def gone_at(self, node: str) -> dt.datetime | None:
        with self._lock:
            return self._gone.get(node)

    def is_live(self, node: str, at: dt.datetime | None = None) -> bool:
        """Whether ``node``'s instance still existed at ``at`` (default: now)."""
        moment = at or dt.datetime.now(dt.UTC)
        gone = self.gone_at(node)
        return gone is None or moment < gone

    # --- the reclaim --------------------------------------------------------------------------

    def _poll(self) -> None:
        try:
            now = dt.datetime.now(dt.UTC)
            for node in self._imds.nodes():
                with self._lock:
                    if node in self._gone:
                        continue
                try:
                    notice = self._imds.notice(node)
                except KeyError:  # removed meanwhile
                    continue
                if notice is not None and notice.time <= now:
                    self._reclaim(node, notice.time)
        finally:
            self._agenda.after(POLL_S, "poll", self._poll)

    def _reclaim(self, node: str, deadline: dt.datetime) -> None:
        with self._lock:
            self._gone[node] = deadline
        log.info("instance gone", extra={"node": node, "deadline": deadline.isoformat()})
        for hook in self._hooks:
            try:
                hook(node)
            except Exception:
                log.exception("on_gone hook failed", extra={"node": node})
        self._agenda.after(0, f"end/{node}", lambda: self._end(node))

    def _end(self, node: str) -> None:
        """The instance is gone: its heartbeats stop, and its Node goes (retried by the agenda
        if the API server is unavailable)."""
        self._stop_heartbeats(node)
        labels = self._labels(node)
        if labels is None:
            return
        if KARPENTER_NODEPOOL_LABEL in labels:
            self._delete(node)
        else:
            self._agenda.after(NOT_READY_POLL_S, f"not-ready/{node}", lambda: self._await(node))

    def _labels(self, node: str) -> dict[str, str] | None:
        try:
            return dict(self._kube.core.read_node(node).metadata.labels or {})
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def _stop_heartbeats(self, node: str) -> None:
        """Take the node's Lease from kwok: it stops renewing it and stops playing the node."""
        coordination = self._kube.coordination
        for _ in range(20):
            try:
                lease = coordination.read_namespaced_lease(node, NODE_LEASE_NAMESPACE)
                lease.spec.holder_identity = GONE_HOLDER
                lease.spec.lease_duration_seconds = 86400
                coordination.replace_namespaced_lease(node, NODE_LEASE_NAMESPACE, lease)
            except ApiException as error:
                if error.status == 404:
                    return
                if error.status != 409:
                    raise
            else:
                return
        raise RuntimeError(f"could not take the Lease of {node} from kwok")

    def _await(self, node: str) -> None:
        """Delete the Node once the controller manager has marked it NotReady."""
        try:
            current = self._kube.api.sanitize_for_serialization(self._kube.core.read_node(node))
        except ApiException as error:
            if error.status == 404:
                return
            raise
        if _ready(current):
            self._agenda.after(NOT_READY_POLL_S, f"not-ready/{node}", lambda: self._await(node))
            return
        log.info("node not ready; deleting it soon", extra={"node": node})
        self._agenda.after(self._deletion_delay_s, f"delete/{node}", lambda: self._delete(node))

    def _delete(self, node: str) -> None:
        try:
            self._kube.core.delete_node(node)
        except ApiException as error:
            if error.status != 404:
                raise
        log.info("node deleted", extra={"node": node})
