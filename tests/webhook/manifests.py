"""deploy/ as the user gets it: rendered with the cluster's kubectl (kustomize), parsed."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from devtools.controlplane.binaries import locate

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CERT_MANAGER = DEPLOY / "overlays" / "cert-manager"


@functools.cache
def render(directory: Path = DEPLOY) -> tuple[dict[str, Any], ...]:
    """``kubectl kustomize <directory>``, as a tuple of objects."""
    result = subprocess.run(
        [str(locate().kubectl), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(objects: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The one object of ``kind`` (and ``name``)."""
    (found,) = [
        obj
        for obj in objects
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]
    return found


def kinds(objects: Iterable[dict[str, Any]]) -> set[str]:
    return {obj["kind"] for obj in objects}
