"""Kubernetes API failures as one tree of typed errors, shared by every program.

::

    ApiError                      anything the API server (or the way to it) did wrong
    ├── RetryLater                the next attempt may succeed
    │   ├── Conflict              409: someone wrote first (or it already exists); read again
    │   ├── Throttled             429
    │   ├── ServerError           5xx
    │   └── Unreachable           no HTTP answer: refused, reset, timed out
    └── GiveUp                    retrying will not help; report it
        ├── Forbidden             403: RBAC or an admission policy said no
        ├── NotFound              404
        └── Invalid               400/422: the request itself is wrong

Each program maps its own HTTP client's failures onto this tree in one adapter module (the
sidecar's over requests, the webhook's over the kubernetes client), with :func:`for_status` for
an HTTP answer (the command has a tree of its own, worded as kubectl words its errors). The
client's exception is chained as ``__cause__``; bodies are cut before they reach a message, so a
log line never carries a whole object.
"""

from __future__ import annotations

import json
from typing import Final

BODY_LIMIT: Final = 300
"""The longest excerpt of an answer's body that a message carries."""


class ApiError(Exception):
    """A Kubernetes API request failed; ``status`` is the HTTP status, 0 if none came back."""

    status: int = 0

    def __init__(self, operation: str, detail: str, status: int = 0) -> None:
        super().__init__(f"{operation}: {detail}")
        self.operation = operation
        self.status = status


class RetryLater(ApiError):
    """Transient: the next attempt may succeed."""


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


def for_status(status: int, body: bytes | str | None, operation: str) -> ApiError:
    """The typed error for an HTTP answer ``status`` (not 2xx; 0: none came) to ``operation``,
    e.g. ``"replace deployment shop/web"``."""
    detail = status_message(body)
    if status == 0:
        return Unreachable(operation, detail or "no answer", status)
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else GiveUp)
    return kind(operation, f"HTTP {status}: {detail}".rstrip(": "), status)


def status_message(body: bytes | str | None) -> str:
    """The API server's ``Status.message`` if ``body`` is one, else the body, cut short."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body or ""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    message = parsed.get("message") if isinstance(parsed, dict) else None
    return cut(message if isinstance(message, str) and message else text)


def cut(text: str) -> str:
    """``text`` cut to :data:`BODY_LIMIT` characters (marked with ``...`` if it was longer)."""
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "..."
