"""promtool, built from Go modules by devtools/monitoring/build_promtool.sh (pinned, cached)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def promtool() -> Path:
    """The pinned promtool; built on first use (minutes), found in the cache afterwards."""
    result = subprocess.run(
        ["bash", str(ROOT / "devtools" / "monitoring" / "build_promtool.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())
