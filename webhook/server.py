"""The HTTPS endpoint the API server calls: ``/inject-sidecar``, answered by the webhook itself.

The review path is the webhook's own, from the bytes in to the bytes out, with no framework
machinery per review: the body is read within bounds, decoded and checked
(:mod:`webhook.core.review`), the pod admitted (:mod:`webhook.admission`: the decision, the
injection and the JSON patch derived from the two pods), and the answer encoded. kopf runs the
rest of the webhook (:mod:`webhook.operator`), not this. Four guarantees:

* a body costs at most what :mod:`webhook.intake` allows (size, time, bodies at once), else
  413, 408 or 503 at once;
* a body that is not an AdmissionReview gets **400** with a message naming the problem
  (:mod:`webhook.core.review`), never a 500 or a crash;
* every pod is allowed: a review that cannot be answered gets "allowed, unchanged" plus a
  warning, a log line and an error metric; this webhook only ever adds a sidecar, so refusing a
  pod is never its call (fail open);
* every answered review is counted and timed.

A dry-run review is answered like any other: admitting a pod has no side effects
(``sideEffects: None`` in the webhook configuration), so there is nothing to leave out.

Access logs are off: one line per pod would cost more than the review itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

import aiohttp.web
import orjson

from webhook import intake, serving
from webhook.admission import INTERNAL_ERROR_WARNING, Admission
from webhook.core import review
from webhook.core.errors import MalformedReview
from webhook.metrics import Metrics
from webhook.tls import ReloadingCertificate

log = logging.getLogger(__name__)

PATH: Final = "/inject-sidecar"
"""The URL path the shipped MutatingWebhookConfiguration calls."""

UNHANDLED_WARNING: Final = (
    "spot-failover: the sidecar injector handles only pod CREATE, got {what}; "
    "its MutatingWebhookConfiguration should not route this request here"
)


class AdmissionServer:
    """Serves ``https://<address>:<port>/inject-sidecar`` from :meth:`start` to :meth:`stop`."""

    def __init__(
        self,
        address: str,
        port: int,
        certificate: ReloadingCertificate,
        metrics: Metrics,
        admission: Admission,
    ) -> None:
        self.address = address
        self.port = port
        self.certificate = certificate
        self.metrics = metrics
        self.admission = admission
        self.listening = asyncio.Event()
        self.intake = intake.Intake()
        self._answered = metrics.requests.labels("200")
        self._runner: aiohttp.web.AppRunner | None = None

    async def start(self) -> None:
        app = aiohttp.web.Application(client_max_size=self.intake.max_bytes)
        app.router.add_post(PATH, self._handle)
        runner = aiohttp.web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        self._runner = runner
        site = aiohttp.web.TCPSite(
            runner, self.address, self.port, ssl_context=self.certificate.context
        )
        await site.start()
        self.listening.set()
        log.info("serving admission reviews", extra={"port": self.port, "path": PATH})

    async def stop(self) -> None:
        """Stop listening and close every connection (idempotent; also after a failed start)."""
        self.listening.clear()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await serving.stop(runner)

    async def _handle(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        started = time.perf_counter()
        raw = await self.intake.read(request)
        if isinstance(raw, intake.Refused):
            self.metrics.requests.labels(str(raw.status)).inc()
            log.warning(
                "admission body refused", extra={"status": raw.status, "reason": raw.reason}
            )
            return aiohttp.web.Response(status=raw.status, text=f"{raw.reason}\n")
        try:
            parsed = review.parse(raw)
        except MalformedReview as error:
            self.metrics.requests.labels("400").inc()
            log.warning("malformed admission review", extra={"error": str(error)})
            return aiohttp.web.Response(status=400, text=f"bad AdmissionReview: {error}\n")
        if parsed.handled:
            answer = await self._review(parsed)
        else:
            self.metrics.skipped.labels("unsupported_request").inc()
            warning = UNHANDLED_WARNING.format(what=parsed.what)
            answer = orjson.dumps(review.allowed(parsed, warnings=(warning,)))
        self._answered.inc()
        self.metrics.latency.observe(time.perf_counter() - started)
        return aiohttp.web.Response(body=answer, content_type="application/json", charset="utf-8")

    async def _review(self, parsed: review.Review) -> bytes:
        """The encoded answer to a pod CREATE; "allowed, unchanged" if anything goes wrong."""
        try:
            outcome = await self.admission.admit(parsed.pod)
            answer = review.allowed(parsed, warnings=outcome.warnings, patch=outcome.patch or ())
            encoded = orjson.dumps(answer)
        except Exception as error:
            self.metrics.errors.labels("admission").inc()
            problem = {"error": repr(error)}
            log.warning("admitting a pod unchanged: the review failed", extra=problem)
            return orjson.dumps(review.allowed(parsed, warnings=(INTERNAL_ERROR_WARNING,)))
        return encoded
