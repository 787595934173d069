"""What the state machine is told besides the Deployment, found out over the API and HTTP.

:class:`~sidecar.core.inputs.Facts` are plain values; this module reads what they say: which
claims the pods mount are backed by EBS (only when a move may start), the
pods on the interrupted node (only while a quota refuses the move's surge), whether spot
capacity is back (only once failback is due), and a health verdict when the machine asks for
one (:class:`~sidecar.core.actions.CheckHealth`: the Deployment's own pods of its current
template, their nodes' labels, and the Deployment's health URL if it has one).
"""

from __future__ import annotations

from datetime import datetime

import requests

from sidecar.adapters.kube import Kube
from sidecar.core import actions, claims, doomed, health, node_signal, strategy
from sidecar.core.annotations import DeploymentView
from sidecar.core.failback import failback_due_at
from sidecar.core.inputs import Policy
from sidecar.core.selectors import deployment_query
from sidecar.core.signals import Interruption
from sidecar.core.steps import STARTS_A_MOVE
from sidecar.settings import Settings
from spot_common import contract
from spot_common.contract import State


class FactFinder:
    def __init__(
        self, kube: Kube, settings: Settings, policy: Policy, http: requests.Session
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.policy = policy
        self.http = http

    def doomed_pods(self, view: DeploymentView) -> int:
        """The Deployment's pods on the interrupted node, counted only when a quota refuses the
        move's surge (:func:`sidecar.core.strategy.within_quota` needs it then)."""
        if view.state is not State.MIGRATING or view.notice is None:
            return 0
        if strategy.quota_refusal(view.body) is None:
            return 0
        if strategy.encode(strategy.current(view.body)) != contract.MOVE_STRATEGY:
            return 0
        pods = self.kube.list_pods(deployment_query(view.body))
        return len(doomed.on_node(pods, view.notice.node))

    def ebs_claims(self, view: DeploymentView, signal: Interruption | None) -> frozenset[str]:
        """The claims the template mounts that are backed by EBS, read only when a move may
        start now (a signal, in a state a move starts from): per claim the pods mount, the
        claim and its volume (or, unbound, its StorageClass). Most templates mount none."""
        if signal is None or view.state not in STARTS_A_MOVE:
            return frozenset()
        found = set()
        for name in claims.claim_names(view.template):
            claim = self.kube.get_claim(name)
            if claim is None:
                continue
            bound, kind = claims.volume_name(claim), claims.storage_class_name(claim)
            volume = self.kube.get_volume(bound) if bound is not None else None
            storage = self.kube.get_storage_class(kind) if volume is None and kind else None
            if claims.backed_by_ebs(claim, volume, storage):
                found.add(name)
        return frozenset(found)

    def spot_available(self, view: DeploymentView, now: datetime) -> bool:
        """Whether a spot node a move back can land on exists (any of the capacity labels, and
        :func:`sidecar.core.node_signal.capacity`); asked only once failback is due."""
        due = failback_due_at(view, self.policy, now)
        if due is None or now < due:
            return False
        for key, value in self.settings.spot_capacity_labels.items():
            nodes = self.kube.list_nodes(f"{key}={value}")
            going = self.settings.node_interruption_taints
            if any(node_signal.capacity(node, going) for node in nodes):
                return True
        return False

    def health(self, view: DeploymentView, check: actions.CheckHealth) -> health.Verdict:
        """The verdict on the Deployment's own pods of its current template
        (:func:`sidecar.core.health.current_pods`); an early check reads no nodes and no URL."""
        selector = deployment_query(view.body)
        replica_sets = self.kube.list_replica_sets(selector)
        pods = health.current_pods(view.body, replica_sets, self.kube.list_pods(selector))
        if pods is None:
            return health.NotYet("the ReplicaSet of the current template is not there yet")
        labels: dict[str, dict[str, str]] = {}
        names = {str((p.get("spec") or {}).get("nodeName")) for p in pods}
        for name in sorted(n for n in names if n != "None" and not check.early):
            node = self.kube.get_node(name)
            labels[name] = dict((node.get("metadata") or {}).get("labels") or {})
        verdict = health.pods_verdict(
            pods, labels, expected=check.expected, replicas=check.replicas
        )
        if check.early:
            return health.early(verdict)
        if check.url is None:
            return verdict
        ok, detail = self._probe(check.url)
        return health.with_http_check(verdict, ok=ok, detail=detail)

    def _probe(self, url: str) -> tuple[bool, str]:
        detail = ""
        for _ in range(self.settings.health_retries):
            try:
                response = self.http.get(url, timeout=self.settings.health_timeout_s)
            except requests.RequestException as error:
                detail = f"{type(error).__name__}: {str(error)[:200]}"
                continue
            if 200 <= response.status_code < 300:
                return True, f"HTTP {response.status_code}"
            detail = f"HTTP {response.status_code}"
        return False, detail
