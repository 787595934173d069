"""Fargate profiles: which pods they select, which profile a pod gets."""

from __future__ import annotations

import pytest

from devtools.eks.profiles import FargateProfile, Selector, chosen_profile, manifests

WEB = FargateProfile.one("web", "shop", {"compute": "fargate"})
WILD = FargateProfile("wild", (Selector("team-*"), Selector("shop", {"tier": "w?b"})))


def test_a_pod_must_be_in_the_namespace_and_carry_every_label() -> None:
    assert WEB.selects("shop", {"compute": "fargate", "app": "x"})
    assert not WEB.selects("shop", {"app": "x"})
    assert not WEB.selects("other", {"compute": "fargate"})


def test_namespaces_and_label_values_take_wildcards() -> None:
    assert WILD.selects("team-a", {})
    assert WILD.selects("shop", {"tier": "web"})
    assert not WILD.selects("shop", {"tier": "webs"})
    assert not WILD.selects("teams", {})


def test_the_profile_label_picks_among_matching_profiles() -> None:
    labels = {"compute": "fargate", "tier": "web"}

    assert chosen_profile([WEB, WILD], "shop", labels, {}) == WEB
    assert chosen_profile([WEB, WILD], "shop", {**labels, WEB_LABEL: "wild"}, {}) == WILD
    assert chosen_profile([WEB], "shop", {"tier": "web", WEB_LABEL: "web"}, {}) is None


def test_the_ec2_annotation_keeps_a_pod_off_fargate() -> None:
    kept = {"eks.amazonaws.com/compute-type": "ec2"}

    assert chosen_profile([WEB], "shop", {"compute": "fargate"}, kept) is None


def test_a_profile_has_one_to_five_selectors() -> None:
    with pytest.raises(ValueError, match="1 to 5 selectors"):
        FargateProfile("many", tuple(Selector(f"ns-{i}") for i in range(6)))
    with pytest.raises(ValueError, match="1 to 5 selectors"):
        FargateProfile("none", ())


def test_each_profile_is_one_admission_policy_and_its_binding() -> None:
    policy, binding = manifests(WEB)

    assert policy["kind"] == "MutatingAdmissionPolicy"
    assert policy["metadata"]["name"] == binding["spec"]["policyName"] == "fargate-profile-web"
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["operations"] == ["CREATE"]


WEB_LABEL = "eks.amazonaws.com/fargate-profile"
