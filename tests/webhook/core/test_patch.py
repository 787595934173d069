"""The JSON patch sent back to the API server (the webhook's derivation), the tests' derivation
of it from whole pods, and the test applier that checks it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from spot_common import contract
from webhook.core.patch import derive

from . import applier
from .patch import json_patch


def test_equal_documents_give_an_empty_patch() -> None:
    assert json_patch({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]}) == []


def test_a_slash_in_an_annotation_key_is_escaped_as_tilde_one() -> None:
    before = {"metadata": {"annotations": {"a": "1"}}}
    after = {"metadata": {"annotations": {"a": "1", contract.INJECTED: "0.1.0"}}}
    assert json_patch(before, after) == [
        {"op": "add", "path": "/metadata/annotations/spot-failover~1injected", "value": "0.1.0"}
    ]


def test_a_tilde_in_a_key_is_escaped_as_tilde_zero() -> None:
    before: dict[str, Any] = {"metadata": {"annotations": {}}}
    after = {"metadata": {"annotations": {"x~1/y": "v"}}}
    patch = json_patch(before, after)
    assert patch == [{"op": "add", "path": "/metadata/annotations/x~01~1y", "value": "v"}]
    assert applier.apply(before, patch) == after


def test_a_missing_annotations_parent_is_added_whole() -> None:
    before: dict[str, Any] = {"metadata": {"name": "p"}}
    after = {"metadata": {"name": "p", "annotations": {contract.INJECTED: "1"}}}
    assert json_patch(before, after) == [
        {"op": "add", "path": "/metadata/annotations", "value": {contract.INJECTED: "1"}}
    ]


def test_a_missing_init_containers_list_is_added_whole() -> None:
    before: dict[str, Any] = {"spec": {"containers": [{"name": "app"}]}}
    after = {"spec": {"containers": [{"name": "app"}], "initContainers": [{"name": "s"}]}}
    assert json_patch(before, after) == [
        {"op": "add", "path": "/spec/initContainers", "value": [{"name": "s"}]}
    ]


def test_an_element_inserted_first_is_one_add_at_index_zero() -> None:
    before = {"spec": {"initContainers": [{"name": "a"}, {"name": "b"}]}}
    after = {"spec": {"initContainers": [{"name": "s"}, {"name": "a"}, {"name": "b"}]}}
    assert json_patch(before, after) == [
        {"op": "add", "path": "/spec/initContainers/0", "value": {"name": "s"}}
    ]


def test_the_patch_shares_nothing_with_its_inputs() -> None:
    before: dict[str, Any] = {"spec": {}}
    after = {"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}
    patch = json_patch(before, after)
    after["spec"]["volumes"][0]["name"] = "edited"
    assert patch[0]["value"] == [{"name": "v", "emptyDir": {}}]


def test_json_patch_does_not_mutate_its_inputs() -> None:
    before = {"a": [1, 2], "b": {"c": 1}}
    after = {"a": [0, 1, 2], "d": None}
    saved = copy.deepcopy((before, after))
    json_patch(before, after)
    assert (before, after) == saved


# --- The independent applier the property tests rely on -------------------------------------

RFC_6902_EXAMPLES = [
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"baz": "qux", "foo": "bar"},
        id="adding an object member",
    ),
    pytest.param(
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
        id="adding an array element",
    ),
    pytest.param(
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": "x"}],
        {"foo": ["bar", "x"]},
        id="appending with a dash",
    ),
    pytest.param(
        {"baz": "qux", "foo": "bar"},
        [{"op": "remove", "path": "/baz"}],
        {"foo": "bar"},
        id="removing an object member",
    ),
    pytest.param(
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
        id="replacing a value",
    ),
    pytest.param(
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        id="moving a value",
    ),
    pytest.param(
        {"a/b": 1, "m~n": 2},
        [{"op": "copy", "from": "/a~1b", "path": "/m~0n"}],
        {"a/b": 1, "m~n": 1},
        id="copying between escaped keys",
    ),
]


@pytest.mark.parametrize(("document", "patch", "expected"), RFC_6902_EXAMPLES)
def test_the_test_applier_follows_the_rfc_examples(
    document: Any, patch: list[dict[str, Any]], expected: Any
) -> None:
    assert applier.apply(document, patch) == expected


@pytest.mark.parametrize(
    "patch",
    [
        [{"op": "add", "path": "/missing/child", "value": 1}],
        [{"op": "remove", "path": "/nothing"}],
        [{"op": "replace", "path": "/nothing", "value": 1}],
        [{"op": "add", "path": "/list/5", "value": 1}],
        [{"op": "add", "path": "/list/01", "value": 1}],
        [{"op": "test", "path": "/list/0", "value": 2}],
        [{"op": "add", "path": "no-slash", "value": 1}],
    ],
)
def test_the_test_applier_refuses_what_does_not_apply(patch: list[dict[str, Any]]) -> None:
    with pytest.raises((applier.PatchConflictError, KeyError)):
        applier.apply({"list": [1]}, patch)


# --- The webhook's derivation ----------------------------------------------------------------


def injected_copy(pod: dict[str, Any]) -> dict[str, Any]:
    """``pod`` as injection makes it: an annotation and a native sidecar added."""
    after = copy.deepcopy(pod)
    after["metadata"].setdefault("annotations", {})[contract.INJECTED] = "0.1.0"
    after["spec"]["initContainers"] = [{"name": contract.SIDECAR_CONTAINER, "image": "s:1"}]
    after["spec"]["volumes"] = [*after["spec"].get("volumes", []), {"name": "token"}]
    return after


def test_the_webhook_derives_the_patch_of_the_whole_pods() -> None:
    before: dict[str, Any] = {
        "apiVersion": "v1",
        "metadata": {"name": "p", "labels": {"app": "p"}, "annotations": {"a": "1"}},
        "spec": {"containers": [{"name": "app"}], "volumes": [{"name": "data"}], "os": {}},
    }
    after = injected_copy(before)
    assert derive(before, after) == json_patch(before, after)
    assert applier.apply(before, derive(before, after)) == after


def test_only_what_injection_can_change_is_compared() -> None:
    before: dict[str, Any] = {"metadata": {"name": "p"}, "spec": {"containers": []}}
    after = injected_copy(before)
    after["metadata"]["name"] = "changed"
    after["spec"]["hostNetwork"] = True
    after["status"] = {}
    assert [op["path"] for op in derive(before, after)] == [
        "/metadata/annotations",
        "/spec/initContainers",
        "/spec/volumes",
    ]


def test_a_metadata_that_is_not_an_object_is_replaced_whole() -> None:
    before: dict[str, Any] = {"metadata": "x", "spec": {}}
    after = {"metadata": {"annotations": {contract.INJECTED: "1"}}, "spec": {}}
    assert derive(before, after) == json_patch(before, after)


def test_equal_pods_give_an_empty_derived_patch() -> None:
    pod = {"metadata": {"annotations": {"a": "1"}}, "spec": {"containers": [{"name": "a"}]}}
    assert derive(pod, copy.deepcopy(pod)) == []


def test_a_list_item_is_compared_whole_so_a_changed_one_is_replaced_whole() -> None:
    before: dict[str, Any] = {"spec": {"volumes": [{"name": "a", "emptyDir": {}}]}}
    after = {"spec": {"volumes": [{"name": "a", "emptyDir": {"medium": "Memory"}}]}}
    assert derive(before, after) == [
        {"op": "replace", "path": "/spec/volumes/0", "value": after["spec"]["volumes"][0]}
    ]
