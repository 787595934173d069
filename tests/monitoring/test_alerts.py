"""The alerts of deploy/monitoring: valid rules, each one unit-tested by promtool, firing and
not firing, on metrics the programs really export."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.monitoring.exported import PROMETHEUS_OWN, exported_names
from tests.monitoring.promtool import promtool
from webhook.core.injection import METRICS_PORT_NAME

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
TESTS = Path(__file__).with_name("alerts_test.yaml")
METRIC = re.compile(r"\b(spot_failover_[a-z0-9_]+|up)\b(?!\s*\()")


def rule_spec() -> dict[str, Any]:
    rule: dict[str, Any] = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    spec: dict[str, Any] = rule["spec"]
    return spec


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in rule_spec()["groups"] for rule in group["rules"]}


def unit_tests() -> dict[str, Any]:
    tests: dict[str, Any] = yaml.safe_load(TESTS.read_text())
    return tests


@pytest.fixture
def rule_files(tmp_path: Path) -> Path:
    """rules.yaml (the PrometheusRule's groups) beside the tests, descriptions filled in."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_spec()))
    tests = unit_tests()
    described = alerts()
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            description = described[case["alertname"]]["annotations"]["description"]
            for alert in case["exp_alerts"]:
                alert["exp_annotations"].setdefault("description", description)
    (tmp_path / "alerts_test.yaml").write_text(yaml.safe_dump(tests))
    return tmp_path


def test_the_rules_are_valid_for_promtool(rule_files: Path) -> None:
    result = subprocess.run(
        [str(promtool()), "check", "rules", str(rule_files / "rules.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_every_alert_behaves_as_its_unit_tests_say(rule_files: Path) -> None:
    result = subprocess.run(
        [str(promtool()), "test", "rules", "alerts_test.yaml"],
        cwd=rule_files,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("alert", sorted(alerts()))
def test_each_alert_is_tested_both_firing_and_silent(alert: str) -> None:
    cases = [
        case
        for group in unit_tests()["tests"]
        for case in group.get("alert_rule_test", [])
        if case["alertname"] == alert
    ]

    assert any(case["exp_alerts"] for case in cases), f"{alert} is never expected to fire"
    assert any(not case["exp_alerts"] for case in cases), f"{alert} is never expected silent"


@pytest.mark.parametrize("alert", sorted(alerts()))
def test_each_alert_says_how_bad_it_is_and_what_to_do(alert: str) -> None:
    rule = alerts()[alert]

    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"]
    assert "{{" not in rule["annotations"]["description"], "descriptions are static text"


def test_the_alerts_read_only_metrics_the_programs_export() -> None:
    used = {name for rule in alerts().values() for name in METRIC.findall(rule["expr"])}

    assert used - exported_names() - PROMETHEUS_OWN == set()
    assert len(used) >= 7


def test_the_scrape_configuration_matches_the_ports_and_the_job_the_alerts_select() -> None:
    service = yaml.safe_load((ROOT / "deploy" / "base" / "service.yaml").read_text())
    service_monitor = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
    pod_monitor = yaml.safe_load((MONITORING / "podmonitor.yaml").read_text())

    (endpoint,) = service_monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert service_monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items()
    )
    down = alerts()["SpotFailoverWebhookDown"]["expr"]
    assert f'job="{service["metadata"]["name"]}"' in down, "the job label is the Service's name"
    (pod_endpoint,) = pod_monitor["spec"]["podMetricsEndpoints"]
    assert pod_endpoint["port"] == METRICS_PORT_NAME
