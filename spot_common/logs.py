"""JSON logs, set up once per program in its ``__main__``; context goes in ``extra`` fields."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from pythonjsonlogger.json import JsonFormatter


def configure(level: str, *, program: str, quiet: Iterable[str] = ()) -> None:
    """One JSON line per record on stderr, each naming ``program``; the loggers in ``quiet``
    (libraries that log every request or handler call) are held at WARNING or above."""
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
    for name in quiet:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
