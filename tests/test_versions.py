"""Every program says which release it is (`--version`), as the image checks of `make images`
and an operator's `kubectl exec ... --version` expect, without reading any settings."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest


@pytest.mark.parametrize(
    ("module", "program"),
    [("sidecar", "spot-failover-sidecar"), ("webhook", "spot-failover-webhook")],
)
def test_each_program_prints_the_package_version_with_no_settings(
    module: str, program: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, "--version"],
        env={"PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{program} {version('spot-failover')}"
