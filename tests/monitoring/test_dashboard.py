"""The Grafana dashboard of deploy/monitoring: valid JSON whose queries read only metrics the
programs really export, and every exported family shown somewhere."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.monitoring.exported import PROMETHEUS_OWN, exported_names

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "monitoring" / "dashboard.json"
METRIC = re.compile(r"\b(spot_failover_[a-z0-9_]+|up)\b(?!\s*\()")
SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum")


def expressions() -> Iterator[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield str(target["expr"])


def family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_every_query_reads_only_metrics_the_programs_export() -> None:
    used = {name for expr in expressions() for name in METRIC.findall(expr)}

    assert used
    assert used - exported_names() - PROMETHEUS_OWN == set()


def test_every_metric_family_the_programs_export_is_on_the_dashboard() -> None:
    used = {family(name) for expr in expressions() for name in METRIC.findall(expr)}
    exported = {family(name) for name in exported_names()}

    assert exported - used == set()


def test_the_dashboard_has_a_data_source_variable_and_unique_panel_ids() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]

    assert len(ids) == len(set(ids))
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    assert dashboard["uid"] == "spot-failover"


def test_the_kustomization_ships_the_dashboard_to_grafanas_sidecar() -> None:
    kustomization = yaml.safe_load((DASHBOARD.parent / "kustomization.yaml").read_text())
    (generator,) = kustomization["configMapGenerator"]

    assert generator["files"] == [f"spot-failover.json={DASHBOARD.name}"]
    assert generator["options"]["labels"] == {"grafana_dashboard": "1"}
