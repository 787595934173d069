"""The owner cache: what admission can answer from memory, and when it must look up."""

from __future__ import annotations

from typing import Any

import pytest

from spot_common import contract
from webhook.core.owners import DeploymentFacts, Miss, OwnerCache, deployment_facts, label_selector
from webhook.core.selection import ControllerRef, DeploymentOwner, NoController, OtherOwner

NS = "shop"


def replicaset(name: str, owner: dict[str, Any] | None, uid: str = "rs-uid") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS, "uid": uid}
    if owner is not None:
        meta["ownerReferences"] = [{**owner, "controller": True}]
    return {"metadata": meta}


def deployment(name: str, annotations: dict[str, str], uid: str = "d-uid") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "uid": uid, "annotations": annotations},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"spec": {"serviceAccountName": "web"}},
        },
    }


DEPLOYMENT_REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d-uid"}
REF = ControllerRef("apps/v1", "ReplicaSet", "web-1", "rs-uid")


@pytest.fixture
def cache() -> OwnerCache:
    cache = OwnerCache()
    cache.replicaset_event(None, replicaset("web-1", DEPLOYMENT_REF))
    cache.deployment_event(None, deployment("web", {contract.ENABLED: "true"}))
    return cache


def test_a_cached_replicaset_and_deployment_answer_without_a_lookup(cache: OwnerCache) -> None:
    assert cache.resolve(NS, REF) == DeploymentOwner("web", {contract.ENABLED: "true"})


def test_an_unseen_replicaset_is_a_miss_naming_it(cache: OwnerCache) -> None:
    assert cache.resolve(NS, ControllerRef("apps/v1", "ReplicaSet", "web-2")) == Miss(NS, "web-2")


def test_a_replicaset_recreated_under_the_same_name_is_a_miss(cache: OwnerCache) -> None:
    stale = ControllerRef("apps/v1", "ReplicaSet", "web-1", "another-uid")
    assert isinstance(cache.resolve(NS, stale), Miss)


def test_a_replicaset_whose_deployment_is_not_cached_names_the_deployment(
    cache: OwnerCache,
) -> None:
    cache.deployment_event("DELETED", deployment("web", {}))
    assert cache.resolve(NS, REF) == Miss(NS, "web-1", "web")


def test_replicasets_without_a_deployment_say_what_owns_them(cache: OwnerCache) -> None:
    cache.replicaset_event(None, replicaset("bare", None))
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "r", "uid": "x"}
    cache.replicaset_event(None, replicaset("argo", rollout))
    assert cache.resolve(NS, ControllerRef("apps/v1", "ReplicaSet", "bare")) == NoController()
    owner = cache.resolve(NS, ControllerRef("apps/v1", "ReplicaSet", "argo"))
    assert owner == OtherOwner("Rollout", "r")


def test_only_the_annotations_admission_reads_are_kept() -> None:
    facts = deployment_facts(
        deployment("web", {contract.ENABLED: "true", contract.HISTORY: "[" + "x" * 10_000 + "]"})
    )
    assert dict(facts.annotations) == {contract.ENABLED: "true"}
    assert facts.service_account == "web"
    assert facts.selector == "app=web"


def test_a_deployment_being_deleted_is_not_opted_in() -> None:
    body = deployment("web", {contract.ENABLED: "true"})
    body["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not deployment_facts(body).opted_in


def test_a_deployment_without_an_account_runs_as_default() -> None:
    body = deployment("web", {})
    del body["spec"]["template"]["spec"]["serviceAccountName"]
    assert deployment_facts(body).service_account == "default"


def test_a_selector_becomes_the_string_the_list_api_takes() -> None:
    selector = {
        "matchLabels": {"app": "web", "tier": "front"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "beta"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "NotIn", "values": ["a"]},
            {"key": "team", "operator": "Exists"},
        ],
    }
    assert label_selector(selector) == (
        "app=web,tier=front,env in (beta,prod),!canary,zone notin (a),team"
    )


def test_the_cache_only_watches_the_namespaces_it_was_given() -> None:
    cache = OwnerCache(frozenset({"shop"}))
    assert cache.watches("shop")
    assert not cache.watches("other")
    assert OwnerCache().watches("anything")


def test_deployments_lists_a_snapshot(cache: OwnerCache) -> None:
    snapshot = cache.deployments()
    cache.deployment_event(None, deployment("api", {}))
    assert [facts.name for facts in snapshot] == ["web"]
    assert isinstance(next(iter(cache.deployments())), DeploymentFacts)
