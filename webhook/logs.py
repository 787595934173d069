"""JSON logs for the webhook: configured once in ``__main__``, context in ``extra`` fields.

kopf logs every handler invocation at INFO on ``kopf.objects``; with an admission handler and
watch handlers that is one line per pod and per ReplicaSet change. Those loggers are held at
WARNING so that INFO means "something worth reading happened".
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

QUIET = ("kopf.objects", "kopf.activities", "aiohttp.access", "kubernetes", "urllib3")


def configure(level: str, *, program: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"program": program},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
