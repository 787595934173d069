"""Stopping an aiohttp server so that nothing it opened outlives it.

``AppRunner.cleanup()`` closes the server's connections but does not wait until their
transports are gone; a TLS connection needs a round trip with the peer to close. A process that
exits right after would drop those half-closed connections on the floor (and Python warns about
unclosed transports). :func:`stop` waits, briefly and boundedly, until every connection the
server had has reported ``connection_lost``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

import aiohttp.web

DRAIN_TIMEOUT_S: Final = 2.0
"""Upper bound for closing connections at shutdown; a peer that does not answer is dropped."""


async def stop(runner: aiohttp.web.AppRunner) -> None:
    server = runner.server
    handlers = server.connections if server is not None else []
    await runner.cleanup()
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while any(handler.transport is not None for handler in handlers):
        if time.monotonic() >= deadline:
            for handler in handlers:
                if handler.transport is not None:
                    handler.transport.abort()
            break
        await asyncio.sleep(0.01)
