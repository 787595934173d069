"""The pods on the interrupted node get the lowest deletion cost, and only ours is taken away."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sidecar.core import doomed
from spot_common import contract

NODE = "ip-10-0-1-17.ec2.internal"


def pod(name: str, node: str | None, cost: str | None = None, deleting: bool = False) -> Any:
    metadata: dict[str, Any] = {"name": name}
    if cost is not None:
        metadata["annotations"] = {contract.POD_DELETION_COST: cost}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-02T15:04:05Z"
    return {"metadata": metadata, "spec": {"nodeName": node} if node else {}}


PODS = [
    pod("on-it", NODE),
    pod("elsewhere", "ip-10-0-2-9.ec2.internal"),
    pod("pending", None),
    pod("going", NODE, deleting=True),
    pod("theirs", NODE, cost="100"),
    pod("ours", NODE, cost=contract.DOOMED_POD_DELETION_COST),
]


def test_the_pods_on_the_node_without_a_cost_are_marked() -> None:
    assert doomed.to_mark(PODS, NODE) == ["on-it"]


def test_only_the_cost_a_move_set_is_cleared() -> None:
    assert doomed.to_clear(PODS, NODE) == ["ours"]


def test_the_doomed_pods_are_those_bound_to_the_node_and_not_already_going() -> None:
    assert [p["metadata"]["name"] for p in doomed.on_node(PODS, NODE)] == [
        "on-it",
        "theirs",
        "ours",
    ]


def test_the_doomed_cost_is_the_lowest_int32() -> None:
    assert int(contract.DOOMED_POD_DELETION_COST) == -(2**31)


@given(st.lists(st.sampled_from(PODS)))
def test_marking_then_clearing_touches_the_same_pods(pods: list[Any]) -> None:
    marked = set(doomed.to_mark(pods, NODE))
    after = [
        pod(p["metadata"]["name"], NODE, contract.DOOMED_POD_DELETION_COST)
        if p["metadata"]["name"] in marked
        else p
        for p in pods
    ]
    assert marked <= set(doomed.to_clear(after, NODE))
    assert "theirs" not in doomed.to_clear(after, NODE)
