"""The warden's settings: its own (``SPOT_FAILOVER_WARDEN_*``), and the sidecar settings it
leads a move with (the environment's ``SPOT_FAILOVER_*``, as the sidecars get them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sidecar.settings import Settings
from spot_common import contract


class WardenSettings(BaseSettings):
    """The warden's own settings (``SPOT_FAILOVER_WARDEN_*``)."""

    model_config = SettingsConfigDict(
        env_prefix=contract.ENV_PREFIX + "WARDEN_", frozen=True, extra="ignore"
    )

    pod_name: str = Field(min_length=1)
    """This pod's name (downward API): the warden holds Leases as
    ``spot-failover-warden/<pod_name>``."""
    namespaces: Annotated[frozenset[str], NoDecode] = frozenset()
    """Namespaces to follow (comma-separated); empty: every namespace (one watch of the
    cluster). Set it to the namespaces the webhook watches if it watches only some."""
    api_credentials_dir: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount")
    metrics_port: int = Field(default=9796, ge=0, le=65535)
    log_level: str = "INFO"

    @field_validator("namespaces", mode="before")
    @classmethod
    def _namespaces(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(filter(None, (n.strip() for n in value.split(","))))
        return value


def move_settings(holder: str, namespace: str, deployment: str) -> Settings:
    """The sidecar settings the warden leads the move of ``namespace/deployment`` with: the
    environment's ``SPOT_FAILOVER_*`` timings and Fargate labels, its own identity, no signal
    sources (a move that is under way needs none) and no metrics server of its own."""
    return Settings(
        pod_name=holder,
        namespace=namespace,
        deployment=deployment,
        node_name="spot-failover-warden",
        imds_enabled=False,
        node_source=False,
        node_events=False,
        metrics_port=0,
    )
