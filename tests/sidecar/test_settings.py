"""Configuration validation robustness: any environment either gives valid settings or an
error that names the variable."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sidecar.core.durations import NEVER
from sidecar.settings import Settings
from sidecar.warden_settings import WardenSettings

IDENTITY = {
    "SPOT_FAILOVER_POD_NAME": "web-1",
    "SPOT_FAILOVER_NAMESPACE": "shop",
    "SPOT_FAILOVER_NODE_NAME": "ip-10-0-0-1",
    "SPOT_FAILOVER_DEPLOYMENT": "web",
}

NUMERIC = [
    "SPOT_FAILOVER_POLL_INTERVAL_S",
    "SPOT_FAILOVER_IMDS_TIMEOUT_S",
    "SPOT_FAILOVER_IMDS_RETRIES",
    "SPOT_FAILOVER_IMDS_TOKEN_TTL_S",
    "SPOT_FAILOVER_LEASE_DURATION_S",
    "SPOT_FAILOVER_ROLLOUT_TIMEOUT_S",
    "SPOT_FAILOVER_METRICS_PORT",
    "SPOT_FAILOVER_FAILBACK_AFTER_S",
]


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key, value in {**IDENTITY, **env}.items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_the_identity_alone_gives_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch)

    assert settings.poll_interval_s == 2.0
    assert settings.fargate_labels == {"spot-failover/fargate": "true"}
    assert settings.policy().failback_after == timedelta(minutes=30)


def test_never_disables_failback(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, SPOT_FAILOVER_FAILBACK_AFTER_S="never")

    assert settings.policy().failback_after is NEVER


def test_label_lists_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, SPOT_FAILOVER_FARGATE_LABELS="compute=fargate, team=web")

    assert settings.fargate_labels == {"compute": "fargate", "team": "web"}


def test_a_missing_identity_variable_stops_the_program_naming_it() -> None:
    env = {k: v for k, v in IDENTITY.items() if k != "SPOT_FAILOVER_NODE_NAME"}
    result = subprocess.run(
        [sys.executable, "-m", "sidecar"],
        env={**env, "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert "SPOT_FAILOVER_NODE_NAME" in result.stderr


@given(variable=st.sampled_from(NUMERIC), value=st.text(max_size=12))
def test_any_value_is_either_accepted_or_refused_naming_the_variable(
    variable: str, value: str
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        try:
            settings = _settings(monkeypatch, **{variable: value.replace("\x00", "")})
        except ValidationError as error:
            refused = {str(e["loc"][0]) for e in error.errors()}
        else:
            refused = set()
            assert settings.poll_interval_s > 0
            assert settings.imds_retries >= 1
            assert 0 <= settings.metrics_port <= 65535
    assert refused <= {variable.removeprefix("SPOT_FAILOVER_").lower()}


# --- the warden -------------------------------------------------------------------------------


def _warden(*env: tuple[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sidecar", "--warden"],
        env={**dict(env), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_the_warden_without_its_pod_name_stops_naming_the_variable() -> None:
    result = _warden()

    assert result.returncode == 2
    assert "SPOT_FAILOVER_WARDEN_POD_NAME" in result.stderr


def test_the_warden_refuses_a_move_setting_the_sidecars_would_refuse() -> None:
    result = _warden(
        ("SPOT_FAILOVER_WARDEN_POD_NAME", "spot-failover-warden-6c5d8-x7k2p"),
        ("SPOT_FAILOVER_LEASE_DURATION_S", "600"),
    )

    assert result.returncode == 2
    assert "SPOT_FAILOVER_LEASE_DURATION_S" in result.stderr


def test_the_warden_outside_a_pod_says_it_has_no_credentials() -> None:
    result = _warden(("SPOT_FAILOVER_WARDEN_POD_NAME", "spot-failover-warden-6c5d8-x7k2p"))

    assert result.returncode == 2
    assert "KUBERNETES_SERVICE_HOST" in result.stderr


def test_the_warden_follows_the_namespaces_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOT_FAILOVER_WARDEN_POD_NAME", "spot-failover-warden-6c5d8-x7k2p")
    monkeypatch.setenv("SPOT_FAILOVER_WARDEN_NAMESPACES", "shop, batch,")

    assert WardenSettings().namespaces == {"shop", "batch"}
    monkeypatch.delenv("SPOT_FAILOVER_WARDEN_NAMESPACES")
    assert WardenSettings().namespaces == frozenset()
