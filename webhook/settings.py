"""The webhook's settings: one frozen pydantic-settings class, from ``SPOT_FAILOVER_WEBHOOK_*``.

Every field says its unit and why its default is what it is. The class is built once in
``__main__`` and passed down; nothing else reads ``SPOT_FAILOVER_WEBHOOK_*``. A missing or invalid
value stops the program at start-up with a message naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Annotated, Final

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from spot_common import contract
from webhook.core.injection_config import (
    InjectionConfig,
    PullPolicy,
    Resources,
    valid_image_reference,
)
from webhook.core.selection import SelectionConfig

ENV_PREFIX: Final = "SPOT_FAILOVER_WEBHOOK_"
ADMISSION_TIMEOUT_S: Final = 5
"""``timeoutSeconds`` of the shipped MutatingWebhookConfiguration: the API server's budget for
one call to the webhook. Everything the webhook may wait on must fit well inside it."""


def package_version() -> str:
    """The installed distribution's version; ``0.0.0`` when running from a bare checkout."""
    try:
        return metadata.version("spot-failover")
    except metadata.PackageNotFoundError:
        return "0.0.0"


class Settings(BaseSettings):
    """Everything the webhook can be told; printed once at start-up."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    # --- serving -------------------------------------------------------------------------------
    listen_address: str = "0.0.0.0"  # noqa: S104 - a pod serves the API server on its pod IP
    """Address of the HTTPS admission endpoint and the HTTP health endpoint. All interfaces:
    the API server reaches the webhook through its Service, on the pod IP."""
    port: int = Field(default=9443, ge=1, le=65535)
    """HTTPS port for admission reviews. 9443 is the usual unprivileged webhook port."""
    health_port: int = Field(default=8080, ge=0, le=65535)
    """Plain-HTTP port for ``/healthz``, ``/readyz`` and ``/metrics`` (kubelet probes and
    Prometheus do not need TLS); 0 disables it."""
    tls_cert_file: Path = Path("/etc/spot-failover/tls/tls.crt")
    """Serving certificate (PEM, chain allowed), from the mounted Secret."""
    tls_key_file: Path = Path("/etc/spot-failover/tls/tls.key")
    """Private key of the serving certificate (PEM)."""
    tls_reload_interval_s: float = Field(default=10.0, gt=0, le=3600)
    """Seconds between checks of the certificate files for rotation. A check is a ``stat``; the
    kubelet refreshes a mounted Secret within about a minute, so 10 s adds little to that."""

    # --- the injected sidecar --------------------------------------------------------------------
    sidecar_image: str = Field(min_length=1)
    """Image of the injected sidecar; required, because only the installer knows its registry.
    A Deployment may override it with the annotation ``spot-failover/sidecar-image``."""
    sidecar_image_pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT
    """``imagePullPolicy`` of the sidecar. IfNotPresent: the image is pinned by tag or digest."""
    sidecar_version: str = Field(default_factory=package_version, min_length=1)
    """Written to each injected pod's annotation ``spot-failover/injected``. Defaults to this
    package's version, which is also the sidecar's when both come from one release."""
    sidecar_native: bool = True
    """Inject a native sidecar (restartable init container, Kubernetes >= 1.29) so the sidecar
    outlives the app while its pod terminates; False appends a classic container."""
    sidecar_cpu_request: str = "10m"
    """CPU request of the sidecar. Tiny: it is added to every Fargate pod's bill."""
    sidecar_memory_request: str = "48Mi"
    """Memory request of the sidecar: its measured working set (BENCHMARKS.md), no more, for
    the same reason."""
    sidecar_cpu_limit: str | None = None
    """CPU limit; none, so the sidecar is not throttled exactly when it must act."""
    sidecar_memory_limit: str | None = "128Mi"
    """Memory limit: over twice the measured peak of the sidecar (a leader of 50 replicas)."""
    sidecar_metrics_port: int = Field(default=9795, ge=0, le=65535)
    """Port of the sidecar's metrics endpoint; 0 disables it."""
    sidecar_env: dict[str, str] = Field(default_factory=dict)
    """Further ``SPOT_FAILOVER_*`` settings for every sidecar, as a JSON object, e.g.
    ``{"SPOT_FAILOVER_FARGATE_LABELS": "team=web,compute=fargate"}``. Empty: the sidecar's own
    defaults."""

    # --- selection -------------------------------------------------------------------------------
    excluded_namespaces: Annotated[frozenset[str], NoDecode] = frozenset({"kube-system"})
    """Namespaces whose pods are never injected (comma-separated). The shipped configuration
    also excludes them with a namespaceSelector; this is the second line of defence."""
    watch_namespaces: Annotated[frozenset[str], NoDecode] = frozenset()
    """Namespaces whose ReplicaSets, Deployments and pods are cached and whose opted-in
    Deployments get RBAC (comma-separated). Empty: the whole cluster, which is what the
    shipped configuration admits pods from."""
    owner_lookup_timeout_s: float = Field(default=1.5, gt=0, le=ADMISSION_TIMEOUT_S - 1)
    """Budget in seconds for the direct API lookup of a pod's owner when the cache has not seen
    its ReplicaSet yet (at most two GETs). Well inside the API server's 5 s call timeout, so a
    slow API server costs the pod its sidecar (reported later), never its creation."""

    # --- controller ------------------------------------------------------------------------------
    manage_rbac: bool = True
    """Provision the per-Deployment Role, RoleBinding and nodes ClusterRoleBinding for the
    sidecars. Off where RBAC is managed elsewhere; the webhook then needs no RBAC-writing rights."""
    resync_interval_s: float = Field(default=300.0, gt=0)
    """Seconds between full re-checks of the provisioned RBAC against the cached Deployments.
    Events do the work; the resync only repairs what an error or an outage left behind."""
    report_interval_s: float = Field(default=60.0, gt=0)
    """Seconds between checks for pods of opted-in Deployments created without the sidecar
    (webhook down or too slow). One minute: the report is for humans, not for a control loop."""

    # --- process ---------------------------------------------------------------------------------
    kubeconfig: Path | None = None
    """A kubeconfig to use instead of the pod's ServiceAccount: for running outside a cluster."""
    log_level: str = "INFO"
    """Level of the JSON logs. INFO logs one line per decision that matters (start, RBAC
    changes, reports), never one per admission request."""

    @field_validator("excluded_namespaces", "watch_namespaces", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("sidecar_image")
    @classmethod
    def _image_reference(cls, value: str) -> str:
        if not valid_image_reference(value):
            raise ValueError(
                f"{value[:200]!r} is not an image reference; "
                "use e.g. registry.example.com/spot-failover/sidecar:0.1.0"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"{value!r} is not one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator(
        "sidecar_cpu_request", "sidecar_memory_request", "sidecar_cpu_limit", "sidecar_memory_limit"
    )
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None:
            Resources(cpu_request=value)  # raises with a message naming the quantity
        return value

    @field_validator("sidecar_env")
    @classmethod
    def _sidecar_env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name.startswith(contract.ENV_PREFIX):
                raise ValueError(f"{name!r} is not a sidecar setting ({contract.ENV_PREFIX}*)")
        InjectionConfig(image="sidecar", version="0", extra_env=value)  # the same rules as inject
        return value

    def injection_config(self) -> InjectionConfig:
        """What :func:`webhook.core.injection.inject` needs, from these settings."""
        return InjectionConfig(
            image=self.sidecar_image,
            version=self.sidecar_version,
            image_pull_policy=self.sidecar_image_pull_policy,
            resources=Resources(
                cpu_request=self.sidecar_cpu_request,
                memory_request=self.sidecar_memory_request,
                cpu_limit=self.sidecar_cpu_limit,
                memory_limit=self.sidecar_memory_limit,
            ),
            extra_env=self.sidecar_env,
            native_sidecar=self.sidecar_native,
            metrics_port=self.sidecar_metrics_port,
        )

    def selection_config(self) -> SelectionConfig:
        return SelectionConfig(excluded_namespaces=self.excluded_namespaces)

    def printable(self) -> Mapping[str, object]:
        """The settings as logged at start-up (nothing here is secret)."""
        return self.model_dump(mode="json")


def env_name(field: str) -> str:
    """The environment variable of a settings field, for error messages."""
    return ENV_PREFIX + field.upper()
