"""The IMDS signal source: one poll per tick, and what to do when IMDS cannot be reached.

A poll asks ``spot/instance-action`` (and the rebalance recommendation when that trigger is on);
a sidecar on Fargate asks nothing (Fargate pods have no IMDS).
When IMDS does not answer at all — with IMDSv2 required and a hop limit of 1 a container gets
no token — the source says so once (log, Event, metric), keeps the node source in charge, and
tries again only every :data:`UNREACHABLE_RETRY_S`. It never raises: the poll loop must never
crash-loop on IMDS.

It asks at most once per ``min_interval`` and answers sooner calls with the last result: a
leader following a busy rollout ticks on every change of its Deployment, and IMDS throttles
eager clients.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sidecar.adapters.imds import (
    ImdsClient,
    ImdsError,
    ImdsMalformed,
    ImdsUnavailable,
    ImdsUnreachable,
)
from sidecar.core.imds_body import (
    interruption_from_instance_action,
    interruption_from_rebalance,
)
from sidecar.core.signals import Interruption
from sidecar.metrics import Metrics
from sidecar.sources import PollContext

log = logging.getLogger(__name__)

UNREACHABLE_RETRY_S = 60.0
"""How often to try an unreachable IMDS again: each try costs a whole timeout."""


class ImdsSource:
    """Polls IMDS for this node; remembers whether IMDS is reachable."""

    kind = "imds"

    def __init__(
        self,
        client: ImdsClient,
        node: str,
        metrics: Metrics,
        *,
        on_unreachable: Callable[[str], None],
        min_interval: timedelta = timedelta(0),
    ) -> None:
        self.client = client
        self.min_interval = min_interval
        self._polled_at: datetime | None = None
        self._last: Interruption | None = None
        self.node = node
        self.metrics = metrics
        self.reachable: bool | None = None
        self._on_unreachable = on_unreachable
        self._retry_at: datetime | None = None

    def poll(self, now: datetime, context: PollContext) -> Interruption | None:
        """This node's interruption signal from IMDS, or ``None`` (also when IMDS failed, and
        on Fargate, where nothing is asked)."""
        if context.on_fargate:
            return None
        if self._polled_at is not None and now - self._polled_at < self.min_interval:
            return self._last
        self._polled_at = now
        self._last = self._ask(now, rebalance=context.rebalance_wanted)
        return self._last

    def _ask(self, now: datetime, *, rebalance: bool) -> Interruption | None:
        if self._retry_at is not None and now < self._retry_at:
            return None
        try:
            notice = self.client.instance_action()
            signal = (
                interruption_from_instance_action(notice, node=self.node, seen_at=now)
                if notice is not None
                else None
            )
            if signal is None and rebalance:
                recommended = self.client.rebalance()
                if recommended is not None:
                    signal = interruption_from_rebalance(recommended, node=self.node, seen_at=now)
        except ImdsUnreachable as error:
            self._unreachable(now, error)
            return None
        except ImdsMalformed as error:
            self.metrics.imds_polls.labels("malformed").inc()
            log.warning("IMDS answered garbage", extra={"error": str(error), "node": self.node})
            return None
        except ImdsUnavailable as error:
            self.metrics.imds_polls.labels("unavailable").inc()
            log.info("IMDS unavailable", extra={"error": str(error), "node": self.node})
            return None
        except ImdsError as error:
            self.metrics.imds_polls.labels("refused").inc()
            log.warning("IMDS refused", extra={"error": str(error), "node": self.node})
            return None
        self._reachable()
        self.metrics.imds_polls.labels("notice" if signal else "none").inc()
        return signal

    def _reachable(self) -> None:
        if self.reachable is False:
            log.info("IMDS reachable again", extra={"node": self.node})
        self.reachable = True
        self._retry_at = None
        self.metrics.imds_reachable.set(1)

    def _unreachable(self, now: datetime, error: ImdsUnreachable) -> None:
        self.metrics.imds_polls.labels("unreachable").inc()
        self.metrics.imds_reachable.set(0)
        self._retry_at = now + timedelta(seconds=UNREACHABLE_RETRY_S)
        if self.reachable is not False:
            self.reachable = False
            message = (
                f"IMDS is unreachable from this pod ({error}); watching the Node object instead. "
                "With IMDSv2 required, set the instance metadata hop limit to 2 so containers "
                "get a token."
            )
            log.warning("IMDS unreachable", extra={"node": self.node, "error": str(error)})
            self._on_unreachable(message)
