"""The webhook's own errors; pure (the API's failures are :mod:`spot_common.api_errors`,
mapped from the client's in :mod:`webhook.adapters.errors`).

::

    WebhookError                  anything the webhook raises on purpose
    ├── MalformedReview           the HTTP body is not an AdmissionReview: answer 400
    └── CertificateError          the serving certificate or key cannot be loaded
"""

from __future__ import annotations


class WebhookError(Exception):
    """Base of the webhook's own errors."""


class MalformedReview(WebhookError):
    """The request body is not an AdmissionReview the webhook can answer.

    The message names what is wrong; it is sent back as the HTTP 400 body.
    """


class CertificateError(WebhookError):
    """The serving certificate files cannot be loaded (missing, unreadable, not matching)."""
