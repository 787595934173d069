"""Reading a kubectl-style table back into cells, cut where the headers start."""

from __future__ import annotations

import re


def cells(table: str) -> list[dict[str, str]]:
    """The rows of ``table`` as ``{header: cell}``."""
    header, *rows = table.splitlines()
    found = list(re.finditer(r"\S+", header))
    names = [match.group() for match in found]
    starts = [match.start() for match in found]
    bounds = [*starts[1:], None]
    return [
        {n: row[a:b].strip() for n, a, b in zip(names, starts, bounds, strict=True)} for row in rows
    ]
