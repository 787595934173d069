"""One webhook process, wired: the objects, the tasks around kopf, and an orderly stop.

:class:`Webhook` builds everything from :class:`~webhook.settings.Settings` and an API client,
and :meth:`Webhook.run` runs it until the stop flag is raised (``__main__``: until SIGTERM,
which kopf turns into a stop); :func:`serve` runs it on the event loop it is meant for.
Besides kopf's own tasks it runs the admission server, the health endpoint, the certificate
watcher, the RBAC resync and the reporter; they start before kopf (so kopf's shutdown, which
cancels every task it did not find at start, leaves them alone) and are stopped after it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Final

import kopf
import uvloop
from kubernetes import client

from webhook.adapters.kube import Kube
from webhook.admission import Admission
from webhook.core.owners import OwnerCache
from webhook.health import HealthServer, Readiness
from webhook.lookup import OwnerLookup
from webhook.metrics import FailoverStates, Metrics
from webhook.operator import build_registry, operator_settings
from webhook.rbac_controller import RbacController
from webhook.reporter import Reporter
from webhook.server import AdmissionServer
from webhook.settings import Settings
from webhook.tls import ReloadingCertificate

log = logging.getLogger(__name__)

StopFlag = threading.Event | asyncio.Event

CLOSE_GRACE_S: Final = 0.5
"""Seconds the event loop keeps running after kopf stopped, for connections still closing."""


class Webhook:
    """Everything one webhook process runs. It owns ``api`` and closes it when it stops."""

    def __init__(self, settings: Settings, api: client.ApiClient, instance: str = "") -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.kube = Kube(api)
        self.cache = OwnerCache(settings.watch_namespaces)
        self.metrics.registry.register(FailoverStates(self.cache.deployments))
        lookups = Kube(api, on_request=self.metrics.admission_api_calls.inc)
        self.lookup = OwnerLookup(
            self.cache,
            lookups,
            settings.owner_lookup_timeout_s,
            on_result=lambda source: self.metrics.owner_lookups.labels(source).inc(),
        )
        self.admission = Admission(
            settings.selection_config(), settings.injection_config(), self.lookup, self.metrics
        )
        self.certificate = ReloadingCertificate(
            settings.tls_cert_file,
            settings.tls_key_file,
            on_reload=lambda _: self._certificate_reloaded(),
            on_error=lambda _: self.metrics.errors.labels("tls").inc(),
        )
        self._record_expiry()
        self.server = AdmissionServer(
            settings.listen_address, settings.port, self.certificate, self.metrics, self.admission
        )
        self.controller = (
            RbacController(self.kube, self.cache, settings.excluded_namespaces, self.metrics)
            if settings.manage_rbac
            else None
        )
        self.reporter = Reporter(
            self.kube,
            self.cache,
            settings.selection_config(),
            self.metrics,
            instance=instance or socket.gethostname(),
        )
        self.started = threading.Event()
        """Set once kopf has started (and cleared when it stops); ``/readyz`` reads it."""
        self.health = HealthServer(
            settings.listen_address,
            settings.health_port,
            Readiness(
                started=self.started.is_set,
                listening=self.server.listening.is_set,
                certificate_valid=lambda now: not self.certificate.expired(now),
            ),
            self.metrics,
        )
        self.registry = build_registry(self.cache, self.controller, api.configuration)

    def _certificate_reloaded(self) -> None:
        self.metrics.certificate_reloads.inc()
        self._record_expiry()

    def _record_expiry(self) -> None:
        if self.certificate.not_after is not None:
            self.metrics.certificate_expiry.set(self.certificate.not_after.timestamp())

    async def run(self, stop_flag: StopFlag | None = None) -> None:
        """Serve until ``stop_flag`` is raised (or, in the main thread, SIGTERM/SIGINT)."""
        settings = self.settings
        background: list[asyncio.Task[None]] = []
        try:
            await self.health.start()
            await self.server.start()
            background = [
                self._every(settings.tls_reload_interval_s, self._check_certificate, "tls"),
                self._every(settings.report_interval_s, self.reporter.check, "reporter"),
            ]
            if self.controller is not None:
                background.append(
                    self._every(settings.resync_interval_s, self.controller.resync, "rbac")
                )
            ready = asyncio.Event()
            background.append(asyncio.create_task(self._mark_started(ready), name="started marker"))
            namespaces = sorted(self.settings.watch_namespaces)
            await kopf.operator(
                registry=self.registry,
                settings=operator_settings(),
                standalone=True,
                clusterwide=not namespaces,
                namespaces=namespaces,
                stop_flag=stop_flag,
                ready_flag=ready,
            )
        finally:
            self.started.clear()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self.server.stop()
            await self.health.stop()
            self.kube.close()
            # kopf closes its open watch responses without waiting for their TLS close
            # handshakes; give them a moment so no connection is dropped half-closed.
            await asyncio.sleep(CLOSE_GRACE_S)
            log.info("stopped")

    async def _mark_started(self, ready: asyncio.Event) -> None:
        await ready.wait()
        self.started.set()
        log.info("started", extra={"watching": sorted(self.settings.watch_namespaces) or "all"})

    async def _check_certificate(self) -> None:
        self.certificate.check()

    def _every(
        self, interval_s: float, step: Callable[[], Awaitable[object]], component: str
    ) -> asyncio.Task[None]:
        """A task running ``step`` every ``interval_s`` seconds; a failing step is logged and
        counted, and the next one runs on time."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_s)
                try:
                    await step()
                except Exception:
                    self.metrics.errors.labels(component).inc()
                    log.exception("periodic %s step failed", component)

        return asyncio.create_task(loop(), name=component)


def serve(webhook: Webhook, stop_flag: StopFlag | None = None) -> None:
    """Run ``webhook`` until it stops, on uvloop's event loop.

    uvloop, which kopf supports, runs the loop, the sockets and TLS in C, where the standard
    library's loop does much of that in Python, for every admission review (BENCHMARKS.md,
    Admission, says what that saves).
    """
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(webhook.run(stop_flag))
