"""The view of the pod admission works on: the same decisions, warnings and patch as the whole
pod."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.core.injection import InvalidPodError, inject
from webhook.core.injection_config import InjectionConfig
from webhook.core.patch import derive
from webhook.core.pod_view import view
from webhook.core.selection import (
    DeploymentOwner,
    LookupFailed,
    NoController,
    OtherOwner,
    SelectionConfig,
    decide,
)

from ..reviews import json_values
from .patch import json_patch
from .pods import CONFIG, OPTED_IN, configs, deployment_annotations, deployment_pod, pods

EXAMPLES = settings(max_examples=150, deadline=None)

_unread = st.dictionaries(
    st.sampled_from(["image", "command", "env", "resources", "emptyDir", "projected", "x"]),
    json_values,
    max_size=3,
)


@st.composite
def pods_with_unread_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Generated pods, some for Windows, with fields the webhook never reads added at every level
    the view cuts."""
    pod = draw(pods())
    spec = pod["spec"]
    for key in ("containers", "initContainers", "volumes"):
        for item in spec.get(key, []):
            for name, value in draw(_unread).items():
                item.setdefault(name, value)
    if draw(st.booleans()):
        spec["os"] = {"name": draw(st.sampled_from(["linux", "windows"]))}
    if draw(st.booleans()):
        spec["nodeSelector"] = {"kubernetes.io/os": draw(st.sampled_from(["linux", "windows"]))}
    for name in draw(st.lists(st.sampled_from(["tolerations", "dnsPolicy", "affinity"]))):
        spec[name] = draw(json_values)
    for name in draw(st.lists(st.sampled_from(["finalizers", "managedFields"]))):
        pod["metadata"][name] = draw(json_values)
    if draw(st.booleans()):
        pod["status"] = draw(json_values)
    return pod


@EXAMPLES
@given(pods_with_unread_fields(), deployment_annotations, configs)
def test_the_patch_derived_from_the_view_is_the_one_the_whole_pod_gives(
    pod: dict[str, Any], annotations: Mapping[str, str], config: InjectionConfig
) -> None:
    seen = view(pod)
    from_view = derive(seen, inject(seen, "web", annotations, config).pod)
    assert from_view == json_patch(pod, inject(pod, "web", annotations, config).pod)


@EXAMPLES
@given(pods_with_unread_fields(), deployment_annotations, configs)
def test_injection_warns_the_same_from_the_view(
    pod: dict[str, Any], annotations: Mapping[str, str], config: InjectionConfig
) -> None:
    expected = inject(pod, "web", annotations, config).warnings
    assert inject(view(pod), "web", annotations, config).warnings == expected


OWNERS = [
    DeploymentOwner("web", OPTED_IN),
    DeploymentOwner("web", {}),
    NoController(),
    OtherOwner("StatefulSet", "db"),
    LookupFailed("timeout"),
]


@EXAMPLES
@given(pods_with_unread_fields(), st.sampled_from(OWNERS), st.sampled_from([None, "kube-system"]))
def test_selection_decides_the_same_from_the_view(
    pod: dict[str, Any], owner: Any, namespace: str | None
) -> None:
    config = SelectionConfig()
    expected = decide(pod, owner, config, namespace=namespace)
    assert decide(view(pod), owner, config, namespace=namespace) == expected


@EXAMPLES
@given(pods_with_unread_fields())
def test_making_the_view_changes_nothing_in_the_pod(pod: dict[str, Any]) -> None:
    saved = copy.deepcopy(pod)
    view(pod)
    assert pod == saved


def test_the_view_leaves_out_what_the_webhook_does_not_read() -> None:
    port = {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    pod = deployment_pod(
        tolerations=[{"key": "spot", "operator": "Exists"}],
        volumes=[{"name": "data", "emptyDir": {}}],
        hostNetwork=False,
    )
    metadata = copy.deepcopy(pod["metadata"])
    pod["metadata"]["finalizers"] = ["example.com/keep"]
    pod["status"] = {"phase": "Pending"}
    assert view(pod) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "containers": [{"name": "app", "ports": [port]}],
            "volumes": [{"name": "data"}],
            "hostNetwork": False,
        },
    }


@pytest.mark.parametrize(
    "spec",
    [
        {"containers": {"name": "app"}},
        {"containers": [{"name": "app"}], "volumes": "none"},
        {"initContainers": 3, "containers": []},
    ],
    ids=["containers not a list", "volumes not a list", "init containers a number"],
)
def test_a_spec_injection_refuses_is_refused_from_the_view_too(spec: dict[str, Any]) -> None:
    pod = {"metadata": {"name": "p"}, "spec": spec}
    with pytest.raises(InvalidPodError) as whole:
        inject(pod, "web", {}, CONFIG)
    with pytest.raises(InvalidPodError) as seen:
        inject(view(pod), "web", {}, CONFIG)
    assert str(seen.value) == str(whole.value)


@pytest.mark.parametrize(
    "pod",
    [{}, {"spec": None}, {"spec": []}, {"metadata": "x", "spec": {"containers": [None, 1, "c"]}}],
)
def test_the_view_keeps_what_is_not_shaped_like_a_pod_as_it_came(pod: dict[str, Any]) -> None:
    assert view(pod) == pod


@EXAMPLES
@given(st.dictionaries(st.sampled_from(["metadata", "spec", "kind", "x"]), json_values, max_size=4))
def test_the_view_of_anyjson_values_object_is_made_without_an_error(pod: dict[str, Any]) -> None:
    view(pod)
