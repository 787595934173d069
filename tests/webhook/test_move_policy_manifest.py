"""The shipped policies speak the contract's names for what a move may change."""

from __future__ import annotations

import re
from typing import Any

from spot_common import contract

from .manifests import find, render


def variable(policy: dict[str, Any], name: str) -> str:
    (found,) = [v for v in policy["spec"]["variables"] if v["name"] == name]
    return str(found["expression"])


def quoted(expression: str) -> str:
    (value,) = re.findall(r"'([^']+)'", expression)
    return str(value)


def test_the_deployment_policy_knows_the_moves_strategy_and_where_it_is_saved() -> None:
    policy = find(render(), "ValidatingAdmissionPolicy", "spot-failover-sidecar-scope")
    assert quoted(variable(policy, "moveStrategy")) == contract.MOVE_STRATEGY
    assert contract.SAVED_STRATEGY in variable(policy, "oldSavedStrategy")
    assert contract.SAVED_STRATEGY in variable(policy, "newSavedStrategy")


def test_the_pod_policy_allows_the_contracts_deletion_cost_to_the_contracts_sidecars() -> None:
    policy = find(render(), "ValidatingAdmissionPolicy", "spot-failover-sidecar-pods")
    assert quoted(variable(policy, "key")) == contract.POD_DELETION_COST
    assert quoted(variable(policy, "doomed")) == contract.DOOMED_POD_DELETION_COST
    (identity,) = [c for c in policy["spec"]["matchConditions"] if c["name"] == "sidecar-identity"]
    marker = contract.SIDECAR_MARKER_RULE
    for field in ("apiGroups", "resources", "verbs"):
        names = marker[field]
        assert isinstance(names, list)
        assert len(names) == 1
        assert f"'{names[0]}'" in identity["expression"]
    binding = find(render(), "ValidatingAdmissionPolicyBinding", "spot-failover-sidecar-pods")
    assert binding["spec"]["validationActions"] == ["Deny"]


def test_the_webhook_may_not_use_the_pod_patch_it_holds_to_grant() -> None:
    policy = find(render(), "ValidatingAdmissionPolicy", "spot-failover-webhook-never-writes")
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert {
        "apiGroups": [""],
        "apiVersions": ["*"],
        "resources": ["pods"],
        "operations": ["UPDATE"],
    } in rules
