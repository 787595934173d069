"""The results file: a flat JSON object, metric name → number, merged run after run."""

from __future__ import annotations

import json
import platform
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "latest.json"
RUNS = RESULTS.parent / "runs.json"
"""The figures of each suite's last few runs, for suites whose figures vary from run to run."""


def load(path: Path = RESULTS) -> dict[str, float]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {str(k): float(v) for k, v in data.items()}


def merge(figures: Mapping[str, float], path: Path = RESULTS) -> dict[str, float]:
    """Add ``figures`` to the file (newer values win) and return the whole set."""
    merged = {**load(path), **{k: round(float(v), 3) for k, v in figures.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(merged.items())), indent=2) + "\n")
    return merged


def record_run(
    suite: str, figures: Mapping[str, float], at: float, keep: int = 3, path: Path = RUNS
) -> list[dict[str, float]]:
    """Add one run of ``suite`` (its figures, and ``at``: when, Unix time) to its last runs, of
    which the ``keep`` newest stay; return them, oldest first."""
    recorded = _all_runs(path)
    run = {"at": round(at), **{k: round(float(v), 3) for k, v in sorted(figures.items())}}
    recorded[suite] = [*recorded.get(suite, []), run][-keep:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(recorded.items())), indent=2) + "\n")
    return recorded[suite]


def runs(suite: str, path: Path = RUNS) -> list[dict[str, float]]:
    """The recorded runs of ``suite``, oldest first."""
    return _all_runs(path).get(suite, [])


def _all_runs(path: Path) -> dict[str, list[dict[str, float]]]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {
        str(suite): [{str(k): float(v) for k, v in run.items()} for run in recorded]
        for suite, recorded in data.items()
    }


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation."""
    if not samples:
        raise ValueError("no samples")
    if len(samples) == 1:
        return samples[0]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    if q >= 100:
        return max(samples)
    return cuts[int(q) - 1]


def machine() -> str:
    cpus = len(Path("/proc/cpuinfo").read_text().split("processor\t")) - 1
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{platform.system()} {platform.machine()}, {cpus} CPUs, "
        f"{memory_kib / 1024 / 1024:.0f} GiB, Python {platform.python_version()}"
    )
