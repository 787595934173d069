"""What the state machine is told: the settings it applies and the facts a sidecar observes.

Both are plain frozen dataclasses so the daemon loop can build them from its settings and its
observations, and tests can build them directly. Neither holds a client or a clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta

from sidecar.core import fargate, health
from sidecar.core.durations import Duration
from sidecar.core.overrides import Overrides
from sidecar.core.signals import Interruption, Kind


@dataclasses.dataclass(frozen=True)
class Policy:
    """The settings the machine needs (filled from the sidecar's settings at start-up)."""

    fargate_labels: Mapping[str, str]
    """Pod labels that make pods match the Fargate profile (overridable per Deployment)."""
    fargate_profile: str | None
    """Fargate profile name written to the pod label ``eks.amazonaws.com/fargate-profile``."""
    failback_after: Duration
    """Cooldown on Fargate before moving back to spot, or ``NEVER``."""
    rollout_timeout: timedelta
    """Overall limit on one move (rollout plus health); past it the move has failed."""
    dry_run: bool
    """Record what would be done as Events; never write the Deployment."""
    add_ec2_annotation_on_failback: bool
    """On every move back to spot, also set the template annotation
    ``eks.amazonaws.com/compute-type: ec2`` (needed where a profile selects the namespace)."""
    rebalance_trigger: bool
    """Whether a rebalance recommendation starts a move (overridable per Deployment)."""
    disruption_trigger: bool = False
    """Whether a voluntary disruption of the node starts a move (overridable per Deployment)."""
    ec2_keys: frozenset[str] = fargate.DEFAULT_EC2_KEYS
    """nodeSelector and toleration keys that tie pods to EC2 capacity."""

    def rebalance_wanted(self, overrides: Overrides | None) -> bool:
        """Whether a rebalance recommendation starts a move: the Deployment's
        ``spot-failover/rebalance-trigger`` if set, else :attr:`rebalance_trigger`."""
        opted_in = overrides.rebalance_trigger if overrides is not None else None
        return self.rebalance_trigger if opted_in is None else opted_in

    def disruption_wanted(self, overrides: Overrides | None) -> bool:
        """Whether a voluntary disruption starts a move: the Deployment's
        ``spot-failover/disruption-trigger`` if set, else :attr:`disruption_trigger`."""
        opted_in = overrides.disruption_trigger if overrides is not None else None
        return self.disruption_trigger if opted_in is None else opted_in

    def wanted(self, overrides: Overrides | None) -> frozenset[Kind]:
        """The kinds of signal that start a move for a Deployment with ``overrides``."""
        return frozenset(
            {Kind.INTERRUPTION}
            | ({Kind.REBALANCE} if self.rebalance_wanted(overrides) else set())
            | ({Kind.DISRUPTION} if self.disruption_wanted(overrides) else set())
        )


@dataclasses.dataclass(frozen=True)
class Facts:
    """What this sidecar observes right now."""

    me: str
    """This sidecar's pod name: its lease identity, and the ``by`` of history entries."""
    holds_lease: bool
    """``sidecar.core.lease.holds(record, me, now, margin)`` for the Deployment's Lease."""
    interruption: Interruption | None = None
    """A signal for *this sidecar's node*, if any."""
    health: health.Verdict | None = None
    """The verdict asked for by :class:`~sidecar.core.actions.CheckHealth`, once computed."""
    spot_available: bool = False
    """Whether spot capacity looks available for a move back."""
    ebs_claims: frozenset[str] = frozenset()
    """Claims the template's pods mount that are backed by EBS (:mod:`sidecar.core.claims`);
    resolved by the shell only when this sidecar may start a move."""
    doomed_pods: int = 0
    """How many of the Deployment's pods run on the interrupted node; counted by the shell only
    while a ResourceQuota refuses the move's surge (:func:`sidecar.core.strategy.within_quota`)."""
