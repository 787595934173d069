"""The README's ignore rules for Argo CD and Flux name exactly the Deployment fields a failover
writes: every annotation spot-failover keeps, the strategy, and the pod template fields a move
owns (the default Fargate label, the profile label, the EC2 annotation, one nodeSelector entry
per EC2 key, the node affinity, the tolerations)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from sidecar.core.fargate import COMPUTE_TYPE_KEY, DEFAULT_EC2_KEYS, FARGATE_PROFILE_LABEL
from sidecar.settings import Settings
from spot_common import contract

README = Path(__file__).resolve().parents[2] / "README.md"


def pointer(*keys: str) -> str:
    """The JSON pointer (RFC 6901) of ``keys``."""
    return "".join("/" + key.replace("~", "~0").replace("/", "~1") for key in keys)


def owned() -> set[str]:
    labels = [*Settings.model_fields["fargate_labels"].get_default(call_default_factory=True)]
    template = ("spec", "template")
    return {
        pointer("spec", "strategy"),
        *(pointer(*template, "metadata", "labels", key) for key in labels),
        pointer(*template, "metadata", "labels", FARGATE_PROFILE_LABEL),
        pointer(*template, "metadata", "annotations", COMPUTE_TYPE_KEY),
        *(pointer(*template, "spec", "nodeSelector", key) for key in DEFAULT_EC2_KEYS),
        pointer(*template, "spec", "affinity", "nodeAffinity"),
        pointer(*template, "spec", "tolerations"),
        *(pointer("metadata", "annotations", key) for key in contract.KEPT_ANNOTATIONS),
    }


def gitops_blocks() -> list[Any]:
    text = README.read_text()
    section = text[text.index("### GitOps and upgrades") : text.index("**Upgrading spot-failover")]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def deployment_rules(document: Any) -> list[dict[str, Any]]:
    """The rules of a block that apply to Deployments (Argo CD's or Flux's form)."""
    rules = document.get("ignoreDifferences") or (document.get("spec") or {}).get("ignore") or []
    return [rule for rule in rules if (rule.get("target") or rule).get("kind") == "Deployment"]


def test_the_argo_cd_rule_for_deployments_names_exactly_the_fields_a_failover_writes() -> None:
    (rule,) = [r for block in gitops_blocks() for r in deployment_rules(block) if "group" in r]
    assert rule["group"] == "apps"
    assert set(rule["jsonPointers"]) == owned()
    assert len(rule["jsonPointers"]) == len(owned()), "each once"


def test_the_flux_rule_for_deployments_names_the_same_fields() -> None:
    (rule,) = [r for block in gitops_blocks() for r in deployment_rules(block) if "paths" in r]
    assert rule["target"]["group"] == "apps"
    assert set(rule["paths"]) == owned()
    assert len(rule["paths"]) == len(owned()), "each once"
