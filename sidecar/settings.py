"""The sidecar's settings: one frozen pydantic-settings class, read from ``SPOT_FAILOVER_*``.

The webhook injects the identity fields through the downward API (see :mod:`spot_common.contract`)
and the rest from its own configuration. A missing or invalid value stops the sidecar at
start-up with a message naming the variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sidecar.core import fargate
from sidecar.core.durations import NEVER, Duration
from sidecar.core.inputs import Policy
from sidecar.core.node_signal import NodeTaints
from sidecar.core.overrides import parse_label_pairs
from spot_common import contract


class Settings(BaseSettings):
    """Everything the sidecar can be told; printed once at start-up."""

    model_config = SettingsConfigDict(env_prefix=contract.ENV_PREFIX, frozen=True, extra="ignore")

    # --- identity (downward API, injected by the webhook) -----------------------------------
    pod_name: str = Field(min_length=1)
    """This pod's name: the sidecar's identity as Lease holder."""
    namespace: str = Field(min_length=1)
    """This pod's namespace, which is also the Deployment's."""
    node_name: str = Field(min_length=1)
    """The node this pod runs on, whose interruption the sidecar watches."""
    deployment: str = Field(min_length=1)
    """The owning Deployment, resolved by the webhook at admission."""

    api_credentials_dir: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount")
    """Where the pod's ServiceAccount volume (token, ca.crt) is mounted; the webhook mounts
    it at this standard path. The API server's address comes from the kubelet's
    ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``."""

    # --- IMDS ------------------------------------------------------------------------------
    imds_url: str = "http://169.254.169.254"
    """IMDS base URL. The default is the link-local address every EC2 instance serves."""
    imds_enabled: bool = True
    """Poll IMDS at all. Off on clusters where only the node source is wanted."""
    poll_interval_s: float = Field(default=2.0, gt=0, le=30)
    """Seconds between IMDS polls. 2 s like the node termination handler: the notice gives
    ~120 s and Fargate needs ~60 s, so every second of detection delay counts."""
    imds_timeout_s: float = Field(default=2.0, gt=0, le=30)
    """HTTP timeout per IMDS request, seconds. A token PUT that times out means hop limit 1."""
    imds_retries: int = Field(default=3, ge=1, le=10)
    """Attempts per IMDS request before the poll counts as failed."""
    imds_token_ttl_s: int = Field(default=3600, ge=60, le=21600)
    """IMDSv2 token lifetime; the token is refreshed shortly before it expires."""
    imds_allow_v1: bool = False
    """Fall back to IMDSv1 (no token) when the token request fails. Off: v1 is a known SSRF
    vector and most EKS nodes require v2."""
    rebalance_trigger: bool = False
    """Treat an EC2 rebalance recommendation as the start signal (per Deployment:
    the ``spot-failover/rebalance-trigger`` annotation)."""
    disruption_trigger: bool = False
    """Treat a voluntary disruption of the node (a disruption taint or the Node's deletion,
    with no interruption recorded) as the start signal (per Deployment: the
    ``spot-failover/disruption-trigger`` annotation)."""

    # --- node source -----------------------------------------------------------------------
    node_source: bool = True
    """Watch this pod's own Node for interruption and disruption taints and its deletion (one
    watch)."""
    node_interruption_taints: Annotated[frozenset[str], NoDecode] = frozenset(
        {
            "aws-node-termination-handler/spot-itn",
            "aws-node-termination-handler/rebalance-recommendation",
            "node.kubernetes.io/out-of-service",
        }
    )
    """Taint keys that mean "this node is being reclaimed" (comma-separated; a key containing
    ``rebalance`` means a rebalance recommendation)."""
    node_disruption_taints: Annotated[frozenset[str], NoDecode] = frozenset(
        {"karpenter.sh/disrupted"}
    )
    """Taint keys that mean "this node is being removed", for whatever reason (comma-separated):
    a voluntary disruption unless an interruption is recorded. Karpenter sets
    ``karpenter.sh/disrupted`` on every node it disrupts, interrupted or not."""
    node_events: bool = True
    """Once the Node is being removed, look for Karpenter's record of a spot interruption among
    its Events (in ``default``: one list, then one watch while the Node lasts)."""

    # --- leader election -------------------------------------------------------------------
    lease_duration_s: int = Field(default=15, ge=2, le=contract.MAX_LEASE_DURATION_S)
    """How long a Lease holds without renewal. Short: the holder's node is being reclaimed."""
    lease_renew_s: float = Field(default=2.0, gt=0)
    """How often the leader renews, and how often others retry while an action is pending."""

    # --- the move --------------------------------------------------------------------------
    fargate_labels: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=lambda: {"spot-failover/fargate": "true"}
    )
    """Pod labels your Fargate profile selects on (``key=value,...``); per Deployment:
    ``spot-failover/fargate-labels``."""
    fargate_profile: str = ""
    """If set, pods get ``eks.amazonaws.com/fargate-profile: <name>`` (picks one of several
    matching profiles); per Deployment: ``spot-failover/fargate-profile``."""
    rollout_timeout_s: float = Field(default=300, gt=0)
    """Overall limit for one move (rollout plus health), seconds, on top of the Deployment's
    progressDeadlineSeconds. 5 min: Fargate pods typically start in 1-2 min."""
    health_retries: int = Field(default=5, ge=1)
    """Attempts of the optional health URL before a move counts as unhealthy."""
    health_timeout_s: float = Field(default=2.0, gt=0)
    """HTTP timeout per health URL attempt."""
    failback_after_s: float | None = Field(default=1800, ge=0)
    """Cooldown on Fargate before moving back to spot, seconds; ``never`` disables failback.
    30 min rides out a burst of reclaims in one pool. Per Deployment:
    ``spot-failover/failback-after``."""
    failback_add_ec2_annotation: bool = False
    """On failback, add ``eks.amazonaws.com/compute-type: ec2`` to the template: needed when a
    Fargate profile selects the whole namespace."""
    spot_capacity_labels: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=lambda: {
            "eks.amazonaws.com/capacityType": "SPOT",
            "karpenter.sh/capacity-type": "spot",
        }
    )
    """A node carrying any of these labels is spot capacity (managed node groups label
    ``eks.amazonaws.com/capacityType: SPOT``, Karpenter and EKS Auto Mode
    ``karpenter.sh/capacity-type: spot``) if it is Ready, not cordoned, not being deleted and not
    tainted as going away; one such node means spot capacity is back."""
    dry_run: bool = False
    """Log and record what would be done, never patch the pod template."""

    # --- operations ------------------------------------------------------------------------
    metrics_port: int = Field(default=9795, ge=0, le=65535)
    """Prometheus metrics port (0: off). It shares the pod's network namespace with the app."""
    log_level: str = "INFO"

    @field_validator("fargate_labels", "spot_capacity_labels", mode="before")
    @classmethod
    def _labels(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_label_pairs(value, source="label list")
        return value

    @field_validator("node_interruption_taints", "node_disruption_taints", mode="before")
    @classmethod
    def _taints(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(filter(None, (t.strip() for t in value.split(","))))
        return value

    @field_validator("failback_after_s", mode="before")
    @classmethod
    def _never(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() == "never":
            return None
        return value

    def node_taints(self) -> NodeTaints:
        """Which taint keys on the Node say what."""
        return NodeTaints(
            interruption=self.node_interruption_taints, disruption=self.node_disruption_taints
        )

    def policy(self) -> Policy:
        """The settings the pure state machine applies."""
        failback: Duration = (
            NEVER if self.failback_after_s is None else timedelta(seconds=self.failback_after_s)
        )
        return Policy(
            fargate_labels=dict(self.fargate_labels),
            fargate_profile=self.fargate_profile or None,
            failback_after=failback,
            rollout_timeout=timedelta(seconds=self.rollout_timeout_s),
            dry_run=self.dry_run,
            add_ec2_annotation_on_failback=self.failback_add_ec2_annotation,
            rebalance_trigger=self.rebalance_trigger,
            disruption_trigger=self.disruption_trigger,
            ec2_keys=fargate.DEFAULT_EC2_KEYS,
        )
