"""``/healthz``, ``/readyz`` and ``/metrics`` on a plain-HTTP port, for the kubelet and Prometheus.

Separate from the HTTPS admission port so that probes and scrapes need no certificate and can
never be confused with admission traffic.

* ``/healthz`` (liveness) answers while the event loop runs: a webhook whose loop is stuck
  stops answering and is restarted.
* ``/readyz`` (readiness) answers 200 only when the webhook can do its job: kopf has started,
  the HTTPS listener is up, and its certificate has not expired. The Service then sends it
  admission traffic; a replica with an expired certificate leaves the endpoints instead of
  failing every TLS handshake.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

import aiohttp.web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webhook import serving
from webhook.metrics import Metrics

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Readiness:
    """What ``/readyz`` checks; each a zero-argument callable so it is read at probe time."""

    started: Callable[[], bool]
    listening: Callable[[], bool]
    certificate_valid: Callable[[dt.datetime], bool]
    now: Callable[[], dt.datetime] = dataclasses.field(default=lambda: dt.datetime.now(dt.UTC))

    def problems(self) -> list[str]:
        checks = (
            (self.started(), "kopf has not finished starting"),
            (self.listening(), "the HTTPS admission listener is not up"),
            (self.certificate_valid(self.now()), "the serving certificate has expired"),
        )
        return [problem for ok, problem in checks if not ok]


class HealthServer:
    def __init__(self, address: str, port: int, readiness: Readiness, metrics: Metrics) -> None:
        self.address = address
        self.port = port
        self.readiness = readiness
        self.metrics = metrics
        self._runner: aiohttp.web.AppRunner | None = None

    async def start(self) -> None:
        if not self.port:
            return
        app = aiohttp.web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = aiohttp.web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await aiohttp.web.TCPSite(self._runner, self.address, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await serving.stop(self._runner)
            self._runner = None

    async def _healthz(self, _: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(text="ok\n")

    async def _readyz(self, _: aiohttp.web.Request) -> aiohttp.web.Response:
        problems = self.readiness.problems()
        if problems:
            return aiohttp.web.Response(status=503, text="not ready: " + "; ".join(problems) + "\n")
        return aiohttp.web.Response(text="ready\n")

    async def _metrics(self, _: aiohttp.web.Request) -> aiohttp.web.Response:
        body = generate_latest(self.metrics.registry)
        return aiohttp.web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
