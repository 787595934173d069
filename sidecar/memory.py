"""What the sidecar's loop remembers between ticks; all of it can be rebuilt from one read."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime

from sidecar.core import health
from sidecar.core.annotations import DeploymentView
from sidecar.core.wakeup import SignalKey
from sidecar.settings import Settings


@dataclasses.dataclass
class Memory:
    """The last view of the Deployment and what the loop decided about it."""

    view: DeploymentView | None = None
    handled: set[SignalKey] = dataclasses.field(default_factory=set)
    """Signals already decided on, so a lasting notice is not re-read every poll."""
    wake_at: datetime | None = None
    health: health.Verdict | None = None
    """The verdict of this tick's health check, until the Deployment changes."""
    failed_ticks: int = 0
    refused_until: datetime | None = None
    """Set after a refusal that retrying will not mend (:class:`~spot_common.api_errors.GiveUp`)."""
    refusals: int = 0
    """Refusals in a row (see :func:`sidecar.core.wakeup.refused_backoff_s`)."""
    seen: Mapping[str, str] | None = None
    """The annotations of the Deployment as the last tick found it (parsed or not), to tell
    when they change (:func:`sidecar.core.wakeup.changed`)."""
    unusable: int = 0
    """Ticks in a row that found the Deployment unusable (an annotation that does not parse)."""
    unusable_until: datetime | None = None
    """While the Deployment is unusable: when to look again if it does not change before."""

    def context(self, settings: Settings) -> dict[str, str]:
        """The fields of every log line about this Deployment."""
        view = self.view
        return {
            "deployment": settings.deployment,
            "namespace": settings.namespace,
            "pod": settings.pod_name,
            "state": str(view.state) if view is not None else "unknown",
        }
