"""Whatever the annotations hold, the status reader and every renderer give output.

A person runs ``status`` most of all when something is odd, so no value of any annotation —
text, JSON of any shape, near-misses of real values — may make the command raise. The table
keeps one line per Deployment, and the JSON document stays valid JSON.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.core.times import format_time
from spot_common import contract
from spot_common.contract import State
from spot_failover import render, status
from spot_failover.status import KNOWN_KEYS
from tests.cli.builders import NOW, entry, moved, notice

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
real_entry = entry(State.WATCHING, State.MIGRATING, NOW).to_json()
near_misses = st.sampled_from(
    [
        *(str(s) for s in State),
        "spot",
        "fargate",
        "true",
        "True",
        "never",
        "10m",
        "99999999999999999999h",
        format_time(NOW),
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        notice().to_json(),
    ]
)
mutated_entries = st.builds(
    lambda key, value: json.dumps([real_entry | {key: value}]),
    st.sampled_from(sorted(real_entry)),
    json_values,
)
mutated_notices = st.builds(
    lambda key, value: json.dumps(json.loads(notice().to_json()) | {key: value}),
    st.sampled_from(["node", "source", "kind", "action", "time"]),
    json_values,
)
values = (
    st.text()
    | json_values.map(lambda v: json.dumps(v, allow_nan=True))
    | near_misses
    | mutated_entries
    | mutated_notices
)
keys = st.sampled_from(sorted(KNOWN_KEYS)) | st.text(max_size=12).map(contract.PREFIX.__add__)
annotation_maps = st.dictionaries(keys, values, max_size=10)


def deployments_with(annotations: dict[str, str]) -> dict[str, Any]:
    body = moved(State.ON_FARGATE, since=NOW - timedelta(minutes=5))
    body["metadata"]["annotations"].update(annotations)
    return body


def every_output(bodies: list[Any]) -> list[str]:
    listed = render.read_listed(bodies)
    outputs = [
        render.status_table(bodies, now=NOW, wide=wide, all_namespaces=every)
        for wide in (False, True)
        for every in (False, True)
    ]
    outputs.append(render.status_json(listed, now=NOW))
    for body in bodies:
        read = status.read(body)
        outputs += [render.explain_text(read, now=NOW), render.explain_json(read, now=NOW)]
    return outputs


@settings(max_examples=300, deadline=None)
@given(annotation_maps)
def test_any_annotation_values_give_output_and_never_raise(annotations: dict[str, str]) -> None:
    body = deployments_with(annotations)

    outputs = every_output([body])

    assert all(isinstance(output, str) and output for output in outputs)
    table = render.status_table([body], now=NOW)
    assert len(table.splitlines()) == 2
    (item,) = json.loads(render.status_json(render.read_listed([body]), now=NOW))["items"]
    assert item["annotations"] == {
        k: v for k, v in body["metadata"]["annotations"].items() if k.startswith(contract.PREFIX)
    }


@settings(max_examples=200, deadline=None)
@given(annotation_maps)
def test_a_value_that_cannot_be_read_is_shown_as_a_problem_naming_its_annotation(
    annotations: dict[str, str],
) -> None:
    read = status.read(deployments_with(annotations))

    for problem in read.problems:
        assert problem.annotation in problem.message
    if read.state is None:
        assert read.unreadable(contract.STATE)


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, max_size=4))
def test_bodies_of_any_json_shape_give_output_and_never_raise(bodies: list[Any]) -> None:
    every_output(bodies)


@settings(max_examples=200, deadline=None)
@given(json_values, json_values)
def test_metadata_and_annotations_of_any_json_shape_never_raise(
    metadata: Any, annotations: Any
) -> None:
    bodies = [{"metadata": metadata}, {"metadata": {"name": "web", "annotations": annotations}}]

    every_output(bodies)
