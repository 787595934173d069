"""The sidecar's side of the API-error tree (:mod:`spot_common.api_errors`): what
requests raises, mapped onto the tree in this one place, and the one error of its own.

::

    GiveUp
    └── NoCredentials             the pod's token, CA or service address is missing
"""

from __future__ import annotations

import requests

from spot_common.api_errors import ApiError, GiveUp, Unreachable, cut


def translate(error: Exception, operation: str) -> ApiError:
    """The typed error for a failure of ``operation`` (e.g. ``"replace deployment web"``)."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, requests.RequestException | OSError):
        return Unreachable(operation, cut(f"{type(error).__name__}: {error}"))
    raise error


class NoCredentials(GiveUp):
    """The pod's API credentials are not there: no ServiceAccount mount or service address."""

    def __init__(self, detail: str) -> None:
        super().__init__("load credentials", detail)
