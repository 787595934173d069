"""What one admission review may cost the webhook before it is parsed: bytes, time, company.

Anyone who can open a connection to the webhook port could otherwise make it hold many large
bodies at once (each upload stalled just before its end) until the container runs out of
memory, and then pods are admitted without sidecars. The NetworkPolicy in deploy/ lets only
the API server's traffic reach the port; these bounds hold even without it:

* **size**: at most :data:`MAX_BODY_BYTES`. The API server refuses request bodies over 3 MiB
  and etcd objects over 1.5 MiB, and a review of a pod CREATE carries the pod once (no
  ``oldObject``), so a larger body cannot come from the API server. Announced larger: 413 before
  a byte is read;
* **time**: the whole body within :data:`BODY_TIMEOUT_S` (the API server sends it at once and
  gives up on the review after ``timeoutSeconds`` anyway): 408;
* **company**: at most :data:`LARGE_BODIES` bodies larger than :data:`SMALL_BODY_BYTES` (or of
  unknown length) are read at once, and at most :data:`SMALL_BODIES` small ones; beyond that,
  503 at once. A real pod's review is a few KiB, so valid reviews are small and are not queued
  behind stalled large uploads.

Worst case buffered: LARGE_BODIES x MAX_BODY_BYTES + SMALL_BODIES x SMALL_BODY_BYTES, about
29 MiB. Refusals are answered quickly; the API server then applies the configuration's
``failurePolicy: Ignore`` (the pod is admitted unchanged).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Final

import aiohttp.web

MAX_BODY_BYTES: Final = 3 * 1024 * 1024 + 256 * 1024
"""The API server's 3 MiB request limit, plus the review's envelope."""
SMALL_BODY_BYTES: Final = 256 * 1024
LARGE_BODIES: Final = 4
SMALL_BODIES: Final = 64
BODY_TIMEOUT_S: Final = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class Refused:
    """Why a body is not read: the HTTP status and a line for the client."""

    status: int
    reason: str


class Intake:
    """Reads admission bodies within the bounds above; one per server."""

    def __init__(
        self,
        *,
        max_bytes: int = MAX_BODY_BYTES,
        large: int = LARGE_BODIES,
        small: int = SMALL_BODIES,
        timeout_s: float = BODY_TIMEOUT_S,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self._free = {True: large, False: small}

    async def read(self, request: aiohttp.web.Request) -> bytes | Refused:
        """The body, or why it was not read."""
        length = request.content_length
        if length is not None and length > self.max_bytes:
            return Refused(413, f"an admission review is at most {self.max_bytes} bytes")
        large = length is None or length > SMALL_BODY_BYTES
        if self._free[large] <= 0:
            return Refused(503, "too many admission reviews being received at once")
        self._free[large] -= 1
        try:
            if request.content.is_eof():  # it all came with the headers, as a review's body does
                return await request.read()
            async with asyncio.timeout(self.timeout_s):
                return await request.read()
        except TimeoutError:
            return Refused(408, f"the body did not arrive within {self.timeout_s} s")
        except aiohttp.web.HTTPRequestEntityTooLarge:
            return Refused(413, f"an admission review is at most {self.max_bytes} bytes")
        finally:
            self._free[large] += 1
