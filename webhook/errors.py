"""The webhook's errors, and the one place where Kubernetes client failures become them.

::

    WebhookError                  anything the webhook raises on purpose
    ├── MalformedReview           the HTTP body is not an AdmissionReview: answer 400
    ├── CertificateError          the serving certificate or key cannot be loaded
    └── ApiError                  a Kubernetes API request failed (``status``: HTTP, 0 if none)
        ├── RetryLater            the next attempt may succeed
        │   ├── Conflict          409: written by someone else first, or already exists
        │   ├── Throttled         429
        │   ├── ServerError       5xx
        │   └── Unreachable       refused, reset, timed out
        └── GiveUp                retrying will not help; report it
            ├── Forbidden         403: RBAC or an admission policy said no
            ├── NotFound          404
            └── Invalid           400/422: the request itself is wrong

Callers decide by branch: the admission path treats every ``ApiError`` as "could not tell" and
fails open; the RBAC controller retries ``RetryLater`` on its next resync and logs ``GiveUp``.
The client's exception is chained as ``__cause__``; bodies are cut before they reach a message,
so a log line never carries a whole object.
"""

from __future__ import annotations

import json
from typing import Final

import urllib3.exceptions
from kubernetes.client.rest import ApiException

_BODY_LIMIT: Final = 300


class WebhookError(Exception):
    """Base of the webhook's own errors."""


class MalformedReview(WebhookError):
    """The request body is not an AdmissionReview the webhook can answer.

    The message names what is wrong; it is sent back as the HTTP 400 body.
    """


class CertificateError(WebhookError):
    """The serving certificate files cannot be loaded (missing, unreadable, not matching)."""


class ApiError(WebhookError):
    """A Kubernetes API request failed."""

    status: int = 0

    def __init__(self, operation: str, detail: str, status: int = 0) -> None:
        super().__init__(f"{operation}: {detail}")
        self.operation = operation
        self.status = status


class RetryLater(ApiError):
    """Transient: a later attempt may succeed."""


class GiveUp(ApiError):
    """Permanent for this request."""


class Conflict(RetryLater):
    """409."""


class Throttled(RetryLater):
    """429."""


class ServerError(RetryLater):
    """5xx."""


class Unreachable(RetryLater):
    """No HTTP answer: refused, reset, or timed out."""


class Forbidden(GiveUp):
    """403."""


class NotFound(GiveUp):
    """404."""


class Invalid(GiveUp):
    """400 or 422."""


_BY_STATUS: Final[dict[int, type[ApiError]]] = {
    400: Invalid,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Invalid,
    429: Throttled,
}


def from_client_error(operation: str, error: BaseException) -> ApiError:
    """The typed error for a failure of the ``kubernetes`` client (or the way to the server).

    ``operation`` names the request, e.g. ``get ReplicaSet shop/web-7d4b9c6f5d``.
    """
    if isinstance(error, ApiError):
        return error
    if isinstance(error, ApiException):
        status = int(error.status or 0)
        detail = _message(error.body) or str(error.reason or "")
        if status == 0:
            return Unreachable(operation, detail or "no answer", status)
        kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else GiveUp)
        return kind(operation, f"{status} {detail}".strip(), status)
    if isinstance(error, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return Unreachable(operation, _cut(f"{type(error).__name__}: {error}"))
    return ApiError(operation, _cut(f"{type(error).__name__}: {error}"))


def _message(body: object) -> str:
    """The Status message of an error body, or the body itself, cut to a readable length."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body:
        return ""
    try:
        parsed = json.loads(body)
    except ValueError:
        return _cut(body)
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return _cut(parsed["message"])
    return _cut(body)


def _cut(text: str) -> str:
    return text if len(text) <= _BODY_LIMIT else text[:_BODY_LIMIT] + "..."
