"""The webhook's side of the API-error tree (:mod:`spot_common.api_errors`): what the
kubernetes client (and urllib3 under it) raises, mapped onto the tree in this one place.

Callers decide by branch: the admission path treats every ``ApiError`` as "could not tell" and
fails open; the RBAC controller retries ``RetryLater`` on its next resync and logs ``GiveUp``.
"""

from __future__ import annotations

import urllib3.exceptions
from kubernetes.client.rest import ApiException

from spot_common.api_errors import ApiError, Unreachable, cut, for_status


def from_client_error(operation: str, error: BaseException) -> ApiError:
    """The typed error for a failure of the ``kubernetes`` client (or the way to the server).

    ``operation`` names the request, e.g. ``get ReplicaSet shop/web-7d4b9c6f5d``.
    """
    if isinstance(error, ApiError):
        return error
    if isinstance(error, ApiException):
        status = int(error.status or 0)
        if status == 0:
            return Unreachable(operation, str(error.reason or "") or "no answer", status)
        return for_status(status, error.body or str(error.reason or ""), operation)
    if isinstance(error, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return Unreachable(operation, cut(f"{type(error).__name__}: {error}"))
    return ApiError(operation, cut(f"{type(error).__name__}: {error}"))
