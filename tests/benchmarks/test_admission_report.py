"""The admission section shows the latest figures and the headline figures of the last runs."""

from __future__ import annotations

from pathlib import Path

from benchmarks import admission_report, results


def run(at: float, p99: float, cpu: float) -> dict[str, float]:
    return {"at": at, "admission_p99_ms": p99, "admission_webhook_cpu_ms_per_request": cpu}


def test_each_recorded_run_gets_a_row_oldest_first() -> None:
    runs = [run(1_767_225_600, 8.5, 0.91), run(1_767_229_200, 9.25, 0.97)]

    text = "\n".join(admission_report.section({"admission_p99_ms": 9.25}, runs))

    assert "| `admission_p99_ms` | 9.25 ms | ≤ 10 ms |" in text
    assert "The last 2 runs of the suite, oldest first" in text
    first, second = text.index("| 2026-01-01 00:00 |"), text.index("| 2026-01-01 01:00 |")
    assert first < second
    assert "| 2026-01-01 00:00 |  | 8.5 |  | 0.91 |" in text


def test_without_recorded_runs_the_section_says_so() -> None:
    text = "\n".join(admission_report.section({}, []))

    assert "No run of the admission suite has been recorded yet." in text
    assert "| `admission_webhook_cpu_ms_per_request` | not measured | ≤ 1.0 ms |" in text


def test_only_the_newest_runs_are_kept_per_suite(tmp_path: Path) -> None:
    path = tmp_path / "runs.json"
    for at in range(5):
        results.record_run("admission", {"admission_p99_ms": at + 0.1234}, at=at, path=path)
    results.record_run("other", {"x": 1.0}, at=9, path=path)

    kept = results.runs("admission", path)

    assert [r["at"] for r in kept] == [2, 3, 4]
    assert kept[-1]["admission_p99_ms"] == 4.123
    assert results.runs("other", path) == [{"at": 9, "x": 1.0}]
    assert results.runs("never-run", path) == []
