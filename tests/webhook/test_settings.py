"""The webhook's settings: environment in, validated values out, bad values named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from webhook.__main__ import main
from webhook.core.injection_config import PullPolicy
from webhook.settings import ADMISSION_TIMEOUT_S, Settings

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "registry.example/spot-failover/sidecar:1.2.3"


def test_the_defaults_need_only_the_sidecar_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOT_FAILOVER_WEBHOOK_SIDECAR_IMAGE", IMAGE)
    settings = Settings()
    assert settings.port == 9443
    assert settings.excluded_namespaces == frozenset({"kube-system"})
    assert settings.watch_namespaces == frozenset()
    assert settings.owner_lookup_timeout_s < ADMISSION_TIMEOUT_S
    assert settings.injection_config().image == IMAGE


def test_lists_and_the_sidecars_own_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPOT_FAILOVER_WEBHOOK_SIDECAR_IMAGE", IMAGE)
    monkeypatch.setenv("SPOT_FAILOVER_WEBHOOK_EXCLUDED_NAMESPACES", "kube-system, spot-failover")
    monkeypatch.setenv("SPOT_FAILOVER_WEBHOOK_SIDECAR_IMAGE_PULL_POLICY", "Always")
    monkeypatch.setenv(
        "SPOT_FAILOVER_WEBHOOK_SIDECAR_ENV", '{"SPOT_FAILOVER_FARGATE_LABELS": "a=b,c=d"}'
    )
    settings = Settings()
    assert settings.excluded_namespaces == frozenset({"kube-system", "spot-failover"})
    config = settings.injection_config()
    assert config.image_pull_policy is PullPolicy.ALWAYS
    assert dict(config.extra_env) == {"SPOT_FAILOVER_FARGATE_LABELS": "a=b,c=d"}


def test_the_settings_cannot_be_changed_once_read() -> None:
    settings = Settings(sidecar_image=IMAGE)
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SIDECAR_IMAGE", "sidecar version 2", "is not an image reference"),
        ("SIDECAR_MEMORY_REQUEST", "lots", "is not a Kubernetes quantity"),
        ("SIDECAR_ENV", '{"FOO": "1"}', "is not a sidecar setting"),
        ("SIDECAR_ENV", '{"SPOT_FAILOVER_DEPLOYMENT": "x"}', "the webhook sets it per pod"),
        ("OWNER_LOOKUP_TIMEOUT_S", "10", "less than or equal to 4"),
        ("LOG_LEVEL", "chatty", "is not one of"),
    ],
)
def test_a_bad_value_stops_the_webhook_with_a_message_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv("SPOT_FAILOVER_WEBHOOK_SIDECAR_IMAGE", IMAGE)
    monkeypatch.setenv(f"SPOT_FAILOVER_WEBHOOK_{variable}", value)
    with pytest.raises(SystemExit) as stopped:
        main(["serve"])
    assert stopped.value.code == 2
    stderr = capsys.readouterr().err
    assert f"SPOT_FAILOVER_WEBHOOK_{variable}" in stderr
    assert message in stderr


def test_the_program_exits_2_naming_a_missing_required_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "webhook"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "SPOT_FAILOVER_WEBHOOK_SIDECAR_IMAGE: Field required" in result.stderr
