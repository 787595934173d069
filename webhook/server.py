"""The HTTPS endpoint the API server calls: a kopf webhook server with our own front door.

kopf runs admission handlers behind a "webhook server" object (``settings.admission.server``):
a callable that takes kopf's review function and serves it. This one serves it on one fixed
path, over HTTPS with the in-place reloading certificate of :mod:`webhook.tls`, and puts four
guarantees in front of kopf:

* a body costs at most what :mod:`webhook.intake` allows (size, time, bodies at once), else
  413, 408 or 503 at once;
* a body that is not an AdmissionReview gets **400** with a message naming the problem
  (:mod:`webhook.core.review`), never a 500 or a crash;
* a review that kopf cannot answer, or answers with "not allowed", still gets "allowed,
  unchanged" plus a warning, a log line and an error metric: this webhook only ever adds a
  sidecar, so refusing a pod is never its call (fail open);
* every answered review is counted and timed.

kopf is handed the review with the pod replaced by its view (:mod:`webhook.core.pod_view`): the
fields the webhook reads, which give the same patch at a fraction of kopf's cost of copying and
diffing the whole pod.

Access logs are off: one line per pod would cost more than the review itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp.web
import kopf
import orjson

from webhook import intake, serving
from webhook.admission import INTERNAL_ERROR_WARNING
from webhook.core import review
from webhook.core.errors import MalformedReview
from webhook.metrics import Metrics
from webhook.tls import ReloadingCertificate

log = logging.getLogger(__name__)

HANDLER_ID: Final = "inject-sidecar"
"""kopf's id of the mutate handler, and so the URL path the webhook configuration calls."""
PATH: Final = "/" + HANDLER_ID

UNHANDLED_WARNING: Final = (
    "spot-failover: the sidecar injector handles only pod CREATE, got {what}; "
    "its MutatingWebhookConfiguration should not route this request here"
)


class AdmissionServer:
    """Serves kopf's review function on ``https://<address>:<port>/inject-sidecar``."""

    def __init__(
        self,
        address: str,
        port: int,
        certificate: ReloadingCertificate,
        metrics: Metrics,
    ) -> None:
        self.address = address
        self.port = port
        self.certificate = certificate
        self.metrics = metrics
        self.listening = asyncio.Event()
        self.intake = intake.Intake()
        self._answered = metrics.requests.labels("200")

    async def __call__(self, fn: kopf.WebhookFn) -> AsyncIterator[kopf.WebhookClientConfig]:
        async def handle(request: aiohttp.web.Request) -> aiohttp.web.Response:
            return await self._handle(fn, request)

        app = aiohttp.web.Application(client_max_size=self.intake.max_bytes)
        app.router.add_post(PATH, handle)
        runner = aiohttp.web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            site = aiohttp.web.TCPSite(
                runner, self.address, self.port, ssl_context=self.certificate.context
            )
            await site.start()
            self.listening.set()
            log.info("serving admission reviews", extra={"port": self.port, "path": PATH})
            # kopf only uses this to manage a webhook configuration, which it does not here.
            yield kopf.WebhookClientConfig(url=f"https://{self.address}:{self.port}{PATH}")
            await asyncio.Event().wait()
        finally:
            self.listening.clear()
            await serving.stop(runner)

    async def _handle(
        self, fn: kopf.WebhookFn, request: aiohttp.web.Request
    ) -> aiohttp.web.Response:
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
            answer = await self._review(fn, parsed)
        else:
            self.metrics.skipped.labels("unsupported_request").inc()
            warning = UNHANDLED_WARNING.format(what=parsed.what)
            answer = review.allowed(parsed, warnings=(warning,))
        self._answered.inc()
        self.metrics.latency.observe(time.perf_counter() - started)
        return aiohttp.web.Response(
            body=orjson.dumps(answer), content_type="application/json", charset="utf-8"
        )

    async def _review(self, fn: kopf.WebhookFn, parsed: review.Review) -> dict[str, Any]:
        try:
            request: Any = review.for_kopf(parsed)  # kopf's type is a TypedDict
            answer: Any = await fn(request, webhook=HANDLER_ID, headers={}, sslpeer={})
            response = answer.get("response") if isinstance(answer, dict) else None
            if isinstance(response, dict) and response.get("allowed") is True:
                return dict(answer)
            problem = f"kopf answered {str(answer)[:300]}"
        except Exception as error:
            problem = repr(error)
        self.metrics.errors.labels("admission").inc()
        log.warning("admitting a pod unchanged: the review failed", extra={"error": problem})
        return review.allowed(parsed, warnings=(INTERNAL_ERROR_WARNING,))
