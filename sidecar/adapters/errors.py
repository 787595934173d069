"""Kubernetes API failures as typed errors, mapped in this one place.

::

    ApiError                      anything the API server (or the way to it) did wrong
    ├── RetryLater                try again on the next tick
    │   ├── Conflict              409: someone wrote first; read again and decide again
    │   ├── Throttled             429
    │   ├── ServerError           5xx
    │   └── Unreachable           connection refused, reset, timed out
    └── GiveUp                    retrying will not help; report it
        ├── Forbidden             403: RBAC or an admission policy said no
        ├── NotFound              404
        ├── Invalid               400/422: the request itself is wrong
        └── NoCredentials         the pod's token, CA or service address is missing

The HTTP client's exception is chained as ``__cause__``; bodies are truncated before they reach a
message, so a log line never carries a whole object.
"""

from __future__ import annotations

import json
from typing import Final

import requests

_BODY_LIMIT: Final = 300


class ApiError(Exception):
    """A Kubernetes API request failed; ``status`` is the HTTP status, 0 if none came back."""

    status: int = 0

    def __init__(self, operation: str, detail: str, status: int = 0) -> None:
        super().__init__(f"{operation}: {detail}")
        self.operation = operation
        self.status = status


class RetryLater(ApiError):
    """Transient: the next tick may succeed."""


class GiveUp(ApiError):
    """Permanent for this request: retrying will not help."""


class Conflict(RetryLater):
    """409: the object changed since it was read (or already exists)."""


class Throttled(RetryLater):
    """429: the API server asks us to slow down."""


class ServerError(RetryLater):
    """5xx from the API server."""


class Unreachable(RetryLater):
    """No HTTP answer at all: refused, reset or timed out."""


class Forbidden(GiveUp):
    """403: RBAC or an admission policy refused the request."""


class NotFound(GiveUp):
    """404: the object does not exist."""


class Invalid(GiveUp):
    """400 or 422: the request was malformed or the object invalid."""


_BY_STATUS: Final[dict[int, type[ApiError]]] = {
    400: Invalid,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Invalid,
    429: Throttled,
}


def _reason(body: bytes | str) -> str:
    """The API server's ``Status.message`` if the body is one, else the truncated body."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    try:
        message = json.loads(text).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or text)[:_BODY_LIMIT]


def for_status(status: int, body: bytes | str, operation: str) -> ApiError:
    """The typed error for an HTTP answer ``status`` (not 2xx) to ``operation``."""
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else GiveUp)
    return kind(operation, f"HTTP {status}: {_reason(body)}", status)


def translate(error: Exception, operation: str) -> ApiError:
    """The typed error for a failure of ``operation`` (e.g. ``"replace deployment web"``)."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, requests.RequestException | OSError):
        return Unreachable(operation, f"{type(error).__name__}: {str(error)[:_BODY_LIMIT]}")
    raise error


class NoCredentials(GiveUp):
    """The pod's API credentials are not there: no ServiceAccount mount or service address."""

    def __init__(self, detail: str) -> None:
        super().__init__("load credentials", detail)
