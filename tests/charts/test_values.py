"""The chart's values mirror the programs' settings: every one, with the programs' defaults and
bounds, and a value given to the chart reaches the program as the program reads it."""

from __future__ import annotations

import json
from typing import Any, Final

import pytest
from pydantic_settings import BaseSettings

from sidecar.settings import Settings as SidecarSettings
from sidecar.warden_settings import WardenSettings, move_settings
from spot_common import contract
from webhook.settings import Settings as WebhookSettings

from .helm import CHART, container_env, find, render, render_refused, values_file

WIRED_BY_THE_CHART: Final = frozenset(
    {"listen_address", "port", "health_port", "tls_cert_file", "tls_key_file", "kubeconfig"}
)
"""Webhook settings the chart sets itself: they must agree with its Deployment and Secret."""
SIDECAR_VALUES: Final = {
    "sidecar_image": "sidecar.image",
    "sidecar_image_pull_policy": "sidecar.image.pullPolicy",
    "sidecar_version": "sidecar.version",
    "sidecar_native": "sidecar.native",
    "sidecar_cpu_request": "sidecar.resources.requests.cpu",
    "sidecar_memory_request": "sidecar.resources.requests.memory",
    "sidecar_cpu_limit": "sidecar.resources.limits.cpu",
    "sidecar_memory_limit": "sidecar.resources.limits.memory",
    "sidecar_metrics_port": "sidecar.metricsPort",
    "sidecar_env": "sidecar.settings and sidecar.extraEnv",
}
"""Webhook settings about the injected sidecar, and the values that set them."""
INJECTED_BY_THE_WEBHOOK: Final = frozenset(
    {"pod_name", "namespace", "node_name", "deployment", "api_credentials_dir", "metrics_port"}
)
"""Sidecar settings the webhook sets per pod (identity, the mounted token, the metrics port)."""

WEBHOOK_GIVEN: Final[dict[str, object]] = {
    "excluded_namespaces": ["kube-system", "batch"],
    "watch_namespaces": ["shop", "batch"],
    "owner_lookup_timeout_s": 2.5,
    "manage_rbac": False,
    "resync_interval_s": 1_000_000,
    "report_interval_s": 30,
    "tls_reload_interval_s": 0.5,
    "log_level": "DEBUG",
}
SIDECAR_GIVEN: Final[dict[str, object]] = {
    "imds_url": "http://imds.example:1338",
    "imds_enabled": False,
    "poll_interval_s": 1,
    "imds_timeout_s": 0.25,
    "imds_retries": 4,
    "imds_token_ttl_s": 900,
    "imds_allow_v1": True,
    "rebalance_trigger": True,
    "disruption_trigger": True,
    "node_source": False,
    "node_interruption_taints": ["example.com/going", "karpenter.sh/disrupted"],
    "node_disruption_taints": ["example.com/leaving"],
    "node_events": False,
    "lease_duration_s": 20,
    "lease_renew_s": 1.5,
    "fargate_labels": {"team": "web", "compute": "fargate"},
    "fargate_profile": "shop",
    "rollout_timeout_s": 600,
    "health_retries": 2,
    "health_timeout_s": 3,
    "failback_after_s": "never",
    "failback_add_ec2_annotation": True,
    "spot_capacity_labels": {"karpenter.sh/capacity-type": "spot"},
    "dry_run": True,
    "log_level": "WARNING",
}
IDENTITY: Final = {"pod_name": "web-1", "namespace": "shop", "node_name": "n", "deployment": "web"}


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return loaded


def schema_of(*path: str) -> dict[str, Any]:
    node = schema()
    for name in path:
        node = node["properties"][name]
    return node


def program_default(model: type[BaseSettings], field: str) -> object:
    value = model.model_fields[field].get_default(call_default_factory=True)
    return sorted(value) if isinstance(value, frozenset) else value


def program_bounds(model: type[BaseSettings], field: str) -> dict[str, object]:
    """minimum/maximum/exclusiveMinimum the program puts on ``field``, from its JSON schema."""
    prop = model.model_json_schema()["properties"][field]
    alternatives = prop.get("anyOf", [prop])
    keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    return {k: v for alt in alternatives for k, v in alt.items() if k in keys}


def chart_bounds(prop: dict[str, Any]) -> dict[str, object]:
    alternatives = prop.get("anyOf", [prop])
    keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    return {k: v for alt in alternatives for k, v in alt.items() if k in keys}


def rendered_webhook_env(values: dict[str, object]) -> dict[str, str]:
    return container_env(find(render(values), "Deployment", "spot-failover-webhook"))


# --- every setting has its value --------------------------------------------------------------


def test_every_webhook_setting_is_a_value_or_set_by_the_chart() -> None:
    values = set(values_file()["webhook"]["settings"])

    assert values | WIRED_BY_THE_CHART | set(SIDECAR_VALUES) == set(WebhookSettings.model_fields)
    assert not values & (WIRED_BY_THE_CHART | set(SIDECAR_VALUES))


def test_every_sidecar_setting_is_a_value_or_injected_by_the_webhook() -> None:
    values = set(values_file()["sidecar"]["settings"])

    assert values | INJECTED_BY_THE_WEBHOOK == set(SidecarSettings.model_fields)
    assert not values & INJECTED_BY_THE_WEBHOOK


@pytest.mark.parametrize(
    ("model", "section"),
    [(WebhookSettings, "webhook"), (SidecarSettings, "sidecar")],
    ids=["webhook", "sidecar"],
)
def test_the_schema_gives_each_setting_the_programs_default_and_bounds(
    model: type[BaseSettings], section: str
) -> None:
    properties = schema_of(section, "settings")["properties"]

    assert set(properties) == set(values_file()[section]["settings"])
    for field, prop in properties.items():
        default = prop["default"]
        expected = program_default(model, field)
        assert (sorted(default) if isinstance(default, list) else default) == expected, field
        assert chart_bounds(prop) == program_bounds(model, field), field
        assert prop["description"], field


def test_the_schema_gives_the_sidecar_resources_the_webhooks_defaults() -> None:
    defaults = WebhookSettings(sidecar_image="registry.example/sidecar:1")
    resources = schema_of("sidecar", "resources")["properties"]

    assert resources["requests"]["properties"]["cpu"]["default"] == defaults.sidecar_cpu_request
    assert resources["requests"]["properties"]["memory"]["default"] == (
        defaults.sidecar_memory_request
    )
    assert resources["limits"]["properties"]["cpu"]["default"] == defaults.sidecar_cpu_limit
    assert resources["limits"]["properties"]["memory"]["default"] == (defaults.sidecar_memory_limit)
    assert schema_of("sidecar", "metricsPort")["default"] == defaults.sidecar_metrics_port
    assert schema_of("sidecar", "native")["default"] == defaults.sidecar_native


def test_every_setting_is_documented_in_values_yaml() -> None:
    text = (CHART / "values.yaml").read_text().splitlines()
    for section in ("webhook", "sidecar"):
        for field in values_file()[section]["settings"]:
            (line,) = [i for i, row in enumerate(text) if row.strip().startswith(f"{field}:")][:1]
            assert text[line - 1].strip().startswith("#"), f"{section}.settings.{field}"


# --- values reach the programs ----------------------------------------------------------------


def test_left_alone_the_settings_add_nothing_to_the_environment_deploy_gives_the_webhook() -> None:
    env = rendered_webhook_env({})

    assert env == {
        "SPOT_FAILOVER_WEBHOOK_SIDECAR_IMAGE": "spot-failover-sidecar:0.1.0",
        "SPOT_FAILOVER_WEBHOOK_EXCLUDED_NAMESPACES": "kube-system,spot-failover",
    }


def test_webhook_settings_given_to_the_chart_are_what_the_webhook_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = rendered_webhook_env({f"webhook.settings.{k}": v for k, v in WEBHOOK_GIVEN.items()})
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    settings = WebhookSettings()

    for field, given in WEBHOOK_GIVEN.items():
        read = getattr(settings, field)
        if field == "excluded_namespaces":
            assert read == {*given, "spot-failover"}  # type: ignore[misc]
        elif isinstance(given, list):
            assert read == set(given), field
        else:
            assert read == given, field


def test_sidecar_values_given_to_the_chart_are_what_the_webhook_injects_and_the_sidecar_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = rendered_webhook_env(
        {
            **{f"sidecar.settings.{k}": v for k, v in SIDECAR_GIVEN.items()},
            "sidecar.image.pullPolicy": "Always",
            "sidecar.version": "0.1.0-rc1",
            "sidecar.native": False,
            "sidecar.resources.requests.cpu": "20m",
            "sidecar.resources.requests.memory": "64Mi",
            "sidecar.resources.limits.cpu": "1",
            "sidecar.resources.limits.memory": "256Mi",
            "sidecar.metricsPort": 9100,
            "sidecar.extraEnv": {"SPOT_FAILOVER_EXAMPLE": "yes"},
        }
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    webhook = WebhookSettings()
    config = webhook.injection_config()

    assert (config.image_pull_policy, config.version, config.native_sidecar) == (
        "Always",
        "0.1.0-rc1",
        False,
    )
    assert (config.resources.cpu_request, config.resources.memory_request) == ("20m", "64Mi")
    assert (config.resources.cpu_limit, config.resources.memory_limit) == ("1", "256Mi")
    assert config.metrics_port == 9100
    assert config.extra_env["SPOT_FAILOVER_EXAMPLE"] == "yes"
    for name, value in config.extra_env.items():
        monkeypatch.setenv(name, value)
    for field, value in IDENTITY.items():
        monkeypatch.setenv(contract.ENV_PREFIX + field.upper(), value)
    sidecar = SidecarSettings()
    for field, given in SIDECAR_GIVEN.items():
        read = getattr(sidecar, field)
        if field == "failback_after_s":
            assert read is None  # "never"
        elif isinstance(given, list):
            assert read == set(given), field
        else:
            assert read == given, field


def test_a_misspelt_setting_is_refused_by_the_schema() -> None:
    assert "poll_interval" in render_refused({"sidecar.settings.poll_interval": 2})


def test_a_setting_out_of_the_programs_bounds_is_refused_by_the_schema() -> None:
    assert "/sidecar/settings/lease_duration_s" in render_refused(
        {"sidecar.settings.lease_duration_s": contract.MAX_LEASE_DURATION_S + 1}
    )


def test_extra_env_may_not_set_a_setting_the_settings_already_set() -> None:
    refusal = render_refused(
        {
            "sidecar.settings.poll_interval_s": 1,
            "sidecar.extraEnv": {"SPOT_FAILOVER_POLL_INTERVAL_S": "3"},
        }
    )

    assert "set it with sidecar.settings.poll_interval_s" in refusal


def test_extra_env_may_not_set_the_fargate_labels_the_admission_policy_must_know() -> None:
    refusal = render_refused({"sidecar.extraEnv": {"SPOT_FAILOVER_FARGATE_LABELS": "team=web"}})

    assert "sidecar.settings.fargate_labels" in refusal


# --- the warden -------------------------------------------------------------------------------


def test_the_warden_reads_the_settings_the_sidecars_are_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = render(
        {
            **{f"sidecar.settings.{k}": v for k, v in SIDECAR_GIVEN.items()},
            "warden.namespaces": ["shop", "batch"],
        }
    )
    warden_env = container_env(find(objects, "Deployment", "spot-failover-warden"))
    webhook = container_env(find(objects, "Deployment", "spot-failover-webhook"))
    for name, value in webhook.items():
        monkeypatch.setenv(name, value)
    sidecar_env = WebhookSettings().injection_config().extra_env

    assert {k: v for k, v in warden_env.items() if k in sidecar_env} == dict(sidecar_env)
    assert warden_env["SPOT_FAILOVER_WARDEN_NAMESPACES"] == "shop,batch"
    for name, value in warden_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SPOT_FAILOVER_WARDEN_POD_NAME", "spot-failover-warden-6c5d8-x7k2p")
    assert WardenSettings().namespaces == {"shop", "batch"}
    moves = move_settings("spot-failover-warden/x", "shop", "web")
    assert moves.rollout_timeout_s == SIDECAR_GIVEN["rollout_timeout_s"]
    assert moves.lease_duration_s == SIDECAR_GIVEN["lease_duration_s"]


def test_with_the_warden_off_none_of_its_objects_is_rendered() -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in render({"warden.enabled": False})}
    everything = {(o["kind"], o["metadata"]["name"]) for o in render()}

    assert {name for _, name in everything - names} == {
        "spot-failover-warden",
        "spot-failover-warden-scope",
        "spot-failover-warden-leases",
        "spot-failover-warden-events",
    }


def test_the_warden_is_known_by_its_account_in_the_release_namespace() -> None:
    objects = render(namespace="elsewhere")
    user = "system:serviceaccount:elsewhere:spot-failover-warden"

    for name in ("spot-failover-warden-scope", "spot-failover-lease-holders"):
        policy = find(objects, "ValidatingAdmissionPolicy", name)
        assert any(user in c["expression"] for c in policy["spec"]["matchConditions"]), name
    (subject,) = find(objects, "ClusterRoleBinding", "spot-failover-warden")["subjects"]
    assert subject["namespace"] == "elsewhere"
